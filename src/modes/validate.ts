import type { DatabaseRecorder } from '../action/report.js'
import { Stage } from '../action/stages.js'
import { restoreRoleName } from '../pg/restore-role.js'
import { holdSnapshot } from '../pg/snapshot.js'
import { compareOnTarget } from '../verify/compare.js'
import { fingerprintDatabase } from '../verify/fingerprint/index.js'
import type { RunMeans, ValidateJob } from './job.js'
import { fingerprintOptions, locateRows, logVerification } from './steps/verify.js'

/** validate, one database: both live databases, each read inside its own snapshot, compared as after a migration. */
export async function validateDatabase(job: ValidateJob, record: DatabaseRecorder, means: RunMeans): Promise<void> {
  const { connector, stages, log } = means
  const { settings } = job
  // Both sides must hash alike, and hash_record_extended needs PostgreSQL 14 on each.
  const textOnly = Math.min(job.source.major, job.target.major) < 14
  const source = job.source.endpoint
  const target = job.target.endpoint
  const verification = await stages.run(Stage.Validate, job.database.source, async () => {
    const [sourceSnapshot, targetSnapshot] = await Promise.all([
      holdSnapshot(connector, source),
      holdSnapshot(connector, target)
    ])
    const [sourceFingerprint, targetFingerprint] = await Promise.all([
      fingerprintDatabase(() => connector.connect(source), {
        ...fingerprintOptions(settings, log, 'source', sourceSnapshot.id, record.progressTimeline()),
        textOnly,
        scope: job.database.scope
      }),
      fingerprintDatabase(() => connector.connect(target), {
        ...fingerprintOptions(settings, log, 'target', targetSnapshot.id, record.progressTimeline()),
        textOnly,
        scope: job.database.scope
      })
    ]).finally(() => Promise.all([sourceSnapshot.close(), targetSnapshot.close()]))
    const comparison = await compareOnTarget(() => connector.connect(target), sourceFingerprint, targetFingerprint, {
      privileges: settings.privileges,
      // A target this action restored grants its restore role CREATE where it wrote: the run's grant, not the source's.
      restoreRole: restoreRoleName(job.database.target)
    })
    const differingRows = await locateRows(connector, log, comparison, sourceFingerprint.tables, source, target)
    return { source: sourceFingerprint, target: targetFingerprint, comparison, differingRows }
  })
  record.verified(verification)
  logVerification(log, job.database.source, verification, means.visibility)
}
