import fs from 'node:fs'
import path from 'node:path'
import type { DatabaseRecorder } from '../action/report.js'
import { Stage, within } from '../action/stages.js'
import { MANIFEST_FILE, readVerifiedManifest } from '../artifact/manifest.js'
import { decryptFolder, isEncryptedDump } from '../artifact/encryption.js'
import { settledLater } from '../base/async.js'
import type { Log } from '../base/log.js'
import type { RunMarker } from '../pg/run-marker.js'
import type { CheckedDump, CopyMeans, MigrateJob } from './job.js'
import { restorerFor } from './steps/client-requests.js'
import { finishLoad } from './steps/finish-load.js'
import { resumeLoad } from './steps/load-missing.js'
import { makeDump } from './steps/make-dump.js'
import { closeWriter, markTarget } from './steps/target.js'
import { uploadDumpArtifact, uploadRequestFor } from './steps/upload.js'

/**
 * if-target-not-empty: resume. The plan found the mark a run left in the target when it ended early
 * (failed, cancelled, or its runner died) and checked it against this run. migrate, resumed: from
 * the earlier run's dump (its folder, or its artifact) when it is whole and is the one the target
 * carries; else from a new dump, keeping only the tables whose rows match it. Then the whole is
 * verified as usual.
 */
export async function resumeMigration(
  job: MigrateJob,
  marker: RunMarker,
  record: DatabaseRecorder,
  means: CopyMeans
): Promise<void> {
  try {
    await resume(job, marker, record, means)
  } finally {
    await closeWriter(job, means)
  }
}

async function resume(job: MigrateJob, marker: RunMarker, record: DatabaseRecorder, means: CopyMeans): Promise<void> {
  const { stages } = means
  const earlier = await stages.run(Stage.CheckDump, job.database.source, () => findEarlierDump(job, marker, means))
  const { dump, pending } = earlier
    ? { dump: earlier, pending: Promise.resolve() }
    : await dumpAgain(job, marker, means, record)
  const restorer = restorerFor(job, means, dump.dumpFolder)
  const step = { ...job, rolesFrom: job.source.endpoint }
  const from = earlier ? 'earlier' : 'new'
  const kept = await stages.run(Stage.Restore, job.database.source, () =>
    resumeLoad({ step, restorer, dump, from }, means, record)
  )
  const sourceFingerprint = job.settings.verify === 'none' ? undefined : dump.manifest.sourceFingerprint
  await finishLoad(
    {
      database: job.database,
      target: job.target,
      settings: job.settings,
      // The restorer logs in as the restore role by now: ANALYZE runs as it.
      writer: restorer.endpoint,
      sourceFingerprint,
      settingsFrom: { source: job.source.endpoint, fingerprint: sourceFingerprint },
      locateIn: job.source.endpoint,
      known: kept,
      pending,
      verified: () => undefined
    },
    means,
    record
  )
}

/** The earlier run's dump is gone: a new one, which the target is marked as being loaded from, uploaded beside. */
async function dumpAgain(
  job: MigrateJob,
  marker: RunMarker,
  means: CopyMeans,
  record: DatabaseRecorder
): Promise<{ dump: CheckedDump; pending: Promise<unknown> }> {
  const { connector, stages, log } = means
  log.warning(
    `${job.database.source}: the dump of run ${marker.runId} is gone (a runner that dies takes its folder, and the artifact exists only once the dump is whole): making a new dump. Only tables whose rows match it are kept, compared by count and checksum; objects the earlier run created are kept, so the source must not have changed in between`
  )
  const dump = await makeDump(job, means, record)
  // From here on the target is being loaded from the new dump: a run that ends now resumes from it.
  await within(Stage.Restore, markTarget(connector, job.target.endpoint, job.database))
  if (!job.settings.uploadArtifact) return { dump, pending: Promise.resolve() }
  const request = uploadRequestFor({ ...job, dumpFolder: dump.dumpFolder }, means)
  const pending = settledLater(
    stages.run(
      Stage.UploadArtifact,
      job.database.source,
      () => uploadDumpArtifact(request, (o) => record.uploaded(o)),
      false
    )
  )
  return { dump, pending }
}

/**
 * The earlier run's dump: in the dump folder (a runner that lives on, such as a self-hosted one),
 * or as its artifact in this workflow run (re-run failed jobs: the same run id names it). Only a
 * whole dump whose manifest names the run the target carries will do.
 */
async function findEarlierDump(job: MigrateJob, marker: RunMarker, means: CopyMeans): Promise<CheckedDump | undefined> {
  const { log, artifacts } = means
  const { dumpFolder, artifactName: name, settings } = job
  const inFolder = await checkedDump(dumpFolder, marker, log)
  if (inFolder) return inFolder
  if (!settings.uploadArtifact) return undefined
  // A dump cut short in the folder would mix with the download.
  if (fs.existsSync(path.join(dumpFolder, 'toc.dat')) && !fs.existsSync(path.join(dumpFolder, MANIFEST_FILE)))
    fs.rmSync(dumpFolder, { recursive: true, force: true })
  try {
    const downloaded = await artifacts.download({ name, destination: dumpFolder })
    // Uploaded encrypted: opened with the same key, or refused here and dumped again.
    if (isEncryptedDump(downloaded, MANIFEST_FILE))
      await decryptFolder(downloaded, MANIFEST_FILE, settings.encryptionKey)
    return await checkedDump(downloaded, marker, log)
  } catch (error) {
    log.info(`resume: no artifact ${name} to resume from: ${(error as Error).message}`)
    return undefined
  }
}

async function checkedDump(dumpFolder: string, marker: RunMarker, log: Log): Promise<CheckedDump | undefined> {
  if (!fs.existsSync(path.join(dumpFolder, MANIFEST_FILE))) {
    log.info(`resume: no whole dump in ${dumpFolder} (no ${MANIFEST_FILE})`)
    return undefined
  }
  try {
    const manifest = await readVerifiedManifest(dumpFolder)
    if (manifest.runId === marker.runId) {
      log.info(`resume: the dump in ${dumpFolder} is the one run ${marker.runId} was loading`)
      return { dumpFolder, manifest }
    }
    log.info(`resume: the dump in ${dumpFolder} is of run ${manifest.runId ?? 'unknown'}, not ${marker.runId}`)
  } catch (error) {
    log.info(`resume: the dump in ${dumpFolder} cannot be used: ${(error as Error).message}`)
  }
  return undefined
}
