// SQL fragments shared by the fingerprint queries. Sessions run with search_path = pg_catalog, so
// catalog names need no qualification and user objects always print qualified.

import { quoteIdent } from '../../pg/sql.js'

export { isUserSchema, quoteIdent } from '../../pg/sql.js'

export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`
}

/** A plain lower-case word: shown bare, keywords included (see showName). */
const PLAIN_NAME = '^[a-z_][a-z0-9_$]*$'

/**
 * One part of a name as the fingerprint shows it: bare when a plain lower-case word, else quoted.
 * Unlike quote_ident, keywords stay bare: the servers' keyword lists differ (16 and 17 made json,
 * system_user, merge_action and other JSON words keywords), and a name must read the same on both.
 */
export function showName(part: string): string {
  return new RegExp(PLAIN_NAME).test(part) ? part : quoteIdent(part)
}

/** The same as showName, in SQL, for names a query puts inside a definition. */
export function showNameSql(expression: string): string {
  return `(CASE WHEN (${expression}) COLLATE "C" ~ '${PLAIN_NAME}' THEN (${expression})::text
    ELSE '"' || replace(${expression}, '"', '""') || '"' END)`
}

/** `schema.name` for people and for matching: see showName. */
export function displayName(schema: string, name: string): string {
  return `${showName(schema)}.${showName(name)}`
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
 * The columns of a row in order of their names, as a row constructor: equal rows hash alike
 * whatever order the columns have on each side, while a value moved to another column still moves
 * the hash. `columns` are sorted by the caller (columnsByName), the same way on both sides.
 */
function rowByName(alias: string, columns: readonly string[]): string {
  return `ROW(${columns.map((column) => `${alias}.${quoteIdent(column)}`).join(', ')})`
}

/**
 * Names sorted by UTF-16 code units: a fixed order that needs no collation, the same in every
 * process. Names within one table are unique, so the order is total.
 */
export function columnsByName(columns: readonly string[]): string[] {
  return [...columns].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

/**
 * A 64-bit hash of the whole row from its values (PostgreSQL 14+), several times cheaper than the
 * text form. hash_record_extended combines its columns linearly (31 * h + next), so a sum over rows
 * would not see values swapped between rows; hashing its result again breaks the linearity.
 */
export function recordHash(alias: string, columns: readonly string[]): string {
  return `hashint8extended(hash_record_extended(${rowByName(alias, columns)}, 0), 0)`
}

/**
 * The hash of a whole row through its text form, which prints the same on every version given the
 * pinned settings.
 */
export function rowHash(alias: string, columns: readonly string[]): string {
  return hash64(`${rowByName(alias, columns)}::text`)
}
