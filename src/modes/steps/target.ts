import type pg from 'pg'
import type { DatabaseRecorder } from '../../action/report.js'
import { Stage, within } from '../../action/stages.js'
import type { Log } from '../../base/log.js'
import type { Connector } from '../../pg/connection.js'
import type { Endpoint } from '../../pg/endpoint.js'
import { closeRestoreRole, openRestoreRole, proveRestoreRoleLogin } from '../../pg/restore-role.js'
import { dropRunMarker, writeRunMarker, type RunMarker } from '../../pg/run-marker.js'
import {
  analyzeUserTables,
  cleanTarget,
  createMissingRoles,
  dropDatabase,
  ensureTargetDatabase,
  grantRolesToLogin,
  makePrerequisites,
  movePublicOwner,
  ordinaryPublicOwner
} from '../../pg/target-catalog.js'
import { rolesReferenced } from '../../plan/checks/index.js'
import type { DatabaseJob } from '../../plan/plan.js'
import { dumpOwners, type Restorer } from '../../tools/pg-restore.js'
import { scopeSql } from '../../scope/sql.js'
import { scopeKey } from '../../scope/types.js'
import type { TargetDatabase } from '../job.js'

/** The connector and the log: all a step on the target needs of the run's means. */
export interface TargetMeans {
  connector: Connector
  log: Log
}

/** How the target database is readied before the load: the job's target, and the settings' rules. */
export interface TargetPreparation {
  database: DatabaseJob
  target: TargetDatabase
  settings: {
    ifTargetNotEmpty: 'fail' | 'clean' | 'resume'
    privileges: 'skip' | 'keep'
    roles: 'fail' | 'create-missing'
    /** Run the source's code as the login (true), or as the run's restore role (pg/restore-role.ts). */
    acceptSourceCode: boolean
  }
  /** The source database, where the roles the dump names are read; null in restore mode. */
  rolesFrom: Endpoint | null
}

/**
 * Creates the target database when missing, cleans it when asked, marks it with the run's id (so a
 * run that ends early can be resumed from the same dump), makes what the filters need and the dump
 * does not, and creates or grants the roles the dump names. `record` hears at once that the target
 * was touched (and created, if it was).
 */
export async function prepareTarget(
  step: TargetPreparation,
  means: TargetMeans,
  record: DatabaseRecorder,
  onTouched: (created: boolean) => void = () => undefined
): Promise<{ created: boolean }> {
  const { connector, log } = means
  const { database } = step
  const created = await connector.withConnection(step.target.admin, (admin) =>
    ensureTargetDatabase(admin, database.target, database.encoding, log)
  )
  // From here on the target is written to; a CREATE DATABASE cut short by a cancel wrote nothing.
  // Said before the rest, which may fail: a database this run made is then dropped again.
  onTouched(created)
  record.targetTouched(true)
  // One session readies the database: cleaned, marked, then what the load needs besides the dump.
  await connector.withConnection(step.target.endpoint, async (db) => {
    if (database.targetObjects.length > 0 && step.settings.ifTargetNotEmpty === 'clean')
      record.cleaned(await cleanTarget(db, log, database.installedExtensions ?? []))
    await writeRunMarker(db, runMarkOf(database))
    await readyIn(db, step, means, record)
  })
  return { created }
}

/** Marks the target database as being loaded from this job's dump (see pg/run-marker.ts). */
export async function markTarget(connector: Connector, target: Endpoint, database: DatabaseJob): Promise<void> {
  await connector.withConnection(target, (db) => writeRunMarker(db, runMarkOf(database)))
}

/** The mark of this job's run: its id, the source database and the filters' key. */
function runMarkOf(database: DatabaseJob): Omit<RunMarker, 'startedAt'> {
  return { runId: database.runId, database: database.source, scope: scopeKey(database.scope?.patterns) }
}

/**
 * What the load needs in the target database besides the dump: what the filters need made, and
 * the roles the dump names. Each step makes only what is missing, so a resumed run finishes what an
 * earlier one began.
 */
export async function readyTarget(
  step: TargetPreparation,
  means: TargetMeans,
  record: DatabaseRecorder
): Promise<void> {
  await means.connector.withConnection(step.target.endpoint, (db) => readyIn(db, step, means, record))
}

