import type pg from 'pg'
import type { Log } from '../base/log.js'
import { quoteIdent } from '../pg/sql.js'
import { restoreList, type Restorer } from '../tools/pg-restore.js'
import { parseTocLine } from '../tools/toc.js'

/**
 * ANALYZE overlapped with the rest of the load: each table is analyzed, on a session of its own, as
 * soon as pg_restore has finished every index, constraint and extended statistics object on it (and
 * every foreign key that references it, which would wait for ANALYZE's lock), so its statistics
 * cover its expression indexes too. What the restore had not finished by the end of the load is left
 * to the ANALYZE after it, which takes only tables still without statistics (pg/target-work.ts).
 * Tables with no such entry, and a restore without parallel jobs (it logs no finished items), are
 * left to that ANALYZE too.
 */

/** pg_restore --verbose with several jobs: an entry is done. */
const FINISHED = /^pg_restore: finished item (\d+) /

/** Post-data entries that lock a table against ANALYZE while they run, or that ANALYZE reads. */
const LOCKING_ENTRY = /^(INDEX|CONSTRAINT|FK CONSTRAINT|STATISTICS) /

export interface AnalyzeAhead {
  /** The load is over: no table starts any more; resolves once the one running has ended. */
  ended(): Promise<void>
}

export interface AnalyzeAheadRequest {
  restorer: Restorer
  /** A session on the source, where each entry's table is found by the OID the dump gives. */
  connectSource: () => Promise<pg.Client>
  /** A session on the target as the writer: ANALYZE evaluates index expressions. */
  connectTarget: () => Promise<pg.Client>
  log: Log
}

export function analyzeAhead(request: AnalyzeAheadRequest): AnalyzeAhead {
  const finished = new Set<string>()
  let pending: Map<string, Set<string>> | undefined
  let tablesOf = new Map<string, string[]>()
  const queue: string[] = []
  let stopped = false
  let analyzed = 0
  let session: Promise<pg.Client> | undefined
  let running: Promise<void> = Promise.resolve()

  const complete = (id: string): void => {
    for (const table of tablesOf.get(id) ?? []) {
      const left = pending?.get(table)
      if (!left?.delete(id) || left.size > 0) continue
      queue.push(table)
    }
    drain()
  }
  const drain = (): void => {
    running = running.then(async () => {
      for (let table = queue.shift(); table && !stopped; table = queue.shift()) {
        session ??= request.connectTarget()
        if (await analyzeBeside(session, table, request.log)) analyzed++
      }
    })
  }

  const before = request.restorer.onLine
  request.restorer.onLine = (line) => {
    before?.(line)
    const id = FINISHED.exec(line)?.[1]
    if (!id) return
    if (pending) complete(id)
    else finished.add(id)
  }
  const planned = planTables(request).then(
    (plan) => {
      if (!plan) return
      tablesOf = plan.tablesOf
      pending = plan.pending
      for (const id of finished) complete(id)
    },
    (error: unknown) => request.log.debug(`ANALYZE beside the load: not planned (${(error as Error).message})`)
  )
  let ending: Promise<void> | undefined
  const end = async (): Promise<void> => {
    stopped = true
    await planned
    await running
    await session?.then((db) => db.end()).catch(() => undefined)
    if (analyzed > 0) request.log.info(`analyzed ${analyzed} tables beside the rest of the load`)
  }
  // Once: a later call (the flow's cleanup after the load ended) waits for the same end.
  return { ended: () => (ending ??= end()) }
}

/** ANALYZE of one table; a failure here only leaves the table to the ANALYZE after the load. */
function analyzeBeside(session: Promise<pg.Client>, table: string, log: Log): Promise<boolean> {
  return session
    .then((db) => db.query(`ANALYZE ${table}`))
    .then(
      () => true,
      (error: unknown) => {
        log.debug(`ANALYZE ${table} beside the load: ${(error as Error).message}`)
        return false
      }
    )
}

/**
 * Each locking entry's tables, and each table's entries. Undefined when the dump carries the
 * source's statistics: the ANALYZE after the load then takes only what they lack.
 */
async function planTables(
  request: AnalyzeAheadRequest
): Promise<{ tablesOf: Map<string, string[]>; pending: Map<string, Set<string>> } | undefined> {
  const { kept } = await restoreList(request.restorer, undefined, { quiet: true })
  const entries = kept.flatMap((line) => parseTocLine(line) ?? [])
  if (entries.some((entry) => entry.rest.startsWith('STATISTICS DATA '))) return undefined
  const locking = entries.filter((entry) => LOCKING_ENTRY.test(entry.rest) && entry.oid !== 0)
  const source = await request.connectSource()
  try {
    // Keyed by catalog and OID, as the dump names each object.
    const { rows } = await source.query<{ object: string; nspname: string; relname: string }>(
      `SELECT '1259 ' OPERATOR(pg_catalog.||) i.indexrelid::pg_catalog.text AS object, n.nspname, c.relname FROM pg_catalog.pg_index i
         JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE i.indexrelid = ANY($1::pg_catalog.oid[])
       UNION ALL
       SELECT '2606 ' OPERATOR(pg_catalog.||) k.oid::pg_catalog.text, n.nspname, c.relname FROM pg_catalog.pg_constraint k
         JOIN pg_catalog.pg_class c ON c.oid IN (k.conrelid, k.confrelid) JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE k.oid = ANY($1::pg_catalog.oid[])
       UNION ALL
       SELECT '3381 ' OPERATOR(pg_catalog.||) x.oid::pg_catalog.text, n.nspname, c.relname FROM pg_catalog.pg_statistic_ext x
         JOIN pg_catalog.pg_class c ON c.oid = x.stxrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE x.oid = ANY($1::pg_catalog.oid[])`,
      [locking.map((entry) => String(entry.oid))]
    )
    const tablesByObject = new Map<string, string[]>()
    for (const row of rows) {
      const table = `${quoteIdent(row.nspname)}.${quoteIdent(row.relname)}`
      tablesByObject.set(row.object, [...(tablesByObject.get(row.object) ?? []), table])
    }
    const tablesOf = new Map<string, string[]>()
    const pending = new Map<string, Set<string>>()
    for (const entry of locking) {
      const tables = tablesByObject.get(`${entry.catalog} ${entry.oid}`) ?? []
      tablesOf.set(entry.id, tables)
      for (const table of tables) pending.set(table, (pending.get(table) ?? new Set()).add(entry.id))
    }
    return { tablesOf, pending }
  } finally {
    await source.end().catch(() => undefined)
  }
}
