import type { Cancellation } from '../base/cancellation.js'
import type { Log } from '../base/log.js'
import { CancelledError, type MigrationError } from '../base/errors.js'
import { hintFor, type HintContext } from './hints.js'
import { unexpectedDifferences, type RunReport } from './report.js'

/** The run's result once every database had its turn: a failed database or a difference fails it. */
export function conclude(report: RunReport, failOnMismatch: boolean, log: Log): void {
  report.mismatches = unexpectedDifferences(report)
  const failedDatabase = report.databases.find((d) => d.error)
  report.result = failedDatabase || report.mismatches > 0 ? 'failed' : 'passed'
  if (failedDatabase?.error) report.error = failedDatabase.error
  else if (report.mismatches > 0) {
    report.error = {
      stage: 'Verify',
      message: `${report.mismatches} differences between source and target`,
      hint:
        report.visibility === 'public'
          ? 'each difference is listed with its table and the number of differing rows; the JSON report on the runner holds their keys'
          : 'each difference is listed with its table and the keys of differing rows; the JSON report holds them all'
    }
    if (!failOnMismatch)
      log.warning(`${report.mismatches} differences found; fail-on-mismatch is false, so the step passes`)
  }
}

/** A failure that ended the run early: bad input, a blocker, a failed plan, or a cancellation. */
export function recordFailure(
  report: RunReport,
  error: MigrationError,
  cancellation: Cancellation,
  hints: HintContext
): void {
  report.result = 'failed'
  const signal = cancellation.signal
  if (!signal) {
    report.error = { stage: error.stage, message: error.message, hint: hintFor(error, hints) }
    return
  }
  // Once cancelled, whatever failed failed because of it (a closed connection, a stopped child).
  report.cancelled = signal
  const stage =
    report.databases.find((d) => d.error?.stage)?.error?.stage ??
    error.stage ??
    report.stages.findLast((s) => s.status === 'running')?.stage ??
    'Start'
  const targetTouched = report.databases.some((d) => d.targetTouched)
  report.error = {
    stage,
    message: `the run was cancelled (${signal}) during ${stage}: child processes stopped, connections closed`,
    hint: hintFor(new CancelledError(signal), { ...hints, targetTouched })
  }
}

/**
 * The lines that fail the step: one per failed database (naming the stage and the fix), or the
 * run's own error; none when it passed or only differed with fail-on-mismatch false.
 */
export function failureLines(report: RunReport, failOnMismatch: boolean): string[] {
  if (report.result !== 'failed') return []
  const withHint = (message: string, hint?: string): string => (hint ? `${message} — ${hint}` : message)
  if (report.cancelled || !report.databases.some((d) => d.error)) {
    if (!report.cancelled && report.mismatches > 0 && !failOnMismatch && !report.databases.some((d) => d.error))
      return []
    return [report.error ? withHint(report.error.message, report.error.hint) : 'migration failed']
  }
  return report.databases
    .filter((d) => d.error)
    .map(({ name, error }) => withHint(`${name}: ${error?.stage} failed: ${error?.message}`, error?.hint))
}
