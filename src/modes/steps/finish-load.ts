// The tail of every mode that loads a target (migrate, resume, restore): the database's settings
// carried, the target verified beside ANALYZE (or only analyzed, with verify none), the run's mark
// removed when it passed, and the work still going on beside (the upload) awaited last.
import type { DatabaseRecorder, Verification } from '../../action/report.js'
import { Stage, within } from '../../action/stages.js'
import type { Endpoint } from '../../pg/endpoint.js'
import type { DatabaseJob } from '../../plan/plan.js'
import { carryDatabaseSettings } from '../../settings/carry-settings.js'
import type { Fingerprint, TableFingerprint } from '../../verify/fingerprint/index.js'
import type { RunMeans, TargetDatabase } from '../job.js'
import { analyzeTarget, carriesDatabaseSettings, finishTarget } from './target.js'
import { verifyBesideAnalyze, type FoundEarlier, type VerifySettings } from './verify.js'

/** A target the load is over in, and what its verification compares it with. */
export interface LoadedTarget {
  database: DatabaseJob
  target: TargetDatabase
  settings: VerifySettings
  /** Where ANALYZE runs: the writer (the restore role), since it evaluates index expressions and statistics. */
  writer: Endpoint
  /** What verify compares the target with; undefined: verify none, ANALYZE only. */
  sourceFingerprint: Fingerprint | undefined
  /**
   * Where the database's settings come from: the live source, read now, else the fingerprint that
   * holds them (a dump's manifest, restore mode). What cannot be carried is noted on the fingerprint,
   * so that verify expects it.
   */
  settingsFrom: { source: Endpoint | null; fingerprint: Fingerprint | undefined }
  /** The live source, where the keys of differing rows are looked for; null in restore mode. */
  locateIn: Endpoint | null
  /** Target tables already read in this run whose rows have not changed since (a resume's kept tables). */
  known: TableFingerprint[]
  /** Differences found before verify (a sync's changed rows), added to its comparison. */
  found?: FoundEarlier
  /** Work that went on beside the load (the upload): awaited last. */
  pending: Promise<unknown>
  /** Called once verify is over (a sync's downtime window closes then). */
  verified: () => void
}

export async function finishLoad(loaded: LoadedTarget, means: RunMeans, record: DatabaseRecorder): Promise<void> {
  const { connector, log, stages } = means
  const { database, target, writer, sourceFingerprint } = loaded
  // Not in a dump made without --create; set after the restore, which some of them would change.
  if (carriesDatabaseSettings(database))
    await within(
      Stage.Restore,
      carryDatabaseSettings(connector, log, target.endpoint, {
        source: loaded.settingsFrom.source ?? undefined,
        fingerprint: loaded.settingsFrom.fingerprint
      })
    )
  let verification: Verification | undefined
  if (!sourceFingerprint)
    await stages.run(Stage.Analyze, database.source, () => analyzeTarget(connector, writer, record))
  else
    verification = await verifyBesideAnalyze(
      {
        database,
        settings: loaded.settings,
        target: target.endpoint,
        source: loaded.locateIn,
        known: loaded.known,
        found: loaded.found,
        writer
      },
      means,
      record,
      sourceFingerprint
    )
  loaded.verified()
  await finishTarget(connector, target.endpoint, verification)
  await within(Stage.UploadArtifact, loaded.pending)
}
