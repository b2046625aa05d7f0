import type pg from 'pg'
import type { Log } from '../base/log.js'
import { isUserSchema } from './sql.js'
import { ProgressLog, type ProgressSample, type ProgressTotals } from '../base/progress.js'

/** Rows and bytes that COPY has moved so far, summed over the database's COPY commands. */
export interface CopyFigures {
  rows: number
  bytes: number
}

interface CopyRow {
  pid: number
  /** The operation: its table and its statement's start. */
  relid: string
  rows: number
  bytes: number
}

/**
 * Watches pg_stat_progress_copy (14 and later) for `command` ('COPY TO': pg_dump reading the source;
 * 'COPY FROM': a load into the target) in the client's database, every `everyMs`, until stop().
 */
export function watchCopies(
  client: pg.Client,
  command: 'COPY TO' | 'COPY FROM',
  onFigures: (figures: CopyFigures) => void,
  log: Log,
  everyMs = 1000
): { stop(): Promise<void> } {
  const sql = `SELECT p.pid, p.relid::pg_catalog.text OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) a.query_start::pg_catalog.text AS relid,
                      p.tuples_processed::pg_catalog.float8 AS rows, p.bytes_processed::pg_catalog.float8 AS bytes
                 FROM pg_catalog.pg_stat_progress_copy p
                 LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) p.pid
                WHERE p.datname OPERATOR(pg_catalog.=) pg_catalog.current_database() AND p.command OPERATOR(pg_catalog.=) $1`
  return watchProgressView(client, { sql, params: [command], what: 'COPY' }, onFigures, log, everyMs)
}

/**
 * Watches pg_stat_progress_create_index (12 and later) in the client's database: rows are the index
 * entries loaded, bytes the table blocks scanned, summed over every build since the watch began.
 */
export function watchIndexBuilds(
  client: pg.Client,
  onFigures: (figures: CopyFigures) => void,
  log: Log,
  everyMs = 1000
): { stop(): Promise<void> } {
  // A plain CREATE INDEX shows index_relid 0: the statement's start tells one build from the next.
  const sql = `SELECT p.pid, p.relid::pg_catalog.text OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) a.query_start::pg_catalog.text AS relid,
                      p.tuples_done::pg_catalog.float8 AS rows,
                      p.blocks_done::pg_catalog.float8 OPERATOR(pg_catalog.*) pg_catalog.current_setting('block_size')::pg_catalog.float8 AS bytes
                 FROM pg_catalog.pg_stat_progress_create_index p
                 LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) p.pid
                WHERE p.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()`
  return watchProgressView(client, { sql, params: [], what: 'index build' }, onFigures, log, everyMs)
}

/**
 * Polls a progress view whose rows are one operation each (a backend's COPY or index build, told
 * apart by `relid`). An operation that ends leaves the view: its last figures are kept, so the sum
 * only grows; within one, each figure keeps its highest value, as a build's phases reset some.
 * Rows the login may not see in full (another role's backend) read as null and count nothing.
 * Its own connection, outside any transaction: a transaction would see the same figures every time.
 */
