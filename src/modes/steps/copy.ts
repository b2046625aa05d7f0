import type { Endpoint } from '../../pg/endpoint.js'
import type { HeldSnapshot } from '../../pg/snapshot.js'
import type { DatabaseJob } from '../../plan/plan.js'
import type { Client } from '../../tools/client/install.js'
import type { Compression, DumpRequest } from '../../tools/pg-dump.js'
import type { Restorer } from '../../tools/pg-restore.js'
import type { ModeContext } from '../context.js'
import { dumpFolder } from './folders.js'

type Copying = Pick<ModeContext, 'tools' | 'log' | 'passfile' | 'plan'>

/** pg_dump of one job's source database, from the held snapshot, into its folder. */
export function dumpRequestFor(
  context: Copying & { inputs: { dumpPath: string; jobs: number; compression: Compression } },
  job: DatabaseJob,
  client: Client,
  source: Endpoint,
  snapshot: HeldSnapshot
): DumpRequest {
  const { inputs } = context
  return {
    client,
    tools: context.tools,
    log: context.log,
    passfile: context.passfile,
    endpoint: source,
    snapshot,
    dir: dumpFolder(inputs.dumpPath, context.plan.jobs.length, job.source),
    jobs: inputs.jobs,
    compression: inputs.compression,
    scope: job.scope
  }
}

/** pg_restore into one job's target database, as the inputs ask (owners and grants kept or not). */
export function restorerFor(
  context: Copying & { inputs: { jobs: number; privileges: 'skip' | 'keep'; acceptSourceCode: boolean } },
  client: Client,
  target: Endpoint,
  dumpDir: string
): Restorer {
  const { inputs, plan } = context
  return {
    client,
    tools: context.tools,
    log: context.log,
    endpoint: target,
    passfile: context.passfile,
    dumpDir,
    // The restore role is no superuser, even on a superuser's target: what needs one is left out.
    options: {
      jobs: inputs.jobs,
      privileges: inputs.privileges,
      superuser: inputs.acceptSourceCode && (plan.target?.superuser ?? false)
    }
  }
}
