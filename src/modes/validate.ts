import type { ValidateInputs } from '../action/inputs.js'
import type { DatabaseRecorder } from '../action/report.js'
import { Stage } from '../action/stages.js'
import { withDatabase } from '../pg/endpoint.js'
import { restoreRoleName } from '../pg/restore-role.js'
import { holdSnapshot } from '../pg/snapshot.js'
import type { DatabaseJob } from '../plan/plan.js'
import { compareOnTarget } from '../verify/compare.js'
import { fingerprintDatabase } from '../verify/fingerprint/index.js'
import { required, type ModeContext } from './context.js'
import { fingerprintOptions, locateRows, logVerification } from './steps/verify.js'

/** validate, one database: both live databases, each read inside its own snapshot, compared as after a migration. */
export async function validateDatabase(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<ValidateInputs>
): Promise<void> {
  const { inputs, plan, connector, stages, log } = context
  // Both sides must hash alike, and hash_record_extended needs PostgreSQL 14 on each.
  const textOnly = Math.min(plan.source?.major ?? 0, plan.target?.major ?? 0) < 14
  const source = withDatabase(required(context.source, 'the source'), job.source)
  const target = withDatabase(required(context.target, 'the target'), job.target)
  const verification = await stages.run(Stage.Validate, job.source, async () => {
    const [sourceSnapshot, targetSnapshot] = await Promise.all([
      holdSnapshot(connector, source),
      holdSnapshot(connector, target)
    ])
    const [sourceFingerprint, targetFingerprint] = await Promise.all([
      fingerprintDatabase(() => connector.connect(source), {
        ...fingerprintOptions(inputs, log, 'source', sourceSnapshot.id, record.progressTimeline()),
        textOnly,
        scope: job.scope
      }),
      fingerprintDatabase(() => connector.connect(target), {
        ...fingerprintOptions(inputs, log, 'target', targetSnapshot.id, record.progressTimeline()),
        textOnly,
        scope: job.scope
      })
    ]).finally(() => Promise.all([sourceSnapshot.close(), targetSnapshot.close()]))
    const comparison = await compareOnTarget(() => connector.connect(target), sourceFingerprint, targetFingerprint, {
      privileges: inputs.privileges,
      // A target this action restored grants its restore role CREATE where it wrote: the run's grant, not the source's.
      restoreRole: restoreRoleName(job.target)
    })
    const differingRows = await locateRows(connector, log, comparison, sourceFingerprint.tables, source, target)
    return { source: sourceFingerprint, target: targetFingerprint, comparison, differingRows }
  })
  record.verified(verification)
  logVerification(log, job.source, verification, context.visibility)
}
