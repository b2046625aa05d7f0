import fs from 'node:fs'
import path from 'node:path'
import type { MigrationError } from '../base/errors.js'
import type { UploadedArtifact, UploadSkipped } from '../artifact/store.js'
import type { Visibility } from '../artifact/visibility.js'
import type { Finding } from '../plan/findings.js'
import type { SyncRecord } from '../sync/types.js'
import type { LeftOut, Prerequisites, ResolvedScope, ScopePatterns } from '../scope/types.js'
import type { DumpResult } from '../tools/pg-dump.js'
import type { RestoreResult } from '../tools/pg-restore.js'
import type { Comparison } from '../verify/compare.js'
import type { Fingerprint } from '../verify/fingerprint/index.js'
import type { Mode } from './inputs.js'
import type { StageTiming } from './stages.js'
import type { ProgressSample } from '../base/progress.js'
import type { DiskNeeds } from '../plan/disk.js'
import type { AnalyzeResult } from '../pg/target-work.js'

export type RunResult = 'passed' | 'failed' | 'planned'

/** A failure as the report shows it: the stage, what went wrong, what to do. */
export interface FailureReport {
  stage?: string
  message: string
  hint?: string
}

/** One database's part of the run. */
export interface DatabaseReport {
  /** Source database name. */
  name: string
  /** Target database name. */
  target: string
  findings: Finding[]
  /** What `clean` dropped from the target before the restore. */
  cleaned?: string[]
  /** Roles created NOLOGIN on the target because the dump names them. */
  createdRoles?: string[]
  /** The role the restore ran as, which owns what it restored (pg/restore-role.ts); absent: the target login. */
  restoredAs?: string
  dump?: { path: string; bytes: number; files: number; snapshot?: string; seconds: number }
  /** The run wrote to the target database and did not undo it: a cancelled run says so. */
  targetTouched?: boolean
  /** `followed`: tables loaded while pg_dump wrote them. */
  restore?: { seconds: number; items: number; followed?: string[] }
  /** migrate: the plan's estimate of what the dump folder needs each way, and what was free under dump-path. */
  disk?: DiskNeeds
  /** migrate: how the rows moved (copy-method), and why. */
  copyMethod?: { method: 'dump' | 'stream'; why: string }
  /** The rows went by the stream, never on the runner's disk: what moved. */
  stream?: StreamRecord
  /** What the load asked of the target besides the rows: statistics carried, ANALYZE. */
  targetWork?: TargetWork
  /** Transactions that wrote on the source server (any database) while the migration ran: not in the copy, by design of the snapshot. */
  writesDuringRun?: number
  /** sync: logical: the change stream, the cutover and the downtime window. */
  sync?: SyncRecord
  sourceFingerprint?: Fingerprint
  targetFingerprint?: Fingerprint
  comparison?: Comparison
  /** A few primary keys of differing rows, per table. */
  differingRows?: Record<string, string[]>
  /** What moved, when filters were given: the filters, what they left out and why, what the run made for them. */
  scope?: { patterns: ScopePatterns; leftOut: LeftOut[]; prerequisites: Prerequisites }
  /** What a resumed run kept, loaded again and created. */
  resume?: ResumeReport
  /** The long stages' progress lines as figures: a timeline of rows and bytes done, rate and time left. */
  progress?: ProgressSample[]
  error?: FailureReport
}

export interface TargetWork {
  /** pg_dump carried the source's planner statistics (pg_dump 18 --statistics, onto an 18 target). */
  statisticsCarried?: boolean
  analyze?: AnalyzeResult
}

export interface StreamRecord {
  tables: number
  rows: number
  /** Bytes of COPY text moved. */
  bytes: number
  /** The most COPY text one pair of sessions held in the runner's memory at once. */
  peakHeldBytes: number
  /** Tables checked against hashes taken in flight; the others were checksummed server-side on both sides. */
  hashedInFlight: number
  /** Of the others, tables checksummed by value on both sides, as that costs the target less than reading their text back. */
  hashedByValue?: number
  /** Pairs of sessions (one COPY TO on the source, one COPY FROM on the target) that moved rows. */
  sessions: number
  /** sync: logical: the changes made after the snapshot were applied, the rows they touched compared at cutover. */
  changesFollowed?: boolean
}

/** A run that continued one that ended early in the same target database. */
export interface ResumeReport {
  /** The run whose dump was loaded. */
  runId: string
  /** `earlier`: that run's dump (its folder or artifact); `new`: it was gone, so a new dump was made and compared. */
  dump: 'earlier' | 'new'
  /** Tables whose rows on the target matched the dump's source fingerprint (count and checksum). */
  kept: string[]
  /** Tables emptied and loaded again. */
  reloaded: string[]
  /** Dump entries restored because the target lacked what they make (schema and post-data items). */
  created: string[]
  seconds: number
  /**
   * A resumed stream: the pieces (tables, or block ranges of big ones) the earlier run committed and
   * this one kept, and those it streamed. `kept` then names the tables kept whole, `reloaded` those
   * kept in part (the rest of their ranges streamed), `streamedWhole` counts the tables streamed
   * whole, and `emptied` names tables whose size had changed on the source, so none of their
   * earlier ranges could be kept.
   */
  pieces?: { kept: number; streamed: number }
  streamedWhole?: number
  emptied?: string[]
}

