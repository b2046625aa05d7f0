import type pg from 'pg'
import { serverVersionNumber } from '../pg/connection.js'
import { relationKey } from '../pg/loaded-objects.js'
import { displayIdent, isUserSchema, quoteIdent } from '../pg/sql.js'
import { WHOLE_DATABASE, type ScopeSql } from '../scope/sql.js'
import { columnsByName } from '../verify/fingerprint/sql.js'
import { listTables } from '../verify/fingerprint/tables.js'

/** A table whose rows the streaming copy moves, as read from the source's catalog in the snapshot. */
export interface StreamedTable {
  schema: string
  name: string
  /** As logs show it. */
  display: string
  /** The columns COPY moves (live, not generated), in order of their names: both sides read and write them so. */
  columns: string[]
  /** Where COPY writes on the target, qualified and quoted: a hash partition's rows go in through its root. */
  loadInto: string
  bytes: number
  blockSize: number
  /** The source scans a ctid range by its blocks (14 and later): the table can be split. */
  tidRanges: boolean
  primaryKey: string[]
  partitionRoot?: { schema: string; name: string }
  /**
   * Why the rows cannot be checked by the hash of their COPY text, when they cannot: a type whose
   * text form may print otherwise on another major, or a generated column the copy leaves out.
   * Such a table is still streamed; its checksum is taken server-side on both sides, as today.
   */
  hashedServerSide?: string
}

/** reg* types print names looked up on each server, and their OIDs differ between the two. */
const NAME_LOOKUP_TYPES = [24, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096, 4191]

/**
 * Types reachable from a column: through domains, array elements, composite attributes, range
 * subtypes. Its text form prints alike on every major when each of them is built in and prints with
 * a built-in output function that looks nothing up: an extension's type prints through the
 * extension's code, whose version the target chooses.
 */
const unstableTypeSql = (major: number): string => `(
  WITH RECURSIVE reached(oid) AS (
    SELECT a.atttypid
    UNION
    SELECT next.oid FROM reached r JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) r.oid,
      LATERAL (SELECT t.typbasetype AS oid UNION ALL SELECT t.typelem
        UNION ALL SELECT s.atttypid FROM pg_catalog.pg_attribute s
          WHERE s.attrelid OPERATOR(pg_catalog.=) t.typrelid AND s.attnum OPERATOR(pg_catalog.>) 0 AND NOT s.attisdropped
        UNION ALL SELECT g.rngsubtype FROM pg_catalog.pg_range g WHERE g.rngtypid OPERATOR(pg_catalog.=) t.oid
        ${major >= 140000 ? 'UNION ALL SELECT g.rngtypid FROM pg_catalog.pg_range g WHERE g.rngmultitypid OPERATOR(pg_catalog.=) t.oid' : ''}
      ) next
    WHERE next.oid OPERATOR(pg_catalog.<>) 0
  )
  SELECT pg_catalog.format_type(t.oid, NULL) AS type FROM reached r JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) r.oid
   WHERE t.typoutput::pg_catalog.oid OPERATOR(pg_catalog.>=) 16384
      OR t.oid OPERATOR(pg_catalog.=) ANY ('{${NAME_LOOKUP_TYPES.join(',')}}'::pg_catalog.oid[])
   LIMIT 1)`

