import type { MigrateInputs } from '../action/inputs.js'
import type { DatabaseRecorder, Verification } from '../action/report.js'
import { followIndexBuilds } from '../action/index-builds.js'
import { Stage, within, type StageTimer } from '../action/stages.js'
import { settledLater } from '../base/async.js'
import { withDatabase, type Endpoint } from '../pg/endpoint.js'
import { indexedTableBytes, logCopyProgress } from '../pg/copy-progress.js'
import { holdSnapshot, nextTransactionId } from '../pg/snapshot.js'
import { carryDatabaseSettings } from '../settings/database-settings.js'
import type { DatabaseJob } from '../plan/plan.js'
import { dataFileReader, followableTables, restoreBesideDump } from '../tools/follow.js'
import { chooseCompression, compressionArgument, startDump } from '../tools/pg-dump.js'
import type { Restorer, RestoreResult } from '../tools/pg-restore.js'
import { fingerprintSequences, type Fingerprint } from '../verify/fingerprint/index.js'
import { required, type ModeContext } from './context.js'
import { resumeMigration } from './resume.js'
import { dumpRequestFor, restorerFor } from './steps/copy.js'
import { dumpFolder } from './steps/folders.js'
import { fingerprintSource, writeDumpManifest } from './steps/source.js'
import {
  analyzeTarget,
  carriesDatabaseSettings,
  closeWriter,
  dropCreatedTarget,
  finishTarget,
  migratePreparation,
  openWriter,
  prepareTarget
} from './steps/target.js'
import { uploadDumpArtifact, uploadRequestFor } from './steps/upload.js'
import { openSync, type SyncStep } from './sync.js'
import { verifyBesideAnalyze } from './steps/verify.js'

/**
 * migrate, one database. pg_dump runs from a held snapshot while the restore follows it; once the
 * dump is complete, the source is fingerprinted in that snapshot, the manifest written and the dump
 * uploaded, all beside the rest of the restore; then the target is verified against the fingerprint.
 */
export async function migrateDatabase(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<MigrateInputs>
): Promise<void> {
  try {
    // A run that ended early in this target is continued there, from its dump (resume.ts).
    if (job.resume) return await resumeMigration(job, record, context)
    if (context.inputs.sync === 'none') return await copyAndVerify(job, record, context)
    // sync: logical — the slot and its publication are dropped on every exit: success, failure, cancel.
    const sync = await openSync(job, record, context)
    try {
      await copyAndVerify(job, record, context, sync)
    } finally {
      await sync.close()
    }
  } finally {
    await closeWriter(context, job)
  }
}

