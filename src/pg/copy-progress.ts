import type pg from 'pg'
import type { Log } from '../base/log.js'
import { ProgressLog, type ProgressSample } from '../base/progress.js'

/** Rows and bytes that COPY has moved so far, summed over the database's COPY commands. */
export interface CopyFigures {
  rows: number
  bytes: number
}

interface CopyRow {
  pid: number
  relid: string
  rows: number
  bytes: number
}

/**
 * Watches pg_stat_progress_copy (14 and later) for `command` ('COPY TO': pg_dump reading the source;
 * 'COPY FROM': a load into the target) in the client's database, every `everyMs`, until stop().
 * A COPY that ends leaves the view: its last figures are kept, so the sum only grows. Its own
 * connection, outside any transaction: a transaction would see the same figures every time.
 */
export function watchCopies(
  client: pg.Client,
  command: 'COPY TO' | 'COPY FROM',
  onFigures: (figures: CopyFigures) => void,
  log: Log,
  everyMs = 1000
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
        ;({ rows } = await client.query<CopyRow>(
          `SELECT p.pid, p.relid::pg_catalog.text AS relid, p.tuples_processed::pg_catalog.float8 AS rows,
                  p.bytes_processed::pg_catalog.float8 AS bytes
             FROM pg_catalog.pg_stat_progress_copy p
            WHERE p.datname OPERATOR(pg_catalog.=) pg_catalog.current_database() AND p.command OPERATOR(pg_catalog.=) $1`,
          [command]
        ))
      } catch (error) {
        // Before 14 there is no such view: the stage runs without progress lines.
        log.debug(`no COPY progress: ${(error as Error).message}`)
        return
      }
      const now = new Map(rows.map((row) => [row.pid, row]))
      for (const [pid, before] of running) {
        const after = now.get(pid)
        // Gone, or on to another table: the earlier COPY is done.
        if (!after || after.relid !== before.relid || after.rows < before.rows) {
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
  const { log } = request
  let stopped = false
  const started = (async () => {
    const [connection, rows] = await Promise.all([request.connect(), request.estimatedRows])
    if (stopped) return { watch: undefined, connection }
    const lines = new ProgressLog(log, request.stage, request.timeline, rows > 0 ? { rows } : {})
    return { watch: watchCopies(connection, request.command, (figures) => lines.update(figures), log), connection }
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
