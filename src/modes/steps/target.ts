import type pg from 'pg'
import type { MigrateInputs } from '../../action/inputs.js'
import type { DatabaseRecorder } from '../../action/report.js'
import type { Log } from '../../base/log.js'
import type { Connector } from '../../pg/connection.js'
import { serverVersionNumber } from '../../pg/connection.js'
import { withDatabase, type Endpoint } from '../../pg/endpoint.js'
import { dropRunMarker, writeRunMarker } from '../../pg/run-marker.js'
import { isUserSchema, quoteIdent, quoteLiteral } from '../../pg/sql.js'
import { rolesReferenced } from '../../plan/checks/index.js'
import type { DatabaseJob } from '../../plan/plan.js'
import { scopeSql } from '../../scope/sql.js'
import { scopeKey, type Prerequisites } from '../../scope/types.js'
import { required, type ModeContext } from '../context.js'
import { count } from '../../base/text.js'

/** How the target database is readied before the restore. */
export interface TargetPreparation {
  connector: Connector
  log: Log
  job: DatabaseJob
  /** The target server as the login reaches it, and the database its URL names. */
  target: Endpoint
  /** The source server, to read the roles the dump names; absent in restore mode. */
  source?: Endpoint
  ifTargetNotEmpty: 'fail' | 'clean' | 'resume'
  privileges: 'skip' | 'keep'
  roles: 'fail' | 'create-missing'
  /** A superuser target restores publications, so their roles are needed too. */
  targetIsSuperuser: boolean
}

/** A migrate run's preparation: the inputs' rules, and both servers as the logins reach them. */
export function migratePreparation(context: ModeContext<MigrateInputs>, job: DatabaseJob): TargetPreparation {
  const { inputs, connector, log, plan } = context
  return {
    ...inputs,
    connector,
    log,
    job,
    target: required(context.target, 'the target'),
    source: required(context.source, 'the source'),
    targetIsSuperuser: plan.target?.superuser ?? false
  }
}

/**
 * Creates the target database when missing, cleans it when asked, marks it with the run's id (so a
 * run that ends early can be resumed from the same dump), makes what the filters need and the dump
 * does not, and creates or grants the roles the dump names. `record` hears at once that the target
 * was touched (and created, if it was).
 */
export async function prepareTarget(step: TargetPreparation, record: DatabaseRecorder): Promise<{ created: boolean }> {
  const { connector, log, job } = step
  const created = await connector.withConnection(withDatabase(step.target, maintenanceDatabase(step)), (admin) =>
    ensureTargetDatabase(admin, job.target, job.encoding, log)
  )
  // From here on the target is written to; a CREATE DATABASE cut short by a cancel wrote nothing.
  record.targetTouched(true)
  await connector.withConnection(withDatabase(step.target, job.target), async (db) => {
    if (job.targetObjects.length > 0 && step.ifTargetNotEmpty === 'clean') record.cleaned(await cleanTarget(db, log))
    await markTarget(db, job)
  })
  await readyTarget(step, record)
  return { created }
}

/** Marks the target database as being loaded from this job's dump (see pg/run-marker.ts). */
export async function markTarget(db: pg.Client, job: DatabaseJob): Promise<void> {
  await writeRunMarker(db, { runId: job.runId, database: job.source, scope: scopeKey(job.scope?.patterns) })
}

/**
 * What the restore needs in the target database besides the dump: what the filters need made, and
 * the roles the dump names. Each step makes only what is missing, so a resumed run finishes what an
 * earlier one began.
 */
export async function readyTarget(step: TargetPreparation, record: DatabaseRecorder): Promise<void> {
  const { connector, log, job } = step
  await connector.withConnection(withDatabase(step.target, job.target), async (db) => {
    if (job.scope) await makePrerequisites(db, job.scope.prerequisites, log)
    if (!step.source || (step.roles !== 'create-missing' && step.privileges !== 'keep')) return
    const roles = await connector.withConnection(withDatabase(step.source, job.source), (source) =>
      rolesReferenced(source, step.privileges, step.targetIsSuperuser, scopeSql(job.scope))
    )
    if (step.roles === 'create-missing') record.createdRoles(await createMissingRoles(db, roles, log))
    if (step.privileges === 'keep') await grantRolesToLogin(db, roles)
  })
}

/**
 * What moving objects need and a dump with filters does not create: their schemas (with `tables`)
 * and the extensions they use (pg_dump creates extensions only with the whole database).
 */
export async function makePrerequisites(target: pg.Client, needed: Prerequisites, log: Log): Promise<void> {
  const made: string[] = []
  for (const schema of new Set([...needed.schemas, ...needed.extensions.map((e) => e.schema)])) {
    const { rowCount } = await target.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema])
    if (rowCount) continue
    await target.query(`CREATE SCHEMA ${quoteIdent(schema)}`)
    made.push(`schema ${schema}`)
  }
  for (const { name, schema } of needed.extensions) {
    const { rowCount } = await target.query('SELECT 1 FROM pg_catalog.pg_extension WHERE extname = $1', [name])
    if (rowCount) continue
    await target.query(`CREATE EXTENSION ${quoteIdent(name)} WITH SCHEMA ${quoteIdent(schema)}`)
    made.push(`extension ${name}`)
  }
  if (made.length > 0) log.info(`created on the target for the objects that move: ${made.join(', ')}`)
}

