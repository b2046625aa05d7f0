import type { Log } from '../../base/log.js'
import { ProgressLog, type ProgressSample, type ProgressTotals } from '../../base/progress.js'
import type { TablesProgress } from './types.js'

/**
 * A fingerprint's progress lines (stage `source checksums` or `target checksums`): the rows and
 * bytes of the tables checksummed so far, against the bytes of every table to read, which the
 * fingerprint knows once it has listed them. One line at each quarter and every 30 s, not per table.
 */
export function checksumProgress(log: Log, stage: string, timeline: ProgressSample[] = []): TablesProgress {
  // Filled in at the first table: the lines started with the stage, so the rate counts from there.
  const total: ProgressTotals = {}
  const lines = new ProgressLog(log, stage, timeline, total)
  const done = { rows: 0, bytes: 0 }
  return (_tables, _of, _table, figures) => {
    total.bytes = figures.totalBytes
    done.rows += figures.rows
    done.bytes += figures.bytes
    lines.update(done)
  }
}
