import { formatBytes } from './files.js'
import type { Log } from './log.js'
import { count, thousands } from './text.js'

/** One point of a long stage's progress, as the log line said it; the JSON report keeps them as a timeline. */
export interface ProgressSample {
  stage: string
  /** Seconds since the stage started. */
  at: number
  rows: number
  bytes: number
  /** The stage's total rows when known beforehand (the source's estimate: `about`). */
  totalRows?: number
  /** The stage's total bytes when known and no row total is (checksums: the tables' sizes). */
  totalBytes?: number
  rowsPerSecond: number
  bytesPerSecond: number
  /** At the current rate; absent without a total. */
  secondsLeft?: number
}

/** Figures read from where they are true (the server's COPY progress), summed over the stage. */
export interface ProgressFigures {
  rows: number
  bytes: number
}

/**
 * What the stage will come to, when known beforehand: rows (the source's estimate), else bytes. The
 * share, the quarters and the time left follow the rows when there is a row total.
 */
export interface ProgressTotals {
  rows?: number
  bytes?: number
}

/**
 * A long stage's progress in the log: one line every `intervalSeconds` and at each quarter of the
 * total, never more than one per sample; each line also goes into `timeline`.
 */
export class ProgressLog {
  private readonly started: number
  private lastLine: number
  private quarter = 0

  constructor(
    private readonly log: Log,
    private readonly stage: string,
    private readonly timeline: ProgressSample[],
    private readonly total: ProgressTotals = {},
    private readonly clock: () => number = () => performance.now(),
    private readonly intervalSeconds = 30
  ) {
    this.started = clock()
    this.lastLine = this.started
  }

  update(figures: ProgressFigures): void {
    const now = this.clock()
    const share = this.share(figures)
    const quarter = share === undefined ? 0 : Math.min(4, Math.floor(4 * share))
    const due = (now - this.lastLine) / 1000 >= this.intervalSeconds
    if (quarter <= this.quarter && !due) return
    this.quarter = Math.max(this.quarter, quarter)
    this.lastLine = now
    const sample = this.sample(figures, (now - this.started) / 1000)
    this.timeline.push(sample)
    this.log.info(progressLine(sample))
  }

  /** How far the stage is, 0 to 1, by rows when their total is known, else by bytes. */
  private share(figures: ProgressFigures): number | undefined {
    const { rows, bytes } = this.total
    if (rows) return figures.rows / rows
    if (bytes) return figures.bytes / bytes
    return undefined
  }

  private sample(figures: ProgressFigures, seconds: number): ProgressSample {
    const rate = (n: number): number => (seconds > 0 ? Math.round(n / seconds) : 0)
    const rowsPerSecond = rate(figures.rows)
    const bytesPerSecond = rate(figures.bytes)
    const { rows: totalRows, bytes: totalBytes } = this.total
    const left =
      totalRows !== undefined
        ? rowsPerSecond > 0
          ? (totalRows - figures.rows) / rowsPerSecond
          : undefined
        : totalBytes !== undefined && bytesPerSecond > 0
          ? (totalBytes - figures.bytes) / bytesPerSecond
          : undefined
    return {
      stage: this.stage,
      at: Math.round(seconds * 10) / 10,
      ...figures,
      ...(totalRows !== undefined ? { totalRows } : totalBytes !== undefined ? { totalBytes } : {}),
      rowsPerSecond,
      bytesPerSecond,
      ...(left !== undefined ? { secondsLeft: Math.max(0, Math.round(left)) } : {})
    }
  }
}

/** `dump: 1,200,000 of about 4,800,000 rows (25%), 96.0 MiB; 40,000 rows/s, 3.2 MiB/s; about 1 min 30 s left` */
export function progressLine(sample: ProgressSample): string {
  const percent = (done: number, total: number): string => ` (${Math.min(100, Math.round((100 * done) / total))}%)`
  const { totalRows, totalBytes } = sample
  // A stage that moves no rows (a download) says bytes only.
  const counted = totalRows !== undefined || sample.rows > 0
  const rows = totalRows
    ? `${thousands(sample.rows)} of about ${count(totalRows, 'row')}${percent(sample.rows, totalRows)}, `
    : counted
      ? `${count(sample.rows, 'row')}, `
      : ''
  const rowRate = counted ? `${count(sample.rowsPerSecond, 'row')}/s, ` : ''
  const bytes = totalBytes
    ? `${formatBytes(sample.bytes)} of ${formatBytes(totalBytes)}${percent(sample.bytes, totalBytes)}`
    : formatBytes(sample.bytes)
  const left = sample.secondsLeft !== undefined ? `; about ${duration(sample.secondsLeft)} left` : ''
  return `${sample.stage}: ${rows}${bytes}; ${rowRate}${formatBytes(sample.bytesPerSecond)}/s${left}`
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}
