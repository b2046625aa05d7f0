// The copy step that keeps the rows off the runner's disk: pg_dump writes the schema (and what the
// stream does not carry: sequences, large objects, extensions' configuration rows), pg_restore makes
// the tables, the rows stream from source sessions in the held snapshot into target sessions,
// hashed on the way, and pg_restore does the rest. Beside that rest, the source's fingerprint reads
// what the stream did not hash (the catalog, sequences, tables hashed server-side).
import type { DatabaseRecorder } from '../../action/report.js'
import { Stage, within } from '../../action/stages.js'
import { settledLater } from '../../base/async.js'
import { scopeSql } from '../../scope/sql.js'
import {
  BY_VALUE,
  checksumByValue,
  removeSchemaDump,
  startStreamCopy,
  streamedTables,
  type StreamedTable,
  type StreamResult
} from '../../stream/step.js'
import type { Restorer } from '../../tools/pg-restore.js'
import { fingerprintSequences, type Fingerprint, type SequenceFingerprint } from '../../verify/fingerprint/index.js'
import type { CopyMeans, MigrateJob } from '../job.js'
import { dumpRequestFor, restorerFor } from './client-requests.js'
import type { Copied, CopyStep, HeldSource, TargetWriter } from './copy-step.js'
import { LoadWatch } from './load-watch.js'
import { fingerprintSourceBeside, scopeInSnapshot } from './source.js'

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
  private readonly watch: LoadWatch
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
    this.watch = new LoadWatch(job, means, record)
    // sync: the sync's publication, and the triggers when the target would fire them for replayed changes, wait.
    this.restorer.options.holdBack = held.holdBack
  }

  async run(): Promise<Copied> {
    const { job, held } = this
    // A sync creates the triggers it held back from the schema's dump at cutover: it stays till then.
    let keepSchemaDump = false
    try {
      // Sequences are outside the snapshot: read before pg_dump reads them, the copy is at or ahead.
      const sequences = await within(Stage.Dump, fingerprintSequences(held.snapshot.client))
      const scope = await within(Stage.Dump, scopeInSnapshot(held.snapshot, job.database))
      const tables = await within(Stage.Dump, streamedTables(held.snapshot.client, scopeSql(scope)))
      if (job.settings.verify === 'full' && job.target.major >= 14)
        await within(Stage.Dump, checksumByValue(held.snapshot.client, tables, scopeSql(scope)))
      const streamed = await this.copy(tables, sequences)
      const sourceFingerprint = await within(Stage.FingerprintSource, this.sourceFingerprint)
      if (job.settings.uploadArtifact)
        this.means.log.info(`${job.database.source}: no artifact: the streamed copy makes no dump of the rows`)
      keepSchemaDump = held.changesFollow
      return {
        tables: tables.length,
        rows: streamed.rows,
        bytes: streamed.bytes,
        sourceFingerprint,
        restorer: this.restorer,
        pending: Promise.resolve(),
        released: () => removeSchemaDump(job.dumpFolder)
      }
    } catch (caught) {
      await this.copied.catch(() => undefined)
      throw await this.watch.stopped(caught, this.writer)
    } finally {
      await this.watch.end()
      await this.sourceFingerprint.catch(() => undefined)
      if (!keepSchemaDump) removeSchemaDump(job.dumpFolder)
    }
  }

  /** pg_dump for the schema, the restore around the stream, the rows streamed; recorded when all are in. */
  private async copy(tables: StreamedTable[], sequences: SequenceFingerprint[]): Promise<StreamResult> {
    const { job, held, means, record } = this
    // Under a sync the hashes taken in the slot's snapshot are what the target is verified against
    // in bulk before the apply writes (sync-hold.ts). Its one pg_dump of the schema, whose parallel
    // workers would fail on the application's DDL (NOWAIT), holds no rows anyway.
    const level = job.settings.verify
    const copy = startStreamCopy({
      dump: {
        ...dumpRequestFor(job, means, held.snapshot),
        compression: 'none',
        jobs: held.changesFollow ? 1 : job.settings.jobs
      },
      tables,
      restorer: this.restorer,
      connector: means.connector,
      source: job.source.endpoint,
      target: job.target.endpoint,
      resume: job.database.resume !== undefined,
      targetMajor: job.target.major,
      jobs: job.settings.jobs,
      level,
      log: means.log,
      prepareTarget: (estimatedRows) =>
        this.watch.begin(this.restorer, estimatedRows, () => this.writer.open(this.restorer)),
      onStreamed: (streamed) => this.fingerprintBeside(streamed, sequences)
    })
    this.copied = settledLater(copy.copied)
    record.dumped(await means.stages.run(Stage.Dump, job.database.source, () => copy.dump.done, false))
    const copied = await within(Stage.Restore, copy.copied)
    await this.watch.loaded()
    if (!copied) throw new Error('internal: the dump passed and the restore around the stream did not run')
    record.restored(copied.restored)
    const { streamed, resumed } = copied
    if (resumed)
      record.resumed({
        runId: job.database.resume?.runId ?? job.database.runId,
        dump: 'new',
        kept: [...streamed.keptTables].sort(),
        reloaded: [...streamed.partlyKeptTables].sort(),
        created: resumed.created,
        seconds: copied.restored.seconds,
        pieces: { kept: streamed.pieces.kept, streamed: streamed.pieces.moved },
        streamedWhole: tables.length - streamed.keptTables.length - streamed.partlyKeptTables.length,
        emptied: resumed.emptied
      })
    record.streamed({
      tables: tables.length,
      rows: streamed.rows,
      bytes: streamed.bytes,
      peakHeldBytes: streamed.peakHeldBytes,
      hashedInFlight: level === 'full' ? streamed.fingerprints.length : 0,
      hashedByValue: tables.filter((table) => table.hashedServerSide === BY_VALUE).length,
      sessions: streamed.sessions,
      ...(held.changesFollow ? { changesFollowed: true } : {})
    })
    return streamed
  }

  /** The rows are in: the source's fingerprint reads the rest of the snapshot beside the indexes' builds. */
  private fingerprintBeside(streamed: StreamResult, sequences: SequenceFingerprint[]) {
    const { job, held, means, record } = this
    const fingerprinted = fingerprintSourceBeside(
      job,
      { snapshot: held.snapshot, sequences, known: streamed.fingerprints },
      means,
      record
    )
    this.sourceFingerprint = settledLater(
      fingerprinted.then((fingerprint) => {
        record.sourceFingerprinted(fingerprint)
        return fingerprint
      })
    )
  }
}
