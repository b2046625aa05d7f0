import type { RestoreModeInputs } from '../action/inputs.js'
import type { DatabaseRecorder } from '../action/report.js'
import { Stage, within } from '../action/stages.js'
import { followIndexBuilds } from '../action/index-builds.js'
import { withDatabase, type Endpoint } from '../pg/endpoint.js'
import type { DatabaseJob } from '../plan/plan.js'
import { carryDatabaseSettings } from '../settings/database-settings.js'
import { restoreDatabase } from '../tools/pg-restore.js'
import type { TableFingerprint } from '../verify/fingerprint/index.js'
import { required, type ModeContext } from './context.js'
import { resumeLoad } from './resume.js'
import { restorerFor } from './steps/copy.js'
import type { CheckedDump } from './steps/make-dump.js'
import {
  analyzeTarget,
  carriesDatabaseSettings,
  closeWriter,
  finishTarget,
  openWriter,
  prepareTarget
} from './steps/target.js'
import { verifyBesideAnalyze } from './steps/verify.js'
import { logCopyProgress } from '../pg/copy-progress.js'

/** A dump made by mode: dump, checked against its manifest before the plan. */
export type { CheckedDump }

/**
 * restore, one database: the checked dump into the target, verified against its manifest's
 * fingerprint, which covers exactly what the dump holds (its filters, when it was made with some).
 */
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
  const preparation = {
    ...inputs,
    connector,
    log,
    job,
    target: server,
    targetIsSuperuser: plan.target?.superuser ?? false
  }
  let kept: TableFingerprint[] | undefined
  const restorer = restorerFor(context, client, target, dump.dir)
  try {
    await stages.run(Stage.Restore, job.source, async () => {
      // A run that ended early in this target, loading this same dump, is continued (resume.ts).
      if (job.resume) kept = await resumeLoad({ job, record, preparation, restorer, dump, target })
      else {
        await prepareTarget(preparation, record)
        await openWriter(preparation, restorer, record)
        // The manifest holds the source's exact row counts: the load's total, not an estimate.
        const rows = dump.manifest.sourceFingerprint?.tables.reduce((sum, table) => sum + table.rows, 0) ?? 0
        const progress = logCopyProgress({
          connect: () => connector.connect(target),
          command: 'COPY FROM',
          stage: 'load',
          timeline: record.progressTimeline(),
          estimatedRows: rows,
          log
        })
        // Without the source, the builds' total is unknown: their lines give the rate alone.
        const indexBuilds = followIndexBuilds({
          restorer,
          stages,
          database: job.source,
          connect: () => connector.connect(target),
          timeline: record.progressTimeline(),
          log,
          scannedBytes: async () => 0
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
      }
    })
    // The restorer logs in as the restore role by now: ANALYZE runs as it.
    await verifyRestored(job, record, context, { dump, writer: restorer.endpoint }, kept)
  } finally {
    await closeWriter(context, job)
  }
}

/** After the load: the database's settings carried, then verified against the manifest (or analyzed). */
async function verifyRestored(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<RestoreModeInputs>,
  { dump, writer }: { dump: CheckedDump; writer: Endpoint },
  kept?: TableFingerprint[]
): Promise<void> {
  const { inputs, connector, stages, log } = context
  const target = withDatabase(required(context.target, 'the target'), job.target)
  const fingerprint = inputs.verify === 'none' ? undefined : dump.manifest.sourceFingerprint
  record.sourceFingerprinted(dump.manifest.sourceFingerprint)
  // Not in the dump: the manifest's fingerprint holds them. Set after the restore, which some would change.
  if (carriesDatabaseSettings(job))
    await within(
      Stage.Restore,
      carryDatabaseSettings(connector, log, target, { fingerprint: dump.manifest.sourceFingerprint })
    )
  if (!fingerprint) {
    await stages.run(Stage.Analyze, job.source, () => analyzeTarget(connector, writer))
    await within(Stage.Analyze, finishTarget(connector, target, undefined))
    return
  }
  const verification = await verifyBesideAnalyze(context, job, record, { target, known: kept, writer }, fingerprint)
  await within(Stage.Verify, finishTarget(connector, target, verification))
}
