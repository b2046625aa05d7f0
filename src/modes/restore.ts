import type { RestoreModeInputs } from '../action/inputs.js'
import type { DatabaseRecorder } from '../action/report.js'
import { Stage, within } from '../action/stages.js'
import type { Manifest } from '../artifact/manifest.js'
import { withDatabase } from '../pg/endpoint.js'
import type { DatabaseJob } from '../plan/plan.js'
import { carryDatabaseSettings } from '../settings/database-settings.js'
import { restoreDatabase } from '../tools/pg-restore.js'
import { required, type ModeContext } from './context.js'
import { restorerFor } from './steps/copy.js'
import { analyzeTarget, prepareTarget } from './steps/target.js'
import { logVerification, verifyTarget } from './steps/verify.js'

/** A dump made by mode: dump, checked against its manifest before the plan. */
export interface CheckedDump {
  dir: string
  manifest: Manifest
}

/** restore, one database: the checked dump into the target, verified against its manifest's fingerprint. */
export async function restoreDump(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<RestoreModeInputs>,
  dump: CheckedDump
): Promise<void> {
  const { inputs, plan, connector, stages, log } = context
  const client = required(context.client, 'the client')
  const server = required(context.target, 'the target')
  const target = withDatabase(server, job.target)
  await stages.run(Stage.Restore, job.source, async () => {
    await prepareTarget(
      { ...inputs, connector, log, job, target: server, targetIsSuperuser: plan.target?.superuser ?? false },
      record
    )
    record.restored(await restoreDatabase(restorerFor(context, client, target, dump.dir)))
  })
  const fingerprint = inputs.verify === 'none' ? undefined : dump.manifest.sourceFingerprint
  record.sourceFingerprinted(dump.manifest.sourceFingerprint)
  // Not in the dump: the manifest's fingerprint holds them. Set after the restore, which some would change.
  await within(
    Stage.Restore,
    carryDatabaseSettings(connector, log, target, { fingerprint: dump.manifest.sourceFingerprint })
  )
  if (!fingerprint) {
    await stages.run(Stage.Analyze, job.source, () => analyzeTarget(connector, target))
    return
  }
  const verification = await stages.run(Stage.Verify, job.source, async () => {
    const [verified] = await Promise.all([
      verifyTarget({ connector, log, settings: inputs, target }, fingerprint),
      analyzeTarget(connector, target)
    ])
    return verified
  })
  record.verified(verification)
  logVerification(log, job.source, verification)
}
