import type { DatabaseRecorder } from '../action/report.js'
import { Stage } from '../action/stages.js'
import type { CopyMeans, DumpJob } from './job.js'
import { makeDump } from './steps/make-dump.js'
import { uploadDumpArtifact, uploadRequestFor } from './steps/upload.js'

/**
 * dump, one database: the source side only. The dump, its manifest and the source fingerprint
 * (taken in the dump's snapshot, beside pg_dump: nothing else runs) are uploaded for a restore job.
 */
export async function dumpOnly(job: DumpJob, record: DatabaseRecorder, means: CopyMeans): Promise<void> {
  await makeDump(job, means, record)
  if (!job.settings.uploadArtifact) return
  await means.stages.run(
    Stage.UploadArtifact,
    job.database.source,
    () => uploadDumpArtifact(uploadRequestFor(job, means), (outcome) => record.uploaded(outcome)),
    false
  )
}
