// The requests for the client programs, as the job and its settings ask for them.
import type { HeldSnapshot } from '../../pg/snapshot.js'
import type { Compression, DumpRequest } from '../../tools/pg-dump.js'
import type { Restorer } from '../../tools/pg-restore.js'
import type { DatabaseJob } from '../../plan/plan.js'
import type { CopyMeans, SourceDatabase, TargetDatabase } from '../job.js'

/** pg_dump of one job's source database, from the held snapshot, into its dump folder. */
export function dumpRequestFor(
  job: {
    database: DatabaseJob
    source: SourceDatabase
    dumpFolder: string
    settings: { jobs: number; compression: Compression }
    /** The target the dump is restored into, when known now (migrate). */
    target?: { major: number }
  },
  means: CopyMeans,
  snapshot: HeldSnapshot
): DumpRequest {
  const { programs } = means
  return {
    client: programs.client,
    tools: programs.runner,
    log: means.log,
    passfile: programs.passfile,
    endpoint: job.source.endpoint,
    snapshot,
    dir: job.dumpFolder,
    jobs: job.settings.jobs,
    compression: job.settings.compression,
    scope: job.database.scope,
    // Only a target known to be 18 or later can take them (pg_restore_relation_stats): not a dump
    // kept for a later restore, whose target may be older.
    statistics: programs.client.major >= 18 && (job.target?.major ?? 0) >= 18
  }
}

/** pg_restore into one job's target database, as the settings ask (owners and grants kept or not). */
export function restorerFor(
  job: {
    target: TargetDatabase
    settings: { jobs: number; privileges: 'skip' | 'keep'; acceptSourceCode: boolean }
  },
  means: CopyMeans,
  dumpFolder: string
): Restorer {
  const { settings } = job
  return {
    client: means.programs.client,
    tools: means.programs.runner,
    log: means.log,
    endpoint: job.target.endpoint,
    passfile: means.programs.passfile,
    dumpDir: dumpFolder,
    // The restore role is no superuser, even on a superuser's target: what needs one is left out.
    options: {
      jobs: settings.jobs,
      privileges: settings.privileges,
      superuser: settings.acceptSourceCode && job.target.superuser,
      noStatistics: job.target.major < 18
    }
  }
}
