// SQL fragments shared by the fingerprint queries. Sessions run with search_path = pg_catalog, so
// catalog names need no qualification and user objects always print qualified.

import { quoteIdent } from '../../pg/sql.js'

export { isUserSchema, quoteIdent } from '../../pg/sql.js'

export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`
}

/**
 * `schema.name` for people: quoted only where a name needs it, like format('%I.%I') in the
 * inventory, except that keywords (`order`) stay bare here.
 */
export function displayName(schema: string, name: string): string {
  const show = (part: string): string => (/^[a-z_][a-z0-9_$]*$/.test(part) ? part : quoteIdent(part))
  return `${show(schema)}.${show(name)}`
}

/**
 * Not created by an extension: CREATE EXTENSION recreates those on the target, at the target's
 * extension version, so they are the extension's business, not the dump's.
 */
export function isNotExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = '${catalog}'::regclass
    AND d.objid = ${oid} AND d.deptype = 'e')`
}

/**
 * A 64-bit hash of a text value as a bigint. sha256 rather than md5: md5() fails on servers in FIPS
 * mode, and on a million rows sha256 measured within 10% of md5, most of either being the row's
 * text form. hashtextextended is faster still, but internal: undocumented and not promised stable.
 * convert_to hashes UTF-8 bytes whatever the database encoding, so a LATIN1 source can match a
 * UTF8 target.
 */
export function hash64(textExpression: string): string {
  return `('x' || substr(encode(sha256(convert_to(${textExpression}, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint`
}

/**
 * Core types whose extended hash is a function of the value alone, with equality as strict as the
 * text form: bool, bytea, int8, int2, int4, text, varchar, date, time, timestamp, timestamptz, uuid,
 * jsonb (jsonb equality ignores only trailing zeros in numbers). Built-in type OIDs never change.
 * Left out on purpose: numeric without a scale, float and interval (equal values print differently:
 * 1.0 and 1.00, 0 and -0, '1 day' and '24 hours'), bpchar without a length (trailing blanks), enums
 * and every non-core type. numeric(p, s) and char(n) are allowed in tables.ts: their typmod makes
 * equal values print alike.
 */
export const RECORD_HASH_TYPES = [16, 17, 20, 21, 23, 25, 1043, 1082, 1083, 1114, 1184, 2950, 3802]

/**
 * A 64-bit hash of the whole row from its values (PostgreSQL 14+), several times cheaper than the
 * text form. hash_record_extended combines its columns linearly (31 * h + next), so a sum over rows
 * would not see values swapped between rows; hashing its result again breaks the linearity.
 */
export function recordHash(alias: string): string {
  return `hashint8extended(hash_record_extended((${alias}.*), 0), 0)`
}

/**
 * The hash of a whole row through its text form, which prints the same on every version given the
 * pinned settings. `(alias.*)` rather than `alias`: a column named like the alias would win.
 */
export function rowHash(alias: string): string {
  return hash64(`(${alias}.*)::text`)
}