const listSql = (major: number, scope: ScopeSql): string => {
  const generated = major >= 120000 ? `a.attgenerated OPERATOR(pg_catalog.<>) ''` : 'false'
  const root = major >= 120000 ? 'pg_catalog.pg_partition_root(c.oid)' : 'NULL::pg_catalog.oid'
  // Hash partitioning places a row by its hash, which for an enum is its OID's: a restore can move it.
  const hashed =
    major >= 120000
      ? `c.relispartition AND EXISTS (SELECT FROM pg_catalog.pg_partitioned_table p
           WHERE p.partrelid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT pg_catalog.pg_partition_ancestors(c.oid)))
             AND p.partstrat OPERATOR(pg_catalog.=) 'h')`
      : 'false'
  return `
SELECT n.nspname AS schema, c.relname AS name, pg_catalog.pg_relation_size(c.oid)::pg_catalog.float8 AS bytes,
  pg_catalog.current_setting('block_size')::pg_catalog.int4 AS block_size,
  ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a
         WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
           AND NOT ${generated}) AS columns,
  EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid
           AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped AND ${generated}) AS generated,
  (SELECT u.type FROM pg_catalog.pg_attribute a CROSS JOIN LATERAL ${unstableTypeSql(major)} AS u(type)
    WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
      AND u.type IS NOT NULL ORDER BY a.attnum LIMIT 1) AS unstable_type,
  ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_index i
         CROSS JOIN pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, position)
         JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid AND a.attnum OPERATOR(pg_catalog.=) k.attnum
        WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisprimary ORDER BY k.position) AS primary_key,
  rn.nspname AS root_schema, r.relname AS root_name,
  ${hashed} AS hash_partitioned
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
LEFT JOIN pg_catalog.pg_class r ON c.relispartition AND r.oid OPERATOR(pg_catalog.=) ${root}
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid OPERATOR(pg_catalog.=) r.relnamespace
WHERE c.relkind OPERATOR(pg_catalog.=) 'r' AND c.relpersistence OPERATOR(pg_catalog.<>) 't' AND ${isUserSchema('n')}
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
    AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')
  AND ${scope.data('c.oid')}
ORDER BY 3 DESC, 1, 2`
}

interface Row {
  schema: string
  name: string
  bytes: number
  block_size: number
  columns: string[]
  generated: boolean
  unstable_type: string | null
  primary_key: string[]
  root_schema: string | null
  root_name: string | null
  hash_partitioned: boolean
}

/**
 * The tables whose rows the streaming copy moves, largest first, read in the snapshot: what the
 * dump would carry, less the tables of extensions (pg_dump carries their configuration rows) and
 * tables without a column to copy. Names are quoted here, from the catalog.
 */
export async function streamedTables(source: pg.Client, scope: ScopeSql = WHOLE_DATABASE): Promise<StreamedTable[]> {
  const major = await serverVersionNumber(source)
  const { rows } = await source.query<Row>(listSql(major, scope))
  return rows
    .filter((row) => row.columns.length > 0)
    .map((row) => {
      const root =
        row.root_schema !== null && row.root_name !== null
          ? { schema: row.root_schema, name: row.root_name }
          : undefined
      // A partition of a hash-partitioned tree goes in through its root, so each row lands where the
      // target's hashes put it (as pg_dump --load-via-partition-root); others straight into themselves.
      const into = root && row.hash_partitioned ? root : row
      const table: StreamedTable = {
        schema: row.schema,
        name: row.name,
        display: `${displayIdent(row.schema)}.${displayIdent(row.name)}`,
        columns: columnsByName(row.columns),
        loadInto: `${quoteIdent(into.schema)}.${quoteIdent(into.name)}`,
        bytes: row.bytes,
        blockSize: row.block_size,
        tidRanges: major >= 140000,
        primaryKey: row.primary_key,
        ...(root ? { partitionRoot: root } : {})
      }
      const why = row.generated
        ? 'it has a generated column, which COPY leaves out'
        : row.unstable_type !== null
          ? `its column type ${row.unstable_type} may print otherwise on another major`
          : undefined
      if (why) table.hashedServerSide = why
      return table
    })
}

/** Why a table the verify hashes by value is checksummed on each server rather than in flight. */
export const BY_VALUE = 'its rows hash by value on each server, which costs the target less than printing them back'

/**
 * Marks the tables the verify hashes by value (hash_record_extended: every column a core type whose
 * hash is the same on every major): those are checksummed on each server, the source's beside the
 * index builds. In flight, the target would print every row back through its types' output
 * functions and send it to the runner to be hashed there: more of the target's CPU than hashing the
 * values where they lie, and the whole table over the target's network once more. A table whose
 * hash needs its text form is printed on both sides either way, so it stays hashed in flight and
 * the source is read once.
 */
export async function checksumByValue(source: pg.Client, tables: StreamedTable[], scope: ScopeSql): Promise<void> {
  const listed = await listTables(source, scope)
  const byValue = new Set(listed.filter((t) => t.recordHashable).map((t) => relationKey(t.schema, t.name)))
  for (const table of tables)
    if (table.hashedServerSide === undefined && byValue.has(relationKey(table.schema, table.name)))
      table.hashedServerSide = BY_VALUE
}
