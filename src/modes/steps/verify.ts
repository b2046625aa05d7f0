import type { DatabaseRecorder, Verification } from '../../action/report.js'
import { Stage, type Stages } from '../../action/stages.js'
import type { Visibility } from '../../artifact/visibility.js'
import type { Log } from '../../base/log.js'
import type { Connector } from '../../pg/connection.js'
import type { Endpoint } from '../../pg/endpoint.js'
import type { ProgressSample } from '../../base/progress.js'
import { compareOnTarget, type Comparison, type Difference } from '../../verify/compare.js'
import {
  fingerprintDatabase,
  type Fingerprint,
  type FingerprintOptions,
  type TableFingerprint
} from '../../verify/fingerprint/index.js'
import { checksumProgress } from '../../verify/fingerprint/progress.js'
import { locateDifferingRows } from '../../verify/locate.js'
import type { DatabaseJob } from '../../plan/plan.js'
import { analyzeTarget } from './target.js'

/** What a verification reads and how closely. */
export interface VerifySettings {
  verify: 'full' | 'counts' | 'none'
  jobs: number
  validationQueries: string[]
  privileges: 'skip' | 'keep'
}

/** How closely to read one side. */
export type ReadSettings = Pick<VerifySettings, 'verify' | 'jobs' | 'validationQueries'>

export function fingerprintOptions(
  settings: ReadSettings,
  log: Log,
  side: 'source' | 'target',
  snapshot: string | undefined,
  /** Where the checksums' progress samples go (the JSON report's timeline). */
  timeline: ProgressSample[]
): FingerprintOptions {
  return {
    level: settings.verify === 'counts' ? 'counts' : 'full',
    jobs: settings.jobs,
    snapshot,
    validationQueries: settings.validationQueries,
    onProgress: checksumProgress(log, `${side} checksums`, timeline)
  }
}

/** What one target's verification reads and compares. */
export interface VerifyRequest {
  database: Pick<DatabaseJob, 'source'>
  settings: VerifySettings
  target: Endpoint
  /** The live source, where the keys of differing rows are looked for; null when there is none (restore). */
  source: Endpoint | null
  /** Target tables already read in this run whose rows have not changed since (a resume's kept tables). */
  known: TableFingerprint[]
  /** Where ANALYZE runs, as the restore role when the run restored as one: its own grants are not compared. */
  writer: Endpoint
  /** Differences found before verify (a sync's changed rows, compared by key at cutover). */
  found?: FoundEarlier
}

/** Differences a step before verify found, and a few keys of the rows that differ, per table. */
export interface FoundEarlier {
  differences: Difference[]
  differingRows: Record<string, string[]>
  /** ANALYZE ran already (a sync runs it beside the stream, outside the downtime window). */
  analyzed?: boolean
}

/**
 * Fingerprints the restored target the way the source was fingerprinted (each table hashed as the
 * source side did, so the checksums compare), compares, and looks for differing keys on the source
 * when it can be reached.
 */
async function verifyTarget(
  request: VerifyRequest,
  means: { connector: Connector; log: Log; timeline: ProgressSample[] },
  sourceFingerprint: Fingerprint
): Promise<Verification> {
  const { connector, log } = means
  const { settings, target, source } = request
  // Read what the source's fingerprint covers: what moved, when filters chose it.
  const options = {
    ...fingerprintOptions(settings, log, 'target', undefined, means.timeline),
    like: sourceFingerprint.tables,
    scope: sourceFingerprint.scope,
    known: request.known
  }
  const targetFingerprint = await fingerprintDatabase(() => connector.connect(target), options)
  const writer = request.writer.user !== target.user ? request.writer.user : undefined
  const compared = await compareOnTarget(() => connector.connect(target), sourceFingerprint, targetFingerprint, {
    privileges: settings.privileges,
    restoredFromSnapshot: true,
    restoreRole: writer
  })
  const comparison = withFound(compared, request.found)
  const found = request.found?.differingRows ?? {}
  const located = source
    ? await locateRows(connector, log, comparison, sourceFingerprint.tables, source, target, Object.keys(found))
    : undefined
  const differingRows = located || request.found ? { ...located, ...found } : undefined
  return { source: sourceFingerprint, target: targetFingerprint, comparison, differingRows }
}

/** The comparison with what was found before it added. */
function withFound(comparison: Comparison, found: FoundEarlier | undefined): Comparison {
  if (!found?.differences.length) return comparison
  const differences = [...comparison.differences, ...found.differences]
  return { passed: differences.every((difference) => difference.expected), differences }
}

/**
 * The Verify stage of every mode that writes: the target verified beside ANALYZE, which only reads
 * the data (the fingerprint's sequential scans do not wait for it); then recorded and logged.
 */
export async function verifyBesideAnalyze(
  request: VerifyRequest,
  means: { connector: Connector; log: Log; stages: Stages; visibility: Visibility },
  record: DatabaseRecorder,
  sourceFingerprint: Fingerprint
): Promise<Verification> {
  const { connector, log, stages } = means
  const database = request.database.source
  const verification = await stages.run(Stage.Verify, database, async () => {
    const [verified] = await Promise.all([
      verifyTarget(request, { ...means, timeline: record.progressTimeline() }, sourceFingerprint),
      request.found?.analyzed ? Promise.resolve() : analyzeTarget(connector, request.writer, record)
    ])
    return verified
  })
  record.verified(verification)
  logVerification(log, database, verification, means.visibility)
  return verification
}

/** A few primary keys of the rows that differ, per table whose rows or checksum differ. */
export async function locateRows(
  connector: Connector,
  log: Log,
  comparison: Comparison,
  sourceTables: TableFingerprint[],
  source: Endpoint,
  target: Endpoint,
  /** Tables whose differing keys are known already. */
  located: string[] = []
): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {}
  for (const difference of comparison.differences) {
    if (difference.expected || (difference.kind !== 'checksum' && difference.kind !== 'rows')) continue
    if (located.includes(difference.object)) continue
    const table = sourceTables.find((t) => t.schema === difference.table?.schema && t.name === difference.table?.name)
    if (!table || table.primaryKey.length === 0) continue
    const keys = await locateDifferingRows(
      () => connector.connect(source),
      () => connector.connect(target),
      table,
      { limit: 5 }
    ).catch((error) => {
      log.debug(`locating rows in ${difference.object}: ${(error as Error).message}`)
      return []
    })
    if (keys.length) found[difference.object] = keys
  }
  return found
}

/**
 * One log line per unexpected difference (the first 50), or one saying there were none. Plain lines:
 * the step's one error line counts them (see failureLines).
 */
export function logVerification(log: Log, database: string, verification: Verification, visibility?: Visibility): void {
  const differences = verification.comparison.differences.filter((d) => !d.expected)
  if (differences.length === 0) {
    log.info(`${database}: verified, no differences (${verification.target.tables.length} tables)`)
    return
  }
  // A public repository's log is public: the count of differing rows, never their keys.
  const keysOf = (object: string): string => {
    const keys = verification.differingRows?.[object]
    if (!keys) return ''
    if (visibility !== 'public') return ` (keys ${keys.join(', ')})`
    return ` (${keys.length} differing rows located; their keys are in the JSON report on the runner)`
  }
  for (const d of differences.slice(0, 50)) {
    log.info(`${database}: ${d.kind} differs for ${d.object}${d.detail ? `: ${d.detail}` : ''}${keysOf(d.object)}`)
  }
}
