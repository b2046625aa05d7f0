import fs from 'node:fs'
import path from 'node:path'
import type { MigrateInputs } from '../action/inputs.js'
import type { DatabaseRecorder, ResumeReport, Verification } from '../action/report.js'
import { Stage, within } from '../action/stages.js'
import { MANIFEST_FILE, readVerifiedManifest } from '../artifact/manifest.js'
import { decryptFolder, isEncryptedDump } from '../artifact/encryption.js'
import { settledLater } from '../base/async.js'
import type { Log } from '../base/log.js'
import { withDatabase, type Endpoint } from '../pg/endpoint.js'
import type { RunMarker } from '../pg/run-marker.js'
import type { DatabaseJob } from '../plan/plan.js'
import { carryDatabaseSettings } from '../settings/database-settings.js'
import type { TableFingerprint } from '../verify/fingerprint/index.js'
import type { Restorer } from '../tools/pg-restore.js'
import { required, type ModeContext } from './context.js'
import { restorerFor } from './steps/copy.js'
import { dumpFolder } from './steps/folders.js'
import { makeDump, type CheckedDump } from './steps/make-dump.js'
import { loadWhatIsMissing } from './steps/resume.js'
import {
  analyzeTarget,
  carriesDatabaseSettings,
  finishTarget,
  markTarget,
  migratePreparation,
  openWriter,
  readyTarget,
  type TargetPreparation
} from './steps/target.js'
import { defaultArtifactName, uploadDumpArtifact, uploadRequestFor } from './steps/upload.js'
import { verifyBesideAnalyze } from './steps/verify.js'

/**
 * if-target-not-empty: resume. The plan found the mark a run left in the target when it ended early
 * (failed, cancelled, or its runner died) and checked it against this run. What follows loads only
 * what the target lacks of that run's dump, then verifies the whole as usual.
 */

/** The load of a resumed run from the dump its target was being loaded from. */
export async function resumeLoad(load: {
  job: DatabaseJob
  record: DatabaseRecorder
  preparation: TargetPreparation
  restorer: Restorer
  dump: CheckedDump
  target: Endpoint
  from?: ResumeReport['dump']
}): Promise<TableFingerprint[]> {
  const { job, record, preparation, restorer, dump, target } = load
  const started = performance.now()
  record.targetTouched(true)
  await readyTarget(preparation, record)
  await openWriter(preparation, restorer, record)
  const { connector, log } = preparation
  const { resume, restored, kept } = await loadWhatIsMissing({ connector, log, target, restorer, dump })
  record.restored(restored)
  record.resumed({
    runId: dump.manifest.runId ?? job.runId,
    dump: load.from ?? 'earlier',
    ...resume,
    seconds: (performance.now() - started) / 1000
  })
  return kept
}

/**
 * migrate, resumed: from the earlier run's dump (its folder, or its artifact) when it is whole and
 * is the one the target carries; else from a new dump, keeping only the tables whose rows match it.
 */