async function copyAndVerify(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<MigrateInputs>,
  sync?: SyncStep
): Promise<void> {
  const { inputs, plan, connector, stages, log } = context
  const client = required(context.client, 'the client')
  const server = { source: required(context.source, 'the source'), target: required(context.target, 'the target') }
  const source = withDatabase(server.source, job.source)
  const target = withDatabase(server.target, job.target)
  const targetMajor = plan.target?.major ?? client.major
  const preparation = migratePreparation(context, job)

  let writesBefore = 0
  let sourceFingerprint: Promise<Fingerprint | undefined> | undefined
  let upload: Promise<unknown> | undefined
  let restorer: Restorer | undefined
  // Where the source's code runs (the restore, ANALYZE): the restore role once the target is ready.
  let writer = target
  let loadProgress: { stop(): Promise<void> } | undefined
  let indexBuilds: ReturnType<typeof followIndexBuilds> | undefined
  // The dump, the restore beside it, the source checksums and the upload overlap: one log group for all.
  await log.group(`Dump and restore: ${job.source}`, async () => {
    writesBefore = await within(Stage.Dump, connector.withConnection(source, nextTransactionId))
    // sync: the dump is taken in the replication slot's snapshot, where its change stream begins.
    const snapshot = sync?.snapshot ?? (await within(Stage.Dump, holdSnapshot(connector, source)))
    try {
      // Sequences are outside the snapshot: read before pg_dump reads them, the copy is at or ahead.
      const dir = dumpFolder(inputs.dumpPath, plan.jobs.length, job.source)
      const readBeforeDump = async () =>
        [
          await fingerprintSequences(snapshot.client),
          await followableTables(snapshot.client),
          await chooseCompression({
            requested: inputs.compression,
            uploads: inputs.uploadArtifact,
            dir,
            source: snapshot.client,
            log
          })
        ] as const
      // One after the other: the three read on the snapshot's one connection.
      const [sequences, followable, compression] = await within(Stage.Dump, readBeforeDump())
      const dump = startDump({
        ...dumpRequestFor(context, job, client, source, snapshot),
        progress: { connect: () => connector.connect(source), timeline: record.progressTimeline() },
        // sync: one pg_dump process. A parallel dump's workers lock with NOWAIT and fail on the first
        // TRUNCATE or DDL the application queues meanwhile; one process only makes those wait.
        jobs: sync ? 1 : inputs.jobs,
        compression
      })

      // The restore beside the dump: it touches the target only once toc.dat is written.
      let restoreTimer: StageTimer | undefined
      let createdTarget = false
      const restoring = restorerFor(context, client, target, dump.dir)
      restorer = restoring
      // sync: the sync's publication, and the triggers when the target would fire them for replayed changes, wait.
      if (sync) restoring.options.holdBack = sync.holdBack
      const restore: Promise<RestoreResult | undefined> = settledLater(
        restoreBesideDump(dump, {
          restorer: restoring,
          scope: context,
          connector,
          encoding: job.encoding,
          targetMajor,
          tables: followable,
          // A one-process dump writes toc.dat last: the restore waits for it.
          reader: sync ? undefined : dataFileReader(compressionArgument(compression, client.major)),
          async prepareTarget() {
            restoreTimer = stages.begin(Stage.Restore, job.source)
            createdTarget = (await prepareTarget(preparation, record)).created
            writer = await openWriter(preparation, restoring, record).catch(async (error: unknown) => {
              // Nothing is restored yet: a database this run made goes again, so following the hint starts afresh.
              if (createdTarget) await dropCreatedTarget(preparation, record, targetMajor)
              createdTarget = false
              throw error
            })
            loadProgress = logCopyProgress({
              connect: () => connector.connect(target),
              command: 'COPY FROM',
              stage: 'load',
              timeline: record.progressTimeline(),
              estimatedRows: dump.estimatedRows,
              log
            })
            indexBuilds = followIndexBuilds({
              restorer: restoring,
              stages,
              database: job.source,
              connect: () => connector.connect(target),
              timeline: record.progressTimeline(),
              scannedBytes: () => connector.withConnection(source, indexedTableBytes),
              log
            })
          }
        })
      )

      const dumped = await stages
        .run(Stage.Dump, job.source, () => dump.done, false)
        .catch(async (error: unknown) => {
          // What the restore says now only follows from the dump's failure, which is reported.
          await restore.catch(() => undefined)
          if (createdTarget) await dropCreatedTarget(preparation, record, targetMajor)
          restoreTimer?.failed(
            new Error(`stopped: the dump failed${createdTarget ? '; the database it had created was dropped' : ''}`)
          )
          throw error
        })
      record.dumped(dumped)

      // Beside the rest of the restore: the source checksums in the dump's snapshot, the manifest, the upload.
      const fingerprinted = settledLater(
        stages.run(
          Stage.FingerprintSource,
          job.source,
          () =>
            fingerprintSource({
              connector,
              log,
              source,
              snapshot,
              sequences,
              settings: inputs,
              job,
              timeline: record.progressTimeline()
            }),
          false
        )
      )
      sourceFingerprint = fingerprinted
      const manifest = settledLater(
        fingerprinted.then((fingerprint) => {
          record.sourceFingerprinted(fingerprint)
          const sourceVersion = plan.source?.version ?? ''
          return writeDumpManifest({ job, dump: dumped, client, sourceVersion, snapshot, fingerprint, log })
        })
      )
      if (inputs.uploadArtifact) {
        const request = uploadRequestFor(context, job.source, dumped.path)
        upload = settledLater(
          manifest.then(() =>
            stages.run(
              Stage.UploadArtifact,
              job.source,
              () => uploadDumpArtifact(request, (o) => record.uploaded(o)),
              false
            )
          )
        )
      }

      // The restore's own error explains more than a fingerprint it cut short.
      const restored = await within(Stage.Restore, restore).catch(async (error: unknown) => {
        restoreTimer?.failed(error)
        await indexBuilds?.ended(error)
        throw error
      })
      restoreTimer?.ok()
      await indexBuilds?.ended()
      if (restored) record.restored(restored)
      await within(Stage.FingerprintSource, manifest)
    } finally {
      await loadProgress?.stop()
      await indexBuilds?.ended(new Error('stopped'))
      await sourceFingerprint?.catch(() => undefined)
      await snapshot.close()
    }
  })

  // sync: the source's changes are replayed until cutover, and verify compares the source as it is then.
  const fingerprint = sync
    ? await sync.catchUp(required(restorer, 'the restore'))
    : await warnOfWritesDuringRun(job, record, context, source, writesBefore).then(() => sourceFingerprint)
  // Not in a dump made without --create; set after the restore, which some of them would change.
  if (carriesDatabaseSettings(job))
    await within(Stage.Restore, carryDatabaseSettings(connector, log, target, { source, fingerprint }))
  let verification: Verification | undefined
  if (!fingerprint) await stages.run(Stage.Analyze, job.source, () => analyzeTarget(connector, writer))
  else verification = await verifyBesideAnalyze(context, job, record, { target, source, writer }, fingerprint)
  sync?.verified()
  await within(Stage.Verify, finishTarget(connector, target, verification))
  await within(Stage.UploadArtifact, upload ?? Promise.resolve())
}

/** Without a sync the copy holds the snapshot from the dump's start: say when the source moved on meanwhile. */
async function warnOfWritesDuringRun(
  job: DatabaseJob,
  record: DatabaseRecorder,
  { connector, log }: ModeContext<MigrateInputs>,
  source: Endpoint,
  writesBefore: number
): Promise<void> {
  const writes = Math.max(0, (await connector.withConnection(source, nextTransactionId)) - writesBefore)
  record.writesDuringRun(writes)
  if (writes > 0)
    log.warning(
      `${writes} transactions wrote on the source server during the run: the copy of ${job.source} holds the snapshot from the dump's start`
    )
}