function watchProgressView(
  client: pg.Client,
  view: { sql: string; params: unknown[]; what: string },
  onFigures: (figures: CopyFigures) => void,
  log: Log,
  everyMs: number
): { stop(): Promise<void> } {
  const finished: CopyFigures = { rows: 0, bytes: 0 }
  let running = new Map<number, CopyRow>()
  let stopped = false
  let wake: () => void = () => undefined
  let timer: NodeJS.Timeout | undefined
  const loop = (async () => {
    while (!stopped) {
      let rows: CopyRow[]
      try {
        ;({ rows } = await client.query<CopyRow>(view.sql, view.params))
      } catch (error) {
        // Before 14 there is no COPY progress view: the stage runs without progress lines.
        log.debug(`no ${view.what} progress: ${(error as Error).message}`)
        return
      }
      const now = new Map<number, CopyRow>()
      for (const row of rows) {
        const before = running.get(row.pid)
        const same = before !== undefined && before.relid === row.relid
        now.set(row.pid, {
          ...row,
          rows: Math.max(row.rows ?? 0, same ? before.rows : 0),
          bytes: Math.max(row.bytes ?? 0, same ? before.bytes : 0)
        })
      }
      for (const [pid, before] of running) {
        // Gone, or on to another operation: the earlier one is done.
        if (now.get(pid)?.relid !== before.relid) {
          finished.rows += before.rows
          finished.bytes += before.bytes
        }
      }
      running = now
      const current = [...running.values()]
      onFigures({
        rows: finished.rows + current.reduce((sum, row) => sum + row.rows, 0),
        bytes: finished.bytes + current.reduce((sum, row) => sum + row.bytes, 0)
      })
      await new Promise<void>((resolve) => {
        wake = resolve
        timer = setTimeout(resolve, everyMs)
      })
    }
  })()
  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      wake()
      await loop
    }
  }
}

/**
 * A long stage's progress lines from the COPY figures of the database `connect` opens (a connection
 * of its own), against the rows the source estimated. Returns at once, so the stage does not wait
 * for the connection; without one the stage runs quietly: progress lines are a courtesy.
 */
export function logCopyProgress(request: {
  connect: () => Promise<pg.Client>
  command: 'COPY TO' | 'COPY FROM'
  stage: string
  timeline: ProgressSample[]
  estimatedRows: number | Promise<number>
  log: Log
}): { stop(): Promise<void> } {
  const total = Promise.resolve(request.estimatedRows).then((rows) => (rows > 0 ? { rows } : {}))
  return logViewProgress(request, total, (client, onFigures) =>
    watchCopies(client, request.command, onFigures, request.log)
  )
}

/**
 * The index builds' progress lines (stage `indexes`), against the bytes of the tables the indexes
 * are on (each table once per index: each build scans it), as the source measures them.
 */
export function logIndexProgress(request: {
  connect: () => Promise<pg.Client>
  timeline: ProgressSample[]
  scannedBytes: Promise<number>
  log: Log
}): { stop(): Promise<void> } {
  const total = request.scannedBytes.then((bytes): ProgressTotals => (bytes > 0 ? { bytes } : {}))
  return logViewProgress({ ...request, stage: 'indexes' }, total, (client, onFigures) =>
    watchIndexBuilds(client, onFigures, request.log)
  )
}

function logViewProgress(
  request: { connect: () => Promise<pg.Client>; stage: string; timeline: ProgressSample[]; log: Log },
  totals: Promise<ProgressTotals>,
  watch: (client: pg.Client, onFigures: (figures: CopyFigures) => void) => { stop(): Promise<void> }
): { stop(): Promise<void> } {
  const { log } = request
  let stopped = false
  const started = (async () => {
    const [connection, total] = await Promise.all([request.connect(), totals])
    if (stopped) return { watch: undefined, connection }
    const lines = new ProgressLog(log, request.stage, request.timeline, total)
    return { watch: watch(connection, (figures) => lines.update(figures)), connection }
  })().catch((error: Error) => {
    log.debug(`no ${request.stage} progress: ${error.message}`)
    return undefined
  })
  return {
    async stop() {
      stopped = true
      const running = await started
      await running?.watch?.stop()
      await running?.connection.end().catch(() => undefined)
    }
  }
}

/**
 * The bytes index builds scan: each index's table, by its main fork, once per index. Read on the
 * source, whose tables the target's match once loaded; an estimate for the progress lines only.
 */
export async function indexedTableBytes(source: pg.Client): Promise<number> {
  const { rows } = await source.query<{ bytes: number }>(
    `SELECT COALESCE(pg_catalog.sum(pg_catalog.pg_relation_size(i.indrelid)), 0)::pg_catalog.float8 AS bytes
       FROM pg_catalog.pg_index i
       JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid
       JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
      WHERE ${isUserSchema('n')}`
  )
  return rows[0]?.bytes ?? 0
}
