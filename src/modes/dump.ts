import type { DumpModeInputs } from '../action/inputs.js'
import type { DatabaseRecorder } from '../action/report.js'
import { Stage, within } from '../action/stages.js'
import { settledLater } from '../base/async.js'
import { withDatabase } from '../pg/endpoint.js'
import { holdSnapshot } from '../pg/snapshot.js'
import type { DatabaseJob } from '../plan/plan.js'
import { startDump } from '../tools/pg-dump.js'
import { fingerprintSequences } from '../verify/fingerprint/index.js'
import { required, type ModeContext } from './context.js'
import { dumpRequestFor } from './steps/copy.js'
import { fingerprintSource, writeDumpManifest } from './steps/source.js'
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
  const { inputs, plan, connector, stages, log } = context
  const client = required(context.client, 'the client')
  const source = withDatabase(required(context.source, 'the source'), job.source)
  const snapshot = await within(Stage.Dump, holdSnapshot(connector, source))
  let sourceFingerprint: ReturnType<typeof fingerprintSource> | undefined
  let dumpDir: string
  try {
    const sequences = await within(Stage.Dump, fingerprintSequences(snapshot.client))
    const dump = startDump(dumpRequestFor(context, job, client, source, snapshot))
    sourceFingerprint = settledLater(
      stages.run(
        Stage.FingerprintSource,
        job.source,
        () => fingerprintSource({ connector, log, source, snapshot, sequences, settings: inputs }),
        false
      )
    )
    const dumped = await stages.run(Stage.Dump, job.source, () => dump.done)
    record.dumped(dumped)
    const fingerprint = await sourceFingerprint
    record.sourceFingerprinted(fingerprint)
    await within(
      Stage.Dump,
      writeDumpManifest({ job, dump: dumped, client, sourceVersion: plan.source?.version ?? '', snapshot, fingerprint })
    )
    dumpDir = dumped.path
  } finally {
    await sourceFingerprint?.catch(() => undefined)
    await snapshot.close()
  }
  if (!inputs.uploadArtifact) return
  await stages.run(
    Stage.UploadArtifact,
    job.source,
    () => uploadDumpArtifact(uploadRequestFor(context, job.source, dumpDir), (outcome) => record.uploaded(outcome)),
    false
  )
}
