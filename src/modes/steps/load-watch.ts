// What each copy step keeps while the target loads, whichever way the rows move: the Restore stage,
// the rows' progress, the index builds pg_restore starts; and, when the copy stops early, what the
// target is left holding, which decides the stage the error names and the advice that follows.
import { analyzeAhead, type AnalyzeAhead } from '../../action/analyze-ahead.js'
import { followIndexBuilds, type IndexBuilds } from '../../action/index-builds.js'
import type { DatabaseRecorder } from '../../action/report.js'
import { Stage, type StageTimer } from '../../action/stages.js'
import { asMigrationError } from '../../base/errors.js'
import { indexedTableBytes, logCopyProgress } from '../../pg/copy-progress.js'
import type { Restorer } from '../../tools/pg-restore.js'
import type { CopyMeans, MigrateJob } from '../job.js'
import type { TargetWriter } from './copy-step.js'

export class LoadWatch {
  private restoreTimer: StageTimer | undefined
  private progress: { stop(): Promise<void> } | undefined
  private indexBuilds: IndexBuilds | undefined
  private analyzing: AnalyzeAhead | undefined

  constructor(
    private readonly job: MigrateJob,
    private readonly means: CopyMeans,
    private readonly record: DatabaseRecorder
  ) {}

  /**
   * The load begins: the Restore stage (readying the target is its first part), then the COPY's
   * progress against the rows expected, and the index builds. Returns what `open` gave.
   */
  async begin<Opened>(
    restorer: Restorer,
    estimatedRows: Promise<number>,
    open: () => Promise<Opened>
  ): Promise<Opened> {
    const { job, means, record } = this
    const connect = () => means.connector.connect(job.target.endpoint)
    this.restoreTimer = means.stages.begin(Stage.Restore, job.database.source)
    const opened = await open()
    this.progress = logCopyProgress({
      connect,
      command: 'COPY FROM',
      stage: 'load',
      timeline: record.progressTimeline(),
      estimatedRows,
      log: means.log
    })
    this.indexBuilds = followIndexBuilds({
      restorer,
      stages: means.stages,
      database: job.database.source,
      connect,
      timeline: record.progressTimeline(),
      scannedBytes: () => means.connector.withConnection(job.source.endpoint, indexedTableBytes),
      log: means.log
    })
    this.analyzing = analyzeAhead({
      restorer,
      connectSource: () => means.connector.connect(job.source.endpoint),
      connectTarget: () => means.connector.connect(restorer.endpoint),
      log: means.log
    })
    return opened
  }

  /** The rows and pg_restore's part are in. */
  async loaded(): Promise<void> {
    await this.analyzing?.ended()
    this.restoreTimer?.ok()
    this.restoreTimer = undefined
    await this.indexBuilds?.ended()
  }

  /** Whatever the outcome: the progress lines stop, and no table starts its ANALYZE any more. */
  async end(): Promise<void> {
    await this.progress?.stop()
    await this.analyzing?.ended()
    await this.indexBuilds?.ended(new Error('stopped'))
  }

  /**
   * The copy stopped (failed or cancelled) before the target held a whole copy. A database this run
   * created is dropped again; the stage the error names follows from what the target holds then: a
   * target left as it was names the Dump, one that keeps part of a copy names the Restore.
   */
  async stopped(caught: unknown, writer: TargetWriter): Promise<Error> {
    const error = asMigrationError(caught)
    await this.analyzing?.ended()
    const created = writer.state === 'created'
    const dumpFailed = error.stage === Stage.Dump
    const cancelled = this.means.cancellation.signal !== undefined
    // A failed load into a database this run made is kept: its error and the hint (clean) say what to do.
    const leftAsItWas = dumpFailed || cancelled ? await writer.undo() : writer.state === 'untouched'
    if (cancelled) error.stage = leftAsItWas ? Stage.Dump : Stage.Restore
    const dropped = created && leftAsItWas ? '; the database it had created was dropped' : ''
    const why = dumpFailed ? new Error(`stopped: the dump failed${dropped}`) : error
    this.restoreTimer?.failed(why)
    await this.indexBuilds?.ended(why)
    return error
  }
}
