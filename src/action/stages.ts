import { asMigrationError } from '../base/errors.js'
import type { StepLog } from './runner.js'

/** The stages of a run, in the words the log, the summary and the JSON report use. */
export enum Stage {
  ResolveCivoTarget = 'Resolve Civo target',
  OpenCivoFirewall = 'Open Civo firewall',
  CheckDump = 'Check dump',
  Plan = 'Plan',
  InstallClient = 'Install PostgreSQL client',
  Dump = 'Dump',
  FingerprintSource = 'Checksum source',
  Restore = 'Restore',
  /** Inside the restore: from its first index or constraint to its end. */
  Indexes = 'Build indexes',
  UploadArtifact = 'Upload artifact',
  Sync = 'Sync',
  Cutover = 'Cutover',
  Verify = 'Verify',
  Analyze = 'Analyze',
  Validate = 'Validate'
}

/** How long one stage took; the summary's first table and the log's groups read the same. */
export interface StageTiming {
  stage: Stage
  database?: string
  /** Seconds into the run when it started: stages that ran side by side overlap. */
  start?: number
  seconds: number
  /**
   * `running` while it runs: a cancelled run's report shows what was cut short. `skipped`: it had
   * nothing to do (no upload outside GitHub Actions), `detail` says why.
   */
  status: 'ok' | 'failed' | 'running' | 'skipped'
  detail?: string
}

export interface StageTimer {
  ok(): void
  failed(error: unknown): void
  skipped(reason: string): void
}

/** What a stage's work returns when it did nothing, so the summary does not say `ok` for it. */
export interface Skipped {
  skipped: true
  reason: string
}

function isSkipped(value: unknown): value is Skipped {
  return typeof value === 'object' && value !== null && (value as Partial<Skipped>).skipped === true
}

/** An error thrown in `stage` says so, unless a stage nested inside it already did. */
export function within<T>(stage: Stage, work: Promise<T>): Promise<T> {
  return work.catch((caught: unknown) => {
    const error = asMigrationError(caught)
    error.stage ??= stage
    throw error
  })
}

/** Times stages into `timings` and folds their log lines into groups. */
export class Stages {
  private readonly origin = performance.now()

  constructor(
    readonly timings: StageTiming[],
    private readonly log: StepLog
  ) {}

  /**
   * Runs a stage inside a log group and records its timing, also when it throws; work that returns
   * a Skipped is recorded as skipped. A stage that runs beside another passes grouped false: log
   * groups cannot overlap.
   */
  async run<T>(stage: Stage, database: string | undefined, work: () => Promise<T>, grouped = true): Promise<T> {
    const timer = this.begin(stage, database)
    const title = database ? `${stage}: ${database}` : stage
    try {
      const value = await within(stage, grouped ? this.log.group(title, work) : work())
      if (isSkipped(value)) timer.skipped(value.reason)
      else timer.ok()
      return value
    } catch (error) {
      timer.failed(error)
      throw error
    }
  }

  /** A stage whose start is an event inside another (the restore, once toc.dat is written). */
  begin(stage: Stage, database: string | undefined): StageTimer {
    const started = performance.now()
    const start = Math.round((started - this.origin) / 10) / 100
    const timing: StageTiming = { stage, database, start, seconds: 0, status: 'running' }
    this.timings.push(timing)
    const elapsed = (): number => Math.round((performance.now() - started) / 10) / 100
    return {
      ok: () => Object.assign(timing, { seconds: elapsed(), status: 'ok' }),
      failed: (error) =>
        Object.assign(timing, { seconds: elapsed(), status: 'failed', detail: (error as Error).message }),
      skipped: (reason) => Object.assign(timing, { seconds: elapsed(), status: 'skipped', detail: reason })
    }
  }
}
