import type { DatabaseRecorder } from '../action/report.js'
import { followIndexBuilds } from '../action/index-builds.js'
import { Stage } from '../action/stages.js'
import { logCopyProgress } from '../pg/copy-progress.js'
import { restoreDatabase, type Restorer } from '../tools/pg-restore.js'
import type { TableFingerprint } from '../verify/fingerprint/index.js'
import type { CopyMeans, RestoreJob } from './job.js'
import { restorerFor } from './steps/client-requests.js'
import { finishLoad } from './steps/finish-load.js'
import { resumeLoad } from './steps/load-missing.js'
import { closeWriter, openWriter, prepareTarget, type TargetPreparation } from './steps/target.js'

/**
 * restore, one database: the checked dump into the target, verified against its manifest's
 * fingerprint, which covers exactly what the dump holds (its filters, when it was made with some).
 */
export async function restoreDump(job: RestoreJob, record: DatabaseRecorder, means: CopyMeans): Promise<void> {
  const { dump } = job
  const step: TargetPreparation = { ...job, rolesFrom: null }
  const restorer = restorerFor(job, means, dump.dumpFolder)
  try {
    const kept = await means.stages.run(Stage.Restore, job.database.source, () =>
      // A run that ended early in this target, loading this same dump, is continued (steps/load-missing.ts).
      job.database.resume
        ? resumeLoad({ step, restorer, dump, from: 'earlier' }, means, record)
        : loadDump(step, restorer, job, means, record)
    )
    record.sourceFingerprinted(dump.manifest.sourceFingerprint)
    await finishLoad(
      {
        database: job.database,
        target: job.target,
        settings: job.settings,
        // The restorer logs in as the restore role by now: ANALYZE runs as it.
        writer: restorer.endpoint,
        sourceFingerprint: job.settings.verify === 'none' ? undefined : dump.manifest.sourceFingerprint,
        // Not in the dump: the manifest's fingerprint holds them.
        settingsFrom: { source: null, fingerprint: dump.manifest.sourceFingerprint },
        locateIn: null,
        known: kept,
        pending: Promise.resolve(),
        verified: () => undefined
      },
      means,
      record
    )
  } finally {
    await closeWriter(job, means)
  }
}

/** The whole dump into a target readied for it; nothing is kept from before. */
async function loadDump(
  step: TargetPreparation,
  restorer: Restorer,
  job: RestoreJob,
  means: CopyMeans,
  record: DatabaseRecorder
): Promise<TableFingerprint[]> {
  const { connector, log } = means
  await prepareTarget(step, means, record)
  await openWriter(step, means, restorer, record)
  // The manifest holds the source's exact row counts: the load's total, not an estimate.
  const rows = job.dump.manifest.sourceFingerprint?.tables.reduce((sum, table) => sum + table.rows, 0) ?? 0
  const progress = logCopyProgress({
    connect: () => connector.connect(job.target.endpoint),
    command: 'COPY FROM',
    stage: 'load',
    timeline: record.progressTimeline(),
    estimatedRows: rows,
    log
  })
  // Without the source, the builds' total is unknown: their lines give the rate alone.
  const indexBuilds = followIndexBuilds({
    restorer,
    stages: means.stages,
    database: job.database.source,
    connect: () => connector.connect(job.target.endpoint),
    timeline: record.progressTimeline(),
    scannedBytes: async () => 0,
    log
  })
  try {
    record.restored(await restoreDatabase(restorer))
    await indexBuilds.ended()
  } catch (error) {
    await indexBuilds.ended(error)
    throw error
  } finally {
    await progress.stop()
  }
  return []
}
