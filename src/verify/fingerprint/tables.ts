import type pg from 'pg'
import { finished } from 'node:stream/promises'
import { MigrationError } from '../../base/errors.js'
import { WHOLE_DATABASE, type ScopeSql } from '../../scope/sql.js'
import {
  RECORD_HASH_TYPES,
  columnsByName,
  displayName,
  isNotExtensionMember,
  isUserSchema,
  qualifiedName,
  recordHash,
  rowHash
} from './sql.js'
import { COPY_DIGEST_MODULUS, CopyTextDigest, copyOutStatement, type BlockRange } from './copy-digest.js'
import { CopyOutMessages } from './copy-messages.js'
import type { RowHash, TableFingerprint, TablesProgress, VerifyLevel } from './types.js'

type TableToCheck = Omit<TableFingerprint, 'rows' | 'checksum' | 'hash'> & {
  /** Live columns, sorted by columnsByName: the order rows are hashed in. */
  columns: string[]
  bytes: number
  blockSize: number
  /** The server scans a ctid range by its blocks only (14 and later), so a table can be split. */
  tidRanges: boolean
  recordHashable: boolean
}

/** Tables split across the sessions from this size on. */
const SPLIT_MIN_BYTES = 64 * 1024 * 1024

/**
 * Tables whose rows the dump carries: ordinary and unlogged tables, including partitions and
 * inheritance children. Partitioned parents hold no rows of their own (their leaves are checked,
 * each once), foreign tables hold rows elsewhere, and materialized views are refreshed by the
 * restore, so a stale one on the source would differ without anything being lost.
 */
const listTablesSql = (scope: ScopeSql): string => `
SELECT n.nspname AS schema, c.relname AS name, pg_relation_size(c.oid)::float8 AS bytes,
  current_setting('block_size')::int AS block_size,
  current_setting('server_version_num')::int >= 140000 AS tid_ranges,
  coalesce((SELECT array_agg(a.attname::text) FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}') AS columns,
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
  AND ${isNotExtensionMember('pg_class', 'c.oid')} AND ${scope.data('c.oid')}`

interface TableRow {
  schema: string
  name: string
  bytes: number
  block_size: number
  tid_ranges: boolean
  columns: string[]
  primary_key: string[]
  root_schema: string | null
  root_name: string | null
  record_hashable: boolean
}

/** Tables whose rows moved: a table moved without its rows is compared by its definition only. */
export async function listTables(client: pg.Client, scope: ScopeSql = WHOLE_DATABASE): Promise<TableToCheck[]> {
  const { rows } = await client.query<TableRow>(listTablesSql(scope))
  return rows.map((row) => {
    const table: TableToCheck = {
      schema: row.schema,
      name: row.name,
      columns: columnsByName(row.columns),
      primaryKey: row.primary_key,
      bytes: row.bytes,
      blockSize: row.block_size,
      tidRanges: row.tid_ranges,
      recordHashable: row.record_hashable
    }
    if (row.root_schema !== null && row.root_name !== null) {
      table.partitionRoot = { schema: row.root_schema, name: row.root_name }
    }
    return table
  })
}

/**
 * The count and checksum of one table, or of a block range of it; ONLY, so an inheritance parent
 * does not count its children's rows. The checksum is a sum, so the ranges' sums add up to the table's.
 */
export function tableChecksumSql(
  table: { schema: string; name: string; columns: readonly string[] },
  level: VerifyLevel,
  hash: RowHash,
  range?: BlockRange
): string {
  const rowExpression = hash === 'record-by-name' ? recordHash('r', table.columns) : rowHash('r', table.columns)
  const checksum = level === 'full' ? `coalesce(sum(${rowExpression}), 0)::text` : 'NULL::text'
  const where = range
    ? ` WHERE r.ctid >= '(${range.from},0)'::tid${range.to === undefined ? '' : ` AND r.ctid < '(${range.to},0)'::tid`}`
    : ''
  return `SELECT count(*)::text AS rows, ${checksum} AS checksum FROM ONLY ${qualifiedName(table.schema, table.name)} AS r${where}`
}

interface Part {
  rows: bigint
  checksum: bigint | null
}

interface TableInProgress {
  table: TableToCheck
  hash: RowHash
  parts: Part[]
  /** Parts to wait for: 1, or one per session when the table is split. */
  expected: number
}

async function checksumPart(
  client: pg.Client,
  table: TableToCheck,
  level: VerifyLevel,
  hash: RowHash,
  range?: BlockRange
): Promise<Part> {
  try {
    if (hash === 'copy-text-by-name') return await readBack(client, table, level, range)
    const { rows } = await client.query<{ rows: string; checksum: string | null }>(
      tableChecksumSql(table, level, hash, range)
    )
    return { rows: BigInt(rows[0].rows), checksum: rows[0].checksum === null ? null : BigInt(rows[0].checksum) }
  } catch (error) {
    throw new MigrationError(
      'table-unreadable',
      `could not read table ${displayName(table.schema, table.name)}: ${(error as Error).message}`,
      {
        hint: 'the verifying role needs SELECT on every table, and must not be subject to row-level security (own the table or have BYPASSRLS)'
      }
    )
  }
}

/**
 * A table the streaming copy hashed in flight: read back through COPY, in this session's pinned
 * settings (those the source was read in), and hashed by the runner with the same function.
 */
