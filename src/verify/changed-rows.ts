// The rows a sync changed, compared by key on both sides at cutover: each row's hash over its
// columns in order of name (the text-by-name hash of the full verify, which prints alike on every
// major), read through the key, so the work follows the number of changed rows, not the table's size.
import type pg from 'pg'
import type { Connect } from './fingerprint/index.js'
import { closeSession, openSession } from './fingerprint/session.js'
import { columnsByName, qualifiedName, quoteIdent, rowHash } from './fingerprint/sql.js'

/** One table's changed rows: the key columns, and each key as the source's text of its values. */
export interface KeyedTable {
  schema: string
  name: string
  keyColumns: string[]
  keys: string[][]
}

/** What the comparison of one table's changed rows found. */
export interface KeyedResult {
  schema: string
  name: string
  /** Keys compared. */
  keys: number
  /** Of them, rows present now on each side. */
  sourceRows: number
  targetRows: number
  /** Keys whose row is missing on one side or holds other values there, shown as locate.ts shows them. */
  differing: string[]
}

/** Keys per query: one array parameter per key column. */
const KEYS_PER_QUERY = 5000

/** One key's row on each side: its hash, undefined where there is no row with that key. */
export interface RowPair {
  source?: string
  target?: string
}

/** The rows of `tables` at their keys, source and target read side by side in sessions of their own. */
export async function compareChangedRows(source: Connect, target: Connect, tables: KeyedTable[]): Promise<RowPair[][]> {
  if (tables.length === 0) return []
  const opened = await Promise.allSettled([openSession(source), openSession(target)])
  const clients = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
  const failure = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failure) {
    await Promise.all(clients.map(closeSession))
    throw failure.reason
  }
  const [sourceClient, targetClient] = clients
  try {
    return await readChangedRows(sourceClient, targetClient, tables)
  } finally {
    await Promise.all([closeSession(sourceClient), closeSession(targetClient)])
  }
}

/**
 * Each key's row on both sides, read in the sessions given (in the snapshots they hold), one table
 * after another, both sides at once: per table, the pairs in the order of its keys.
 */
export async function readChangedRows(
  source: pg.Client,
  target: pg.Client,
  tables: KeyedTable[]
): Promise<RowPair[][]> {
  const pairs: RowPair[][] = []
  for (const table of tables) {
    const [atSource, atTarget] = await Promise.all([hashesByKey(source, table), hashesByKey(target, table)])
    pairs.push(table.keys.map((_, index) => ({ source: atSource.get(index), target: atTarget.get(index) })))
  }
  return pairs
}

/** What the pairs of one table's keys come to. */
export function keyedResult(table: KeyedTable, pairs: RowPair[]): KeyedResult {
  return {
    schema: table.schema,
    name: table.name,
    keys: table.keys.length,
    sourceRows: pairs.filter((pair) => pair.source !== undefined).length,
    targetRows: pairs.filter((pair) => pair.target !== undefined).length,
    differing: table.keys.flatMap((key, index) => (pairs[index].source === pairs[index].target ? [] : [showKey(key)]))
  }
}

/** Index of each key (in `table.keys`) whose row exists on this side → that row's hash. */
async function hashesByKey(client: pg.Client, table: KeyedTable): Promise<Map<number, string>> {
  const relation = qualifiedName(table.schema, table.name)
  const { rows: columns } = await client.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
    [relation]
  )
  const types = new Map(columns.map((column) => [column.name, column.type]))
  const keyTypes = table.keyColumns.map((name) => {
    const type = types.get(name)
    if (!type) throw new Error(`${relation} has no column ${name}`)
    return type
  })
  const hash = rowHash('r', columnsByName(columns.map((column) => column.name)))
  // The key's text cast to each side's column type, as the apply cast it: equal keys match alike on both.
  const unnested = table.keyColumns.map((_, i) => `$${i + 1}::text[]`).join(', ')
  const aliases = table.keyColumns.map((_, i) => `k${i}`)
  const on = table.keyColumns.map((name, i) => `r.${quoteIdent(name)} = k.${aliases[i]}::${keyTypes[i]}`).join(' AND ')
  const sql = `SELECT (k.ordinal - 1)::int AS index, ${hash}::text AS hash
    FROM unnest(${unnested}) WITH ORDINALITY AS k(${aliases.join(', ')}, ordinal)
    JOIN ONLY ${relation} AS r ON ${on}`
  const found = new Map<number, string>()
  // A few thousand keys could look to the planner like a reason to scan the whole table and hash it:
  // through the key's index instead, so the work follows the keys, not the table's size.
  await client.query(
    'SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off'
  )
  for (let from = 0; from < table.keys.length; from += KEYS_PER_QUERY) {
    const slice = table.keys.slice(from, from + KEYS_PER_QUERY)
    const values = table.keyColumns.map((_, i) => slice.map((key) => key[i]))
    const { rows } = await client.query<{ index: number; hash: string }>(sql, values)
    for (const row of rows) found.set(from + row.index, row.hash)
  }
  return found
}

/** One key column as its value; several as a row, `(17, 2024-06-01 00:00:00+00)`. */
function showKey(values: string[]): string {
  return values.length === 1 ? values[0] : `(${values.join(', ')})`
}
