import type pg from 'pg'
import { StageError } from '../errors.js'
import {
  RECORD_HASH_TYPES,
  displayName,
  isNotExtensionMember,
  isUserSchema,
  qualifiedName,
  recordHash,
  rowHash
} from './sql.js'
import type { RowHash, TableFingerprint, VerifyLevel } from './types.js'

type TableToCheck = Omit<TableFingerprint, 'rows' | 'checksum' | 'hash'> & { bytes: number; recordHashable: boolean }

/**
 * Tables whose rows the dump carries: ordinary and unlogged tables, including partitions and
 * inheritance children. Partitioned parents hold no rows of their own (their leaves are checked,
 * each once), foreign tables hold rows elsewhere, and materialized views are refreshed by the
 * restore, so a stale one on the source would differ without anything being lost.
 */
const LIST_TABLES = `
SELECT n.nspname AS schema, c.relname AS name, pg_relation_size(c.oid)::float8 AS bytes,
  coalesce((SELECT array_agg(a.attname::text ORDER BY k.position)
    FROM pg_index i
    CROSS JOIN unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS primary_key,
  rn.nspname AS root_schema, r.relname AS root_name,
  current_setting('server_version_num')::int >= 140000 AND NOT EXISTS (
    SELECT FROM pg_attribute a LEFT JOIN pg_collation l ON l.oid = a.attcollation
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      AND (a.atttypid <> ALL ('{${RECORD_HASH_TYPES.join(',')}}'::oid[]) OR (a.attcollation <> 0 AND NOT l.collisdeterministic))
      -- char(n) prints padded to n and numeric(p, s) with scale s: equal values print alike there
      AND NOT (a.atttypid = 1042 AND a.atttypmod > 0 AND (a.attcollation = 0 OR l.collisdeterministic))
      AND NOT (a.atttypid = 1700 AND a.atttypmod > 0)
  ) AS record_hashable
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON c.relispartition AND r.oid = pg_partition_root(c.oid)
LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND ${isUserSchema('n')}
  AND ${isNotExtensionMember('pg_class', 'c.oid')}`

interface TableRow {
  schema: string
  name: string
  bytes: number
  primary_key: string[]
  root_schema: string | null
  root_name: string | null
  record_hashable: boolean
}

export async function listTables(client: pg.Client): Promise<TableToCheck[]> {
  const { rows } = await client.query<TableRow>(LIST_TABLES)
  return rows.map((row) => {
    const table: TableToCheck = {
      schema: row.schema,
      name: row.name,
      primaryKey: row.primary_key,
      bytes: row.bytes,
      recordHashable: row.record_hashable
    }
    if (row.root_schema !== null && row.root_name !== null) {
      table.partitionRoot = { schema: row.root_schema, name: row.root_name }
    }
    return table
  })
}

/** The count and checksum of one table; ONLY, so an inheritance parent does not count its children's rows. */
export function tableChecksumSql(schema: string, name: string, level: VerifyLevel, hash: RowHash = 'text'): string {
  const rowExpression = hash === 'record' ? recordHash('r') : rowHash('r')
  const checksum = level === 'full' ? `coalesce(sum(${rowExpression}), 0)::text` : 'NULL::text'
  return `SELECT count(*)::text AS rows, ${checksum} AS checksum FROM ONLY ${qualifiedName(schema, name)} AS r`
}

async function checksumTable(
  client: pg.Client,
  table: TableToCheck,
  level: VerifyLevel,
  hash: RowHash
): Promise<TableFingerprint> {
  try {
    const { rows } = await client.query<{ rows: string; checksum: string | null }>(
      tableChecksumSql(table.schema, table.name, level, hash)
    )
    const { schema, name, primaryKey, partitionRoot } = table
    const root = partitionRoot ? { partitionRoot } : {}
    return { schema, name, rows: Number(rows[0].rows), checksum: rows[0].checksum, hash, primaryKey, ...root }
  } catch (error) {
    throw new StageError(
      'Verify',
      `could not read table ${displayName(table.schema, table.name)}: ${(error as Error).message}`,
      'the verifying role needs SELECT on every table, and must not be subject to row-level security (own the table or have BYPASSRLS)'
    )
  }
}

/**
 * Checksums every table, largest first so the long ones do not start last, each session taking the
 * next table as it finishes one. Results are sorted by name.
 */
/**
 * The method for one table: the other side's when known (so checksums compare), else the record
 * hash where every column allows it. A table the other side hashed by record but whose columns here
 * do not allow it falls back to text; its checksum then differs, and so does its inventory.
 */
function chooseHash(table: TableToCheck, options: HashChoice): RowHash {
  if (options.textOnly || !table.recordHashable) return 'text'
  if (!options.like) return 'record'
  const other = options.like.find((t) => t.schema === table.schema && t.name === table.name)
  return other?.hash ?? 'text'
}

export interface HashChoice {
  like?: TableFingerprint[]
  textOnly?: boolean
}

export async function fingerprintTables(
  sessions: pg.Client[],
  level: VerifyLevel,
  onProgress?: (done: number, total: number, table: string) => void,
  hashChoice: HashChoice = {}
): Promise<TableFingerprint[]> {
  const queue = (await listTables(sessions[0])).sort((a, b) => b.bytes - a.bytes)
  const total = queue.length
  const results: TableFingerprint[] = []
  let failed = false
  const work = async (client: pg.Client): Promise<void> => {
    for (let table = queue.shift(); table && !failed; table = queue.shift()) {
      try {
        results.push(await checksumTable(client, table, level, chooseHash(table, hashChoice)))
      } catch (error) {
        // The other sessions stop after their current table instead of working for nothing.
        failed = true
        throw error
      }
      onProgress?.(results.length, total, displayName(table.schema, table.name))
    }
  }
  const settled = await Promise.allSettled(sessions.map(work))
  const failure = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failure) throw failure.reason
  return results.sort((a, b) => compareNames(a, b))
}

function compareNames(a: { schema: string; name: string }, b: { schema: string; name: string }): number {
  return a.schema < b.schema ? -1 : a.schema > b.schema ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}
