import type { DatabaseRecorder } from '../action/report.js'
import type { CopyMeans, MigrateJob } from './job.js'
import type { CopyStep } from './steps/copy-step.js'
import { dumpAndLoad } from './steps/dump-and-load.js'
import { streamAndLoad } from './steps/stream-and-load.js'
import { finishLoad } from './steps/finish-load.js'
import { holdSnapshotOnly, type SourceHold } from './steps/source-hold.js'
import { holdWithSync } from './steps/sync-hold.js'
import { closeWriter } from './steps/target.js'
import { targetWriter } from './steps/target-writer.js'

/**
 * migrate, one database: the source held still (a snapshot; with sync, a slot's), its rows copied
 * into the target by the copy step, the hold released (sync: the changes applied until cutover),
 * then the load finished: settings carried, verified beside ANALYZE, the target's mark removed.
 * A target that a run left early is continued instead (resume-migration.ts), as main.ts chooses.
 */
export async function migrateDatabase(job: MigrateJob, record: DatabaseRecorder, means: CopyMeans): Promise<void> {
  try {
    // sync: logical — the slot and its publication are dropped on every exit: success, failure, cancel.
    const hold = await holdSource(job, means, record)
    try {
      await copyAndFinish(job, hold, means, record)
    } finally {
      await hold.close()
    }
  } finally {
    await closeWriter(job, means)
  }
}

function holdSource(job: MigrateJob, means: CopyMeans, record: DatabaseRecorder): Promise<SourceHold> {
  return job.settings.sync === 'logical' ? holdWithSync(job, means, record) : holdSnapshotOnly(job, means, record)
}

/** The copy step of the way the job's rows move (chosen with the job, modes/job.ts), said in the log and the report. */
function copyStepFor(job: MigrateJob, means: CopyMeans, record: DatabaseRecorder): CopyStep {
  const { method, why } = job.copy
  record.copiedBy(method, why)
  means.log.info(`${job.database.source}: the rows move by ${method === 'stream' ? 'the stream' : 'the dump'}: ${why}`)
  return method === 'stream' ? streamAndLoad : dumpAndLoad
}

async function copyAndFinish(
  job: MigrateJob,
  hold: SourceHold,
  means: CopyMeans,
  record: DatabaseRecorder
): Promise<void> {
  const step = copyStepFor(job, means, record)
  const writer = targetWriter({ ...job, rolesFrom: job.source.endpoint }, means, record)
  const copied = await step.copy(job, hold.held, writer, means, record)
  const sourceFingerprint = await hold.release(copied).finally(() => copied.released?.())
  const already = hold.verifiedAlready?.()
  await finishLoad(
    {
      database: job.database,
      target: job.target,
      settings: job.settings,
      writer: writer.endpoint,
      sourceFingerprint,
      settingsFrom: { source: job.source.endpoint, fingerprint: sourceFingerprint },
      locateIn: job.source.endpoint,
      known: already?.known ?? [],
      found: already,
      pending: copied.pending,
      verified: () => hold.verified()
    },
    means,
    record
  )
}
