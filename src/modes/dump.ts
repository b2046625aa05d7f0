import type { DumpModeInputs } from '../action/inputs.js'
import type { DatabaseRecorder } from '../action/report.js'
import { Stage } from '../action/stages.js'
import type { DatabaseJob } from '../plan/plan.js'
import type { ModeContext } from './context.js'
import { makeDump } from './steps/make-dump.js'
import { uploadDumpArtifact, uploadRequestFor } from './steps/upload.js'

/**
 * dump, one database: the source side only. The dump, its manifest and the source fingerprint
 * (taken in the dump's snapshot, beside pg_dump: nothing else runs) are uploaded for a restore job.
 */
export async function dumpOnly(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<DumpModeInputs>
): Promise<void> {
  const { dir } = await makeDump(job, record, context)
  if (!context.inputs.uploadArtifact) return
  await context.stages.run(
    Stage.UploadArtifact,
    job.source,
    () => uploadDumpArtifact(uploadRequestFor(context, job.source, dir), (outcome) => record.uploaded(outcome)),
    false
  )
}
