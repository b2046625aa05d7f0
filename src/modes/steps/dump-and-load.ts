// The copy step of today's migrate: pg_dump from the held snapshot into the dump folder, the load
// following it (pg_restore, and COPY of the tables whose files it can read as they grow); beside the
// rest of the load, the source fingerprinted in the snapshot, the manifest written, the dump uploaded.
import type { DatabaseRecorder } from '../../action/report.js'
import { Stage, within } from '../../action/stages.js'
import { settledLater } from '../../base/async.js'
import { dataFileReader, followableTables, restoreBesideDump } from '../../tools/follow.js'
import {
  chooseCompression,
  compressionArgument,
  startDump,
  type DumpRun,
  type DumpResult
} from '../../tools/pg-dump.js'
import type { Restorer, RestoreResult } from '../../tools/pg-restore.js'
import { fingerprintSequences, type Fingerprint, type SequenceFingerprint } from '../../verify/fingerprint/index.js'
import type { CopyMeans, MigrateJob } from '../job.js'
import { dumpRequestFor, restorerFor } from './client-requests.js'
import type { Copied, CopyStep, HeldSource, TargetWriter } from './copy-step.js'
import { LoadWatch } from './load-watch.js'
import { fingerprintSourceBeside, writeDumpManifest } from './source.js'
import { uploadDumpArtifact, uploadRequestFor } from './upload.js'

/** The dump followed by the load. */
export const dumpAndLoad: CopyStep = {
  name: 'dump',
  copy(job, held, writer, means, record) {
    // The dump, the load beside it, the source checksums and the upload overlap: one log group for all.
    return means.log.group(`Dump and restore: ${job.database.source}`, () =>
      new DumpAndLoad(job, held, writer, means, record).run()
    )
  }
}

/** One run of the step: the dump, the load that follows it, and what it knows of both so far. */
class DumpAndLoad {
  private readonly restorer: Restorer
  private readonly watch: LoadWatch
  private sourceFingerprint: Promise<Fingerprint | undefined> = Promise.resolve(undefined)
  private sequences: SequenceFingerprint[] = []
  private restore: Promise<RestoreResult | undefined> = Promise.resolve(undefined)

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
    try {
      const { dump, restore } = await this.startDumpAndLoad()
      this.restore = restore
      const dumped = await this.means.stages.run(Stage.Dump, this.job.database.source, () => dump.done, false)
      this.record.dumped(dumped)
      const pending = this.besideTheLoad(dumped)
      // The restore's own error explains more than a fingerprint it cut short.
      const restored = await within(Stage.Restore, restore)
      await this.watch.loaded()
      if (restored) this.record.restored(restored)
      await within(Stage.FingerprintSource, pending.manifest)
      const sourceFingerprint = await this.sourceFingerprint
      return {
        ...loadedOf(dumped, sourceFingerprint),
        sourceFingerprint,
        restorer: this.restorer,
        pending: pending.upload
      }
    } catch (caught) {
      // What the load says now only follows from the failure, which is reported.
      await this.restore.catch(() => undefined)
      throw await this.watch.stopped(caught, this.writer)
    } finally {
      await this.watch.end()
      await this.sourceFingerprint.catch(() => undefined)
    }
  }

  /** pg_dump, from the held snapshot, and the load beside it: it touches the target once toc.dat is written. */
  private async startDumpAndLoad(): Promise<{ dump: DumpRun; restore: Promise<RestoreResult | undefined> }> {
    const { job, held, means, record } = this
    const { connector } = means
    const { client } = means.programs
    const snapshot = held.snapshot.client
    // One after the other: the three read on the snapshot's one connection. Sequences are outside the
    // snapshot: read before pg_dump reads them, the copy is at or ahead.
    const sequences = await within(Stage.Dump, fingerprintSequences(snapshot))
    const followable = await within(Stage.Dump, followableTables(snapshot))
    const compression = await within(
      Stage.Dump,
      chooseCompression({
        requested: job.settings.compression,
        uploads: job.settings.uploadArtifact,
        dir: job.dumpFolder,
        source: snapshot,
        log: means.log
      })
    )
    this.sequences = sequences
    const dump = startDump({
      ...dumpRequestFor(job, means, held.snapshot),
      progress: { connect: () => connector.connect(job.source.endpoint), timeline: record.progressTimeline() },
      // A source that changes meanwhile: one pg_dump process. A parallel dump's workers lock with
      // NOWAIT and fail on the first TRUNCATE or DDL the application queues; one process only makes those wait.
      jobs: held.changesFollow ? 1 : job.settings.jobs,
      compression
    })
    const restore = settledLater(
      restoreBesideDump(dump, {
        restorer: this.restorer,
        scope: means,
        connector,
        encoding: job.database.encoding,
        targetMajor: job.target.major,
        tables: followable,
        // A one-process dump writes toc.dat last: the restore waits for it.
        reader: held.changesFollow ? undefined : dataFileReader(compressionArgument(compression, client.major)),
        prepareTarget: () => this.openTarget(dump)
      })
    )
    return { dump, restore }
  }

  /** When the load begins: the target readied and the writer opened, the load watched. */
  private async openTarget(dump: DumpRun): Promise<void> {
    await this.watch.begin(this.restorer, dump.estimatedRows, () => this.writer.open(this.restorer))
  }

  /** Beside the rest of the load: the source checksums in the dump's snapshot, the manifest, the upload. */
  private besideTheLoad(dumped: DumpResult): { manifest: Promise<unknown>; upload: Promise<unknown> } {
    const { job, held, means, record } = this
    const { log, stages } = means
    const fingerprinted = fingerprintSourceBeside(
      job,
      { snapshot: held.snapshot, sequences: this.sequences },
      means,
      record
    )
    this.sourceFingerprint = fingerprinted
    const manifest = settledLater(
      fingerprinted.then((fingerprint) => {
        record.sourceFingerprinted(fingerprint)
        return writeDumpManifest({
          job: job.database,
          dump: dumped,
          client: means.programs.client,
          sourceVersion: job.source.version,
          snapshot: held.snapshot,
          fingerprint,
          log
        })
      })
    )
    if (!job.settings.uploadArtifact) return { manifest, upload: Promise.resolve() }
    const request = uploadRequestFor(job, means)
    const upload = settledLater(
      manifest.then(() =>
        stages.run(
          Stage.UploadArtifact,
          job.database.source,
          () => uploadDumpArtifact(request, (o) => record.uploaded(o)),
          false
        )
      )
    )
    return { manifest, upload }
  }
}

/** What the dump and load moved: the fingerprint's exact counts when there is one. */
function loadedOf(dumped: DumpResult, fingerprint: Fingerprint | undefined): Pick<Copied, 'tables' | 'rows' | 'bytes'> {
  const tables = fingerprint?.tables ?? []
  return {
    tables: fingerprint ? tables.length : dumped.toc.filter((line) => / TABLE DATA /.test(line)).length,
    rows: tables.reduce((sum, table) => sum + table.rows, 0),
    bytes: dumped.bytes
  }
}
