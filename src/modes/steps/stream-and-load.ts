// The copy step that keeps the rows off the runner's disk: pg_dump writes the schema (and what the
// stream does not carry: sequences, large objects, extensions' configuration rows), pg_restore makes
// the tables, the rows stream from source sessions in the held snapshot into target sessions,
// hashed on the way, and pg_restore does the rest. Beside that rest, the source's fingerprint reads
// what the stream did not hash (the catalog, sequences, tables hashed server-side).
import type { DatabaseRecorder } from '../../action/report.js'
import { followIndexBuilds, type IndexBuilds } from '../../action/index-builds.js'
import { Stage, within, type StageTimer } from '../../action/stages.js'
import { settledLater } from '../../base/async.js'
import { asMigrationError } from '../../base/errors.js'
import { indexedTableBytes, logCopyProgress } from '../../pg/copy-progress.js'
import { scopeSql } from '../../scope/sql.js'
import { removeSchemaDump, startStreamCopy, streamedTables, type StreamResult } from '../../stream/step.js'
import type { Restorer } from '../../tools/pg-restore.js'
import { fingerprintSequences, type Fingerprint } from '../../verify/fingerprint/index.js'
import type { CopyMeans, MigrateJob } from '../job.js'
import { dumpRequestFor, restorerFor } from './client-requests.js'
import type { Copied, CopyStep, HeldSource, TargetWriter } from './copy-step.js'
import { fingerprintSource, scopeInSnapshot } from './source.js'

export const streamAndLoad: CopyStep = {
  name: 'stream',
  copy(job, held, writer, means, record) {
    return means.log.group(`Schema and streamed rows: ${job.database.source}`, () =>
      new StreamAndLoad(job, held, writer, means, record).run()
    )
  }
}

class StreamAndLoad {
  private readonly restorer: Restorer
  private restoreTimer: StageTimer | undefined
  private loadProgress: { stop(): Promise<void> } | undefined
  private indexBuilds: IndexBuilds | undefined
  private sourceFingerprint: Promise<Fingerprint | undefined> = Promise.resolve(undefined)
  private copied: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly job: MigrateJob,
    private readonly held: HeldSource,
    private readonly writer: TargetWriter,
    private readonly means: CopyMeans,
    private readonly record: DatabaseRecorder
  ) {
    this.restorer = restorerFor(job, means, job.dumpFolder)
  }

  async run(): Promise<Copied> {
    const { job, held, means, record } = this
    const { connector, log, stages } = means
    const source = job.database.source
    try {
      // Sequences are outside the snapshot: read before pg_dump reads them, the copy is at or ahead.
      const sequences = await within(Stage.Dump, fingerprintSequences(held.snapshot.client))
      const scope = await within(Stage.Dump, scopeInSnapshot(held.snapshot, job.database))
      const tables = await within(Stage.Dump, streamedTables(held.snapshot.client, scopeSql(scope)))
      const level = job.settings.verify
      const copy = startStreamCopy({
        dump: { ...dumpRequestFor(job, means, held.snapshot), compression: 'none' },
        tables,
        restorer: this.restorer,
        connector,
        source: job.source.endpoint,
        targetMajor: job.target.major,
        jobs: job.settings.jobs,
        level,
        log,
        prepareTarget: () => this.openTarget(),
        onStreamed: (streamed) => this.fingerprintBeside(streamed, sequences)
      })
      this.copied = settledLater(copy.copied)
      const dumped = await stages.run(Stage.Dump, source, () => copy.dump.done, false)
      this.record.dumped(dumped)
      const copied = await within(Stage.Restore, copy.copied)
      this.restoreTimer?.ok()
      this.restoreTimer = undefined
      await this.indexBuilds?.ended()
      if (!copied) throw new Error('internal: the dump passed and the restore around the stream did not run')
      record.restored(copied.restored)
      const { streamed } = copied
      record.streamed({
        tables: tables.length,
        rows: streamed.rows,
        bytes: streamed.bytes,
        peakHeldBytes: streamed.peakHeldBytes,
        hashedInFlight: level === 'full' ? streamed.fingerprints.length : 0
      })
      const sourceFingerprint = await within(Stage.FingerprintSource, this.sourceFingerprint)
      if (job.settings.uploadArtifact) log.info(`${source}: no artifact: the streamed copy makes no dump of the rows`)
      return {
        tables: tables.length,
        rows: copied.streamed.rows,
        bytes: copied.streamed.bytes,
        sourceFingerprint,
        restorer: this.restorer,
        pending: Promise.resolve()
      }
    } catch (caught) {
      throw await this.stopped(caught)
    } finally {
      await this.loadProgress?.stop()
      await this.indexBuilds?.ended(new Error('stopped'))
      await this.sourceFingerprint.catch(() => undefined)
      removeSchemaDump(job.dumpFolder)
    }
  }

  /** When the load begins: the target readied and the writer opened, the load's progress logged. */
  private async openTarget() {
    const { job, means, record } = this
    this.restoreTimer = means.stages.begin(Stage.Restore, job.database.source)
    const writer = await this.writer.open(this.restorer)
    this.loadProgress = logCopyProgress({
      connect: () => means.connector.connect(job.target.endpoint),
      command: 'COPY FROM',
      stage: 'load',
      timeline: record.progressTimeline(),
      estimatedRows: Promise.resolve(0),
      log: means.log
    })
    // pg_restore builds the indexes after the stream, in the rest of the restore (stream/restore.ts).
    this.indexBuilds = followIndexBuilds({
      restorer: this.restorer,
      stages: means.stages,
      database: job.database.source,
      connect: () => means.connector.connect(job.target.endpoint),
      timeline: record.progressTimeline(),
      scannedBytes: () => means.connector.withConnection(job.source.endpoint, indexedTableBytes),
      log: means.log
    })
    return writer
  }

  /** The rows are in: the source's fingerprint reads the rest of the snapshot beside the indexes' builds. */
  private fingerprintBeside(streamed: StreamResult, sequences: Awaited<ReturnType<typeof fingerprintSequences>>) {
    const { job, held, means, record } = this
    this.sourceFingerprint = settledLater(
      means.stages.run(
        Stage.FingerprintSource,
        job.database.source,
        async () => {
          const fingerprint = await fingerprintSource({
            connector: means.connector,
            log: means.log,
            source: job.source.endpoint,
            snapshot: held.snapshot,
            sequences,
            settings: job.settings,
            job: job.database,
            known: streamed.fingerprints,
            timeline: record.progressTimeline()
          })
          record.sourceFingerprinted(fingerprint)
          return fingerprint
        },
        false
      )
    )
  }

  /** As the dump's step: a database this run created is dropped again when nothing of the copy stays. */
  private async stopped(caught: unknown): Promise<Error> {
    const error = asMigrationError(caught)
    await this.copied.catch(() => undefined)
    const created = this.writer.state === 'created'
    const dumpFailed = error.stage === Stage.Dump
    const cancelled = this.means.cancellation.signal !== undefined
    const leftAsItWas = dumpFailed || cancelled ? await this.writer.undo() : this.writer.state === 'untouched'
    if (cancelled) error.stage = leftAsItWas ? Stage.Dump : Stage.Restore
    const dropped = created && leftAsItWas ? '; the database it had created was dropped' : ''
    const why = dumpFailed ? new Error(`stopped: the dump failed${dropped}`) : error
    this.restoreTimer?.failed(why)
    await this.indexBuilds?.ended(why)
    return error
  }
}