/** The whole run: the JSON report is this value; the summary and outputs are read from it. */
export interface RunReport {
  mode: Mode
  result: RunResult
  startedAt: string
  durationSeconds: number
  sourceVersion?: string
  targetVersion?: string
  clientVersion?: string
  dumpPath?: string
  /** The repository's visibility: in a public one the summary and the log name no row's values. */
  visibility?: Visibility
  mismatches: number
  stages: StageTiming[]
  databases: DatabaseReport[]
  artifact?: UploadedArtifact | UploadSkipped | { failed: string }
  error?: FailureReport
  /** The signal that cancelled the run (the runner sends SIGINT, then SIGTERM). */
  cancelled?: NodeJS.Signals
  /** The Civo database the target was resolved from, and what the run opened in its firewall. */
  civo?: CivoReport
  /** Progress of the run's own long stages (restore mode's download), as the databases' `progress`. */
  progress?: ProgressSample[]
}

export interface CivoReport {
  databaseId: string
  name: string
  /** civo-create made it in this run. */
  created: boolean
  firewall?: {
    firewallId: string
    /** The runner's address admitted, e.g. 203.0.113.7/32. */
    cidr: string
    port: number
    label: string
    openedAt: string
    /** How long the rule was in place, once removed (or the removal failed). */
    seconds?: number
    removed?: boolean
    /** Rules left by runners that stopped before removing theirs, removed by this run. */
    leftoversRemoved: string[]
  }
}

export function newReport(mode: Mode): RunReport {
  return {
    mode,
    result: 'failed',
    startedAt: new Date().toISOString(),
    durationSeconds: 0,
    mismatches: 0,
    stages: [],
    databases: []
  }
}

/** A verification's result: both fingerprints, their comparison, and keys of differing rows. */
export interface Verification {
  source: Fingerprint
  target: Fingerprint
  comparison: Comparison
  differingRows?: Record<string, string[]>
}

/**
 * What a mode's flow records about one database. Write only: the flow passes values between its
 * steps itself, the report just keeps them.
 */
export class DatabaseRecorder {
  constructor(
    readonly report: DatabaseReport,
    private readonly run: RunReport
  ) {}

  get name(): string {
    return this.report.name
  }

  /** Where a long stage's progress samples go. */
  progressTimeline(): ProgressSample[] {
    this.report.progress ??= []
    return this.report.progress
  }

  cleaned(objects: string[]): void {
    this.report.cleaned = objects
  }

  createdRoles(roles: string[]): void {
    this.report.createdRoles = roles
  }

  restoredAs(role: string): void {
    this.report.restoredAs = role
  }

  statisticsCarried(): void {
    this.report.targetWork = { ...this.report.targetWork, statisticsCarried: true }
  }

  analyzed(result: AnalyzeResult): void {
    this.report.targetWork = { ...this.report.targetWork, analyze: result }
  }

  targetTouched(touched: boolean): void {
    this.report.targetTouched = touched
  }

  dumped(dump: DumpResult): void {
    this.report.dump = {
      path: dump.path,
      bytes: dump.bytes,
      files: dump.files,
      snapshot: dump.snapshot,
      seconds: dump.seconds
    }
    if (dump.options.includes('--statistics')) this.statisticsCarried()
  }

  copiedBy(method: 'dump' | 'stream', why: string): void {
    this.report.copyMethod = { method, why }
  }

  streamed(record: StreamRecord): void {
    this.report.stream = record
  }

  restored(result: RestoreResult): void {
    this.report.restore = { seconds: result.seconds, items: result.items, followed: result.followed }
  }

  writesDuringRun(transactions: number): void {
    this.report.writesDuringRun = transactions
  }

  /** The sync's record so far: kept up to date, so a failed or cancelled sync still shows how far it got. */
  synced(record: SyncRecord): void {
    this.report.sync = record
  }

  /** The source side alone (dump mode: it travels in the manifest). */
  sourceFingerprinted(fingerprint: Fingerprint | undefined): void {
    this.report.sourceFingerprint = fingerprint
  }

  verified(verification: Verification): void {
    this.report.sourceFingerprint = verification.source
    this.report.targetFingerprint = verification.target
    this.report.comparison = verification.comparison
    if (verification.differingRows && Object.keys(verification.differingRows).length > 0)
      this.report.differingRows = verification.differingRows
  }

  /** The dump's artifact; the run keeps the last one (a run with several databases uploads each). */
  uploaded(outcome: NonNullable<RunReport['artifact']>): void {
    this.run.artifact = outcome
  }

  resumed(resume: ResumeReport): void {
    this.report.resume = resume
  }

  failed(error: MigrationError, hint: string | undefined): void {
    this.report.error = { stage: error.stage, message: error.message, hint }
  }
}

/** The filters as the report keeps them: not the lists of what moves, which the fingerprints hold. */
export function scopeReport(scope: ResolvedScope): NonNullable<DatabaseReport['scope']> {
  return { patterns: scope.patterns, leftOut: scope.leftOut, prerequisites: scope.prerequisites }
}

export function writeJsonReport(report: RunReport, reportPath: string): void {
  fs.mkdirSync(path.dirname(reportPath), { recursive: true })
  fs.writeFileSync(reportPath, JSON.stringify(report, null, 2) + '\n')
}

/** Differences that fail verification, over every database. */
export function unexpectedDifferences(report: RunReport): number {
  return report.databases.reduce((n, d) => n + (d.comparison?.differences.filter((x) => !x.expected).length ?? 0), 0)
}
