// A cheap look for writes to the target that no replayed change made: the server's own counts of
// rows inserted, updated and deleted per table (cumulative statistics, kept since the table was
// created by the restore), against what the restore and the stream can account for. Not a proof:
// statistics can be reset or turned off (track_counts), and a session flushes its counts up to a
// second after its transaction, so a write just before cutover may not show yet. A count beyond what
// was accounted for is certain, though: something else wrote.
import type pg from 'pg'
import { displayName } from './fingerprint/sql.js'

/** What one table may show at most: the rows the restore loaded, and the changes the stream applied. */
export interface AccountedWrites {
  schema: string
  name: string
  loaded: number
  inserts: number
  updates: number
  deletes: number
}

/** One table that shows more writes than accounted for, and how many more of each. */
export interface UnaccountedWrites {
  schema: string
  name: string
  inserted: number
  updated: number
  deleted: number
}

export async function findUnaccountedWrites(
  target: pg.Client,
  tables: AccountedWrites[]
): Promise<UnaccountedWrites[]> {
  const { rows } = await target.query<{ schema: string; name: string; ins: string; upd: string; del: string }>(
    `SELECT schemaname AS schema, relname AS name, n_tup_ins::text AS ins, n_tup_upd::text AS upd, n_tup_del::text AS del
       FROM pg_catalog.pg_stat_all_tables`
  )
  const counted = new Map(rows.map((row) => [displayName(row.schema, row.name), row]))
  return tables.flatMap((table) => {
    const row = counted.get(displayName(table.schema, table.name))
    if (!row) return []
    const over = {
      inserted: Math.max(0, Number(row.ins) - table.loaded - table.inserts),
      updated: Math.max(0, Number(row.upd) - table.updates),
      deleted: Math.max(0, Number(row.del) - table.deletes)
    }
    if (over.inserted + over.updated + over.deleted === 0) return []
    return [{ schema: table.schema, name: table.name, ...over }]
  })
}