export async function resumeMigration(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<MigrateInputs>
): Promise<void> {
  const { inputs, connector, stages, log } = context
  const client = required(context.client, 'the client')
  const server = { source: required(context.source, 'the source'), target: required(context.target, 'the target') }
  const marker = required(job.resume, 'the run to resume')
  const source = withDatabase(server.source, job.source)
  const target = withDatabase(server.target, job.target)
  const preparation = migratePreparation(context, job)
  const earlier = await stages.run(Stage.CheckDump, job.source, () => findEarlierDump(context, job, marker))
  let dump: CheckedDump
  let upload: Promise<unknown> | undefined
  if (earlier) dump = earlier
  else {
    log.warning(
      `${job.source}: the dump of run ${marker.runId} is gone (a runner that dies takes its folder, and the artifact exists only once the dump is whole): making a new dump. Only tables whose rows match it are kept, compared by count and checksum; objects the earlier run created are kept, so the source must not have changed in between`
    )
    dump = await makeDump(job, record, context)
    // From here on the target is being loaded from the new dump: a run that ends now resumes from it.
    await within(
      Stage.Restore,
      connector.withConnection(target, (db) => markTarget(db, job))
    )
    if (inputs.uploadArtifact) {
      const request = uploadRequestFor(context, job.source, dump.dir)
      upload = settledLater(
        stages.run(
          Stage.UploadArtifact,
          job.source,
          () => uploadDumpArtifact(request, (o) => record.uploaded(o)),
          false
        )
      )
    }
  }
  const restorer = restorerFor(context, client, target, dump.dir)
  const kept = await stages.run(Stage.Restore, job.source, () =>
    resumeLoad({
      job,
      record,
      preparation,
      restorer,
      dump,
      target,
      from: earlier ? 'earlier' : 'new'
    })
  )
  const fingerprint = inputs.verify === 'none' ? undefined : dump.manifest.sourceFingerprint
  if (carriesDatabaseSettings(job))
    await within(Stage.Restore, carryDatabaseSettings(connector, log, target, { source, fingerprint }))
  let verification: Verification | undefined
  // The restorer logs in as the restore role by now: ANALYZE runs as it.
  const writer = restorer.endpoint
  if (!fingerprint) await stages.run(Stage.Analyze, job.source, () => analyzeTarget(connector, writer))
  else
    verification = await verifyBesideAnalyze(context, job, record, { target, source, known: kept, writer }, fingerprint)
  await within(Stage.Verify, finishTarget(connector, target, verification))
  await within(Stage.UploadArtifact, upload ?? Promise.resolve())
}

/**
 * The earlier run's dump: in the dump folder (a runner that lives on, such as a self-hosted one),
 * or as its artifact in this workflow run (re-run failed jobs: the same run id names it). Only a
 * whole dump whose manifest names the run the target carries will do.
 */
async function findEarlierDump(
  context: ModeContext<MigrateInputs>,
  job: DatabaseJob,
  marker: RunMarker
): Promise<CheckedDump | undefined> {
  const { inputs, log, artifacts, plan } = context
  const dir = dumpFolder(inputs.dumpPath, plan.jobs.length, job.source)
  const inFolder = await checkedDump(dir, marker, log)
  if (inFolder) return inFolder
  if (!inputs.uploadArtifact) return undefined
  const name = inputs.artifactName ?? defaultArtifactName(job.source, context.env.GITHUB_RUN_ID)
  // A dump cut short in the folder would mix with the download.
  if (fs.existsSync(path.join(dir, 'toc.dat')) && !fs.existsSync(path.join(dir, MANIFEST_FILE)))
    fs.rmSync(dir, { recursive: true, force: true })
  try {
    const downloaded = await artifacts.download({ name, destination: dir })
    // Uploaded encrypted: opened with the same key, or refused here and dumped again.
    if (isEncryptedDump(downloaded, MANIFEST_FILE)) await decryptFolder(downloaded, MANIFEST_FILE, inputs.encryptionKey)
    return await checkedDump(downloaded, marker, log)
  } catch (error) {
    log.info(`resume: no artifact ${name} to resume from: ${(error as Error).message}`)
    return undefined
  }
}

async function checkedDump(dir: string, marker: RunMarker, log: Log): Promise<CheckedDump | undefined> {
  if (!fs.existsSync(path.join(dir, MANIFEST_FILE))) {
    log.info(`resume: no whole dump in ${dir} (no ${MANIFEST_FILE})`)
    return undefined
  }
  try {
    const manifest = await readVerifiedManifest(dir)
    if (manifest.runId === marker.runId) {
      log.info(`resume: the dump in ${dir} is the one run ${marker.runId} was loading`)
      return { dir, manifest }
    }
    log.info(`resume: the dump in ${dir} is of run ${manifest.runId ?? 'unknown'}, not ${marker.runId}`)
  } catch (error) {
    log.info(`resume: the dump in ${dir} cannot be used: ${(error as Error).message}`)
  }
  return undefined
}
