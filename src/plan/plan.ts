import type pg from 'pg'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import type { Connector } from '../pg/connection.js'
import { withDatabase, type Endpoint } from '../pg/endpoint.js'
import { chooseClient, majorOf } from '../tools/client/version-policy.js'
import { scopeSql } from '../scope/sql.js'
import { chooseCopyMethod } from '../stream/choose.js'
import { describeDisk, diskFinding, diskNeeds, type DiskRequest } from './disk.js'
import type { Finding } from './findings.js'
import { planTarget } from './target.js'
import type { DatabaseJob, DumpedSource, Plan, PlanRequest, ServerFacts } from './types.js'

export type * from './types.js'

/** The plan reads both sides and writes nothing, in every mode: its sessions cannot write. */
const READ_ONLY = { readOnly: true } as const

export const blockersOf = (plan: Plan): Finding[] =>
  plan.jobs.flatMap((job) => job.findings.filter((finding) => finding.severity === 'blocker'))

/**
 * Reads both sides and decides what the run will do, writing nothing. Every blocker is collected
 * before the run stops, so the user fixes them all in one go.
 */
export async function planMigration(request: PlanRequest, connector: Connector, log: Log): Promise<Plan> {
  const plan: Plan = { jobs: [] }
  const { source, target } = request
  const sourceAdmin = source ? await connector.connect(source, READ_ONLY) : undefined
  try {
    const targetAdmin = target ? await connectTarget(connector, target) : undefined
    try {
      if (sourceAdmin) plan.source = await serverFacts(sourceAdmin)
      else if (request.dumped) plan.source = dumpedFacts(request.dumped)
      if (targetAdmin) plan.target = await serverFacts(targetAdmin)
      if (request.purpose === 'copy') {
        plan.client = chooseClient(plan.source?.major, plan.target?.major, request.clientVersion)
      } else if (plan.source && plan.target && plan.target.major < plan.source.major) {
        log.info(`note: the target (${plan.target.major}) is older than the source (${plan.source.major})`)
      }
      const context = { request, plan, connector, targetAdmin }
      if (request.dumped) {
        const { database, encoding, extensions } = request.dumped
        plan.jobs.push(
          await planTarget(context, { source: database, encoding, extensions }, targetNameFor(request, database, 1))
        )
      }
      if (!sourceAdmin || !source) return plan
      const names = await sourceDatabases(sourceAdmin, request.databases, source.database)
      for (const name of names) {
        await connector.withConnection(
          withDatabase(source, name),
          async (sourceDb) => {
            const encoding = await databaseEncoding(sourceDb)
            const job = await planTarget(
              context,
              { source: name, encoding, sourceDb },
              targetNameFor(request, name, names.length)
            )
            if (request.disk) await planDisk(job, sourceDb, request.disk, log)
            plan.jobs.push(job)
          },
          READ_ONLY
        )
      }
      if (request.sync === 'logical' && names.length > 1) plan.jobs[0]?.findings.push(windowPerDatabase(names.length))
      return plan
    } finally {
      await targetAdmin?.end().catch(() => undefined)
    }
  } finally {
    await sourceAdmin?.end().catch(() => undefined)
  }
}

/** The disk under dump-path against what the dump would need; a blocker when the dump path is the way and cannot fit. */
async function planDisk(job: DatabaseJob, sourceDb: pg.Client, request: DiskRequest, log: Log): Promise<void> {
  const disk = await diskNeeds(sourceDb, request.dumpPath, scopeSql(job.scope))
  job.disk = disk
  const { method } = chooseCopyMethod({ requested: request.copyMethod, ...request, disk })
  log.info(`${job.source}: ${describeDisk(disk)}`)
  const finding = diskFinding(disk, request, method)
  if (finding) job.findings.push(finding)
}

/**
 * sync: logical moves several databases one after the other, each with its own slot, cutover and
 * downtime window: one window for all would hold every database's slot (and its WAL) and stream
 * from all of them at once, which the action does not do.
 */
function windowPerDatabase(databases: number): Finding {
  return {
    id: 'sync-window-per-database',
    severity: 'warning',
    message: `sync: logical with ${databases} databases: each is copied, synced and cut over in turn, in a downtime window of its own (its quiet period, its cutover and its verify at cutover), not all in one`,
    objects: [],
    hint: `stop the application's writes to each database for its own window, in the order of the plan; an application that must stop writing to all of them at once is down for about the sum: ${databases} × (cutover-idle-seconds + a few seconds)`
  }
}

/** The error that stops a run whose plan has blockers; the target has not been touched. */
export function blockedBy(plan: Plan): MigrationError | undefined {
  const blockers = blockersOf(plan)
  if (blockers.length === 0) return undefined
  const [first] = blockers
  return new MigrationError(
    'plan-blocked',
    blockers.length === 1 ? first.message : `the plan found ${blockers.length} blockers, first: ${first.message}`,
    {
      hint:
        blockers.length === 1 ? first.hint : 'see the job summary for all of them; nothing was written to the target'
    }
  )
}

async function serverFacts(client: pg.Client): Promise<ServerFacts> {
  const { rows } = await client.query<{ num: string; version: string; rolsuper: boolean; rolcreatedb: boolean }>(
    `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version, rolsuper, rolcreatedb
       FROM pg_roles WHERE rolname = current_user`
  )
  return {
    version: rows[0].version.split(' ')[0],
    major: majorOf(Number(rows[0].num)),
    superuser: rows[0].rolsuper,
    createdb: rows[0].rolcreatedb
  }
}

/** Restore mode: the source as the dump's manifest recorded it. */
function dumpedFacts(dumped: DumpedSource): ServerFacts {
  return {
    version: dumped.sourceVersion,
    major: Number(dumped.sourceVersion.split('.')[0]),
    superuser: false,
    createdb: false
  }
}

/** The target database may not exist yet: then plan from the server's maintenance database. */
async function connectTarget(connector: Connector, target: Endpoint): Promise<pg.Client> {
  try {
    return await connector.connect(target, READ_ONLY)
  } catch (error) {
    if (!(error instanceof MigrationError) || error.kind !== 'missing-database') throw error
    return connector
      .connect(withDatabase(target, 'postgres'), READ_ONLY)
      .catch(() => connector.connect(withDatabase(target, 'template1'), READ_ONLY))
  }
}

/** The databases to move: the source URL's own, a list, or every one the user can connect to. */
async function sourceDatabases(source: pg.Client, databases: string[] | 'all', own: string): Promise<string[]> {
  if (databases === 'all') {
    const { rows } = await source.query<{ datname: string }>(
      `SELECT datname FROM pg_database
        WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT') ORDER BY datname`
    )
    return rows.map((r) => r.datname)
  }
  return databases.length > 0 ? databases : [own]
}

async function databaseEncoding(sourceDb: pg.Client): Promise<string> {
  const { rows } = await sourceDb.query<{ encoding: string }>(
    'SELECT pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()'
  )
  return rows[0].encoding
}

function targetNameFor(request: PlanRequest, source: string, count: number): string {
  if (count === 1) return request.targetDatabase ?? request.targetUrlDatabase ?? source
  return source
}