/** Undoes a target database this run created, when the dump failed: the target is left as it was. */
export async function dropCreatedTarget(
  step: TargetPreparation,
  record: DatabaseRecorder,
  targetMajor: number
): Promise<void> {
  const { connector, log, job } = step
  // Our own sessions in it may still be on their way out.
  const force = targetMajor >= 13 ? ' WITH (FORCE)' : ''
  try {
    await connector.withConnection(
      withDatabase(step.target, maintenanceDatabase({ ...step, job: { ...job, targetExists: false } })),
      (admin) => admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(job.target)}${force}`),
      { afterCancel: true }
    )
    record.targetTouched(false)
    log.info(`dropped the target database ${job.target}: this run had created it, and the dump failed`)
  } catch (error) {
    log.warning(`could not drop ${job.target}, which this run created: ${(error as Error).message}`)
  }
}

/** Where to connect to create the target database: the URL's own when it exists, else postgres. */
function maintenanceDatabase({ job, target }: Pick<TargetPreparation, 'job' | 'target'>): string {
  if (job.targetExists) return job.target
  return target.database === job.target ? 'postgres' : target.database
}

/** Creates the target database when missing, owned by the login, encoded as the source. */
async function ensureTargetDatabase(admin: pg.Client, name: string, encoding: string, log: Log): Promise<boolean> {
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
  if (rowCount) return false
  log.info(`creating target database ${name} (${encoding})`)
  await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteral(encoding)}`)
  return true
}

/**
 * With owners kept, the login must be able to become each owner (ALTER … OWNER needs SET ROLE from
 * 16 on). It holds ADMIN on roles it created, so it can grant itself membership.
 */
async function grantRolesToLogin(target: pg.Client, roles: string[]): Promise<void> {
  const options = (await serverVersionNumber(target)) >= 160000 ? ' WITH INHERIT TRUE, SET TRUE' : ''
  // Only roles it administers and is not yet a member of; the plan reports owners it cannot become.
  const { rows: grantable } = await target.query<{ name: string }>(
    `SELECT rolname AS name FROM pg_roles
      WHERE rolname = ANY($1) AND NOT pg_has_role(current_user, oid, 'USAGE') AND pg_has_role(current_user, oid, 'USAGE WITH ADMIN OPTION')`,
    [roles]
  )
  for (const { name } of grantable) await target.query(`GRANT ${quoteIdent(name)} TO CURRENT_USER${options}`)
}

/** Roles the dump names and the target lacks, created without login: the dump needs them to exist, not to log in. */
async function createMissingRoles(target: pg.Client, roles: string[], log: Log): Promise<string[]> {
  const created: string[] = []
  for (const role of roles) {
    const { rowCount } = await target.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])
    if (rowCount) continue
    await target.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`)
    created.push(role)
  }
  if (created.length) log.info(`created roles NOLOGIN: ${created.join(', ')}`)
  return created
}

/** What `if-target-not-empty: clean` drops: every user schema, extension and large object. */
async function cleanTarget(target: pg.Client, log: Log): Promise<string[]> {
  const dropped: string[] = []
  const { rows: extensions } = await target.query<{ name: string }>(
    `SELECT extname AS name FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`
  )
  for (const { name } of extensions) {
    await target.query(`DROP EXTENSION IF EXISTS ${quoteIdent(name)} CASCADE`)
    dropped.push(`extension ${name}`)
  }
  const { rows: schemas } = await target.query<{ name: string }>(
    `SELECT nspname AS name FROM pg_namespace
      WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'
      ORDER BY 1`
  )
  for (const { name } of schemas) {
    await target.query(`DROP SCHEMA ${quoteIdent(name)} CASCADE`)
    dropped.push(`schema ${name}`)
  }
  // Recreate public as initdb makes it: from 15 on, owned by the database owner, USAGE for all.
  const fifteen = (await serverVersionNumber(target)) >= 150000
  await target.query(fifteen ? 'CREATE SCHEMA public AUTHORIZATION pg_database_owner' : 'CREATE SCHEMA public')
  await target.query(fifteen ? 'GRANT USAGE ON SCHEMA public TO PUBLIC' : 'GRANT ALL ON SCHEMA public TO PUBLIC')
  const { rows: blobs } = await target.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata')
  if (blobs[0].n > 0) {
    await target.query('SELECT lo_unlink(oid) FROM pg_largeobject_metadata')
    dropped.push(count(blobs[0].n, 'large object'))
  }
  log.info(`cleaned the target: dropped ${dropped.join(', ') || 'nothing'}`)
  return dropped
}

/**
 * The database's settings and comment are carried only when the whole database moves: filters
 * that select schemas or tables move part of it into a database that may serve other parts.
 */
export function carriesDatabaseSettings(job: Pick<DatabaseJob, 'scope'>): boolean {
  return !job.scope || job.scope.everything
}

/**
 * A run that passed removes its mark: the target holds a whole, verified copy. One whose
 * verification found differences keeps it, so a resumed run can load again what differs.
 */
export async function finishTarget(
  connector: Connector,
  target: Endpoint,
  verification: { comparison: { passed: boolean } } | undefined
): Promise<void> {
  if (verification && !verification.comparison.passed) return
  await connector.withConnection(target, dropRunMarker)
}

/**
 * ANALYZE what was restored: the user's own tables only, since a plain ANALYZE as a non-superuser
 * warns about every shared catalog it may not touch.
 */
export async function analyzeTarget(connector: Connector, target: Endpoint): Promise<void> {
  await connector.withConnection(target, async (db) => {
    const { rows } = await db.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm', 'p') AND ${isUserSchema('n')} AND pg_has_role(c.relowner, 'USAGE')`
    )
    for (let start = 0; start < rows.length; start += 100) {
      const batch = rows.slice(start, start + 100).map((r) => r.name)
      await db.query(`ANALYZE ${batch.join(', ')}`)
    }
  })
}