/** readyTarget in a session of the target database that is open already. */
async function readyIn(
  db: pg.Client,
  step: TargetPreparation,
  means: TargetMeans,
  record: DatabaseRecorder
): Promise<void> {
  const { connector, log } = means
  const { database, settings, rolesFrom } = step
  if (database.scope) await makePrerequisites(db, database.scope.prerequisites, log)
  if (!rolesFrom || (settings.roles !== 'create-missing' && settings.privileges !== 'keep')) return
  const [roles, publicOwner] = await connector.withConnection(rolesFrom, (source) =>
    Promise.all([
      rolesReferenced(source, settings.privileges, step.target.superuser, scopeSql(database.scope)),
      ordinaryPublicOwner(source)
    ])
  )
  if (settings.roles === 'create-missing') record.createdRoles(await createMissingRoles(db, roles, log))
  if (settings.privileges === 'keep') await grantRolesToLogin(db, roles)
  if (settings.privileges === 'keep' && publicOwner && carriesDatabaseSettings(database)) {
    await movePublicOwner(db, publicOwner, database.target, log)
  }
}

/**
 * Where the source's code runs, once the target is ready: the restore role, readied in the target
 * database and made the restorer's login; the login itself with accept-source-code. With owners
 * kept, the role becomes each owner the dump names.
 */
export async function openWriter(
  step: TargetPreparation,
  means: TargetMeans,
  restorer: Restorer,
  record: DatabaseRecorder
): Promise<Endpoint> {
  const target = step.target.endpoint
  if (step.settings.acceptSourceCode) return target
  const owners = step.settings.privileges === 'keep' ? await dumpOwners(restorer) : []
  const writer = await means.connector.withConnection(target, (db) =>
    openRestoreRole(db, { target, owners, loginIsSuperuser: step.target.superuser, log: means.log })
  )
  await proveRestoreRoleLogin(means.connector, writer)
  restorer.login = restorer.endpoint
  restorer.endpoint = writer
  record.restoredAs(writer.user)
  return writer
}

/** The job is over, however it ended: the restore role cannot log in any more (pg/restore-role.ts). */
export async function closeWriter(step: Omit<TargetPreparation, 'rolesFrom'>, means: TargetMeans): Promise<void> {
  if (step.settings.acceptSourceCode) return
  await closeRestoreRole(means.connector, step.target.server, step.database.target, means.log)
}

/** Undoes a target database this run created, when the run stopped before it held a whole copy. */
export async function dropCreatedTarget(
  step: Pick<TargetPreparation, 'database' | 'target'>,
  means: TargetMeans,
  record: DatabaseRecorder
): Promise<boolean> {
  const { connector, log } = means
  const { database, target } = step
  try {
    await connector.withConnection(target.maintenance, (admin) => dropDatabase(admin, database.target, target.major), {
      afterCancel: true
    })
    record.targetTouched(false)
    log.info(
      `dropped the target database ${database.target}: this run had created it, and stopped before it held a copy`
    )
    return true
  } catch (error) {
    log.warning(`could not drop ${database.target}, which this run created: ${(error as Error).message}`)
    return false
  }
}

/**
 * The database's settings and comment are carried only when the whole database moves: filters
 * that select schemas or tables move part of it into a database that may serve other parts.
 */
export function carriesDatabaseSettings(database: Pick<DatabaseJob, 'scope'>): boolean {
  return !database.scope || database.scope.everything
}

/**
 * A run that passed removes its mark: the target holds a whole, verified copy. One whose
 * verification found differences keeps it, so a resumed run can load again what differs. The
 * removal ends the Verify stage (Analyze with verify none): an error in it says so.
 */
export async function finishTarget(
  connector: Connector,
  target: Endpoint,
  verification: { comparison: { passed: boolean } } | undefined
): Promise<void> {
  if (verification && !verification.comparison.passed) return
  await within(verification ? Stage.Verify : Stage.Analyze, connector.withConnection(target, dropRunMarker))
}

/**
 * ANALYZE what was restored and has no statistics yet, as `writer`: it evaluates index expressions
 * and statistics. Recorded, so the summary says how much was carried and how much analyzed.
 */
export async function analyzeTarget(connector: Connector, writer: Endpoint, record: DatabaseRecorder): Promise<void> {
  record.analyzed(await connector.withConnection(writer, analyzeUserTables))
}