async function readBack(client: pg.Client, table: TableToCheck, level: VerifyLevel, range?: BlockRange): Promise<Part> {
  const digesting = new CopyTextDigest(level !== 'full')
  const reading = client.query(
    new CopyOutMessages(copyOutStatement(table, range), {
      forward: false,
      onText: (data, start, end) => digesting.add(data, start, end)
    })
  )
  reading.resume()
  await finished(reading)
  digesting.end()
  const { digest } = digesting
  return { rows: BigInt(digest.rows), checksum: level === 'full' ? BigInt(digest.checksum()) : null }
}

/**
 * The method for one table: the other side's when known (so checksums compare), else the record
 * hash where every column allows it. A table the other side hashed by record but whose columns here
 * do not allow it falls back to text; its checksum then differs, and so does its inventory.
 */
function chooseHash(table: TableToCheck, options: HashChoice): RowHash {
  const other = options.like?.find((t) => t.schema === table.schema && t.name === table.name)
  if (other?.hash === 'copy-text-by-name') return 'copy-text-by-name'
  if (options.textOnly || !table.recordHashable) return 'text-by-name'
  if (!options.like) return 'record-by-name'
  return other?.hash === 'record-by-name' ? 'record-by-name' : 'text-by-name'
}

export interface HashChoice {
  like?: TableFingerprint[]
  textOnly?: boolean
}

/**
 * Checksums every table, largest first so the long ones do not start last, each session taking the
 * next piece as it finishes one; a big table is split into a block range per session. Results are
 * sorted by name.
 */
export async function fingerprintTables(
  sessions: pg.Client[],
  level: VerifyLevel,
  onProgress?: TablesProgress,
  options: HashChoice & { splitMinBytes?: number; scope?: ScopeSql; known?: TableFingerprint[] } = {}
): Promise<TableFingerprint[]> {
  const known = new Map((options.known ?? []).map((t) => [displayName(t.schema, t.name), t]))
  const listed = await listTables(sessions[0], options.scope)
  const tables = listed.filter((t) => !known.has(displayName(t.schema, t.name))).sort((a, b) => b.bytes - a.bytes)
  const totalBytes = tables.reduce((sum, table) => sum + table.bytes, 0)
  const splitMinBytes = options.splitMinBytes ?? SPLIT_MIN_BYTES
  // One piece of work per table, or per block range of a big one; largest first.
  const queue = tables.flatMap((table): { done: TableInProgress; range?: BlockRange }[] => {
    const done: TableInProgress = { table, hash: chooseHash(table, options), parts: [], expected: 1 }
    const blocks = Math.ceil(table.bytes / table.blockSize)
    if (sessions.length < 2 || !table.tidRanges || table.bytes < splitMinBytes) return [{ done }]
    done.expected = sessions.length
    return sessions.map((_, i) => ({
      done,
      range: {
        from: Math.floor((i * blocks) / sessions.length),
        to: i === sessions.length - 1 ? undefined : Math.floor(((i + 1) * blocks) / sessions.length)
      }
    }))
  })
  const results: TableFingerprint[] = listed.flatMap((t) => known.get(displayName(t.schema, t.name)) ?? [])
  let failed = false
  const work = async (client: pg.Client): Promise<void> => {
    for (let item = queue.shift(); item && !failed; item = queue.shift()) {
      const { done, range } = item
      try {
        done.parts.push(await checksumPart(client, done.table, level, done.hash, range))
      } catch (error) {
        // The other sessions stop after their current piece instead of working for nothing.
        failed = true
        throw error
      }
      if (done.parts.length < done.expected) continue
      const fingerprint = tableFingerprint(done.table, done.hash, done.parts)
      results.push(fingerprint)
      const figures = { rows: fingerprint.rows, bytes: done.table.bytes, totalBytes }
      onProgress?.(results.length, listed.length, displayName(done.table.schema, done.table.name), figures)
    }
  }
  const settled = await Promise.allSettled(sessions.map(work))
  const failure = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failure) throw failure.reason
  return results.sort((a, b) => compareNames(a, b))
}

/**
 * The checksum of a table from those of its block ranges, null when they have none. The in-flight
 * sums wrap at 2^128 (copy-digest.ts): a table read back in ranges must add up alike.
 */
export function partsChecksum(hash: RowHash, parts: Pick<Part, 'checksum'>[]): string | null {
  if (parts.some((part) => part.checksum === null)) return null
  const sum = parts.reduce((total, part) => total + (part.checksum ?? 0n), 0n)
  return (hash === 'copy-text-by-name' ? sum % COPY_DIGEST_MODULUS : sum).toString()
}

function tableFingerprint(table: TableToCheck, hash: RowHash, parts: Part[]): TableFingerprint {
  const rows = parts.reduce((sum, part) => sum + part.rows, 0n)
  const checksum = partsChecksum(hash, parts)
  const { schema, name, primaryKey, partitionRoot } = table
  const root = partitionRoot ? { partitionRoot } : {}
  return { schema, name, rows: Number(rows), checksum, hash, primaryKey, ...root }
}

function compareNames(a: { schema: string; name: string }, b: { schema: string; name: string }): number {
  return a.schema < b.schema ? -1 : a.schema > b.schema ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}
