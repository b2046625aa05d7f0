import * as core from '@actions/core'
import type pg from 'pg'
import { chooseClient, majorOf, type ClientRequirement } from './client/version-policy.js'
import { connect, describe, withConnection, withDatabase, type Endpoint } from './connection.js'
import { PlanError } from './errors.js'
import { Inputs, type MigrateInputs } from './inputs.js'
import { runChecks } from './plan/checks/index.js'
import type { Manifest } from './manifest.js'
import type { Finding } from './plan/findings.js'

export interface ServerFacts {
  /** e.g. 14.23 */
  version: string
  major: number
  superuser: boolean
  createdb: boolean
}

/** One database to move: where from, where to, and what the plan found about it. */
export interface DatabasePlan {
  source: string
  target: string
  targetExists: boolean
  /** User objects already in the target database (empty when it is empty). */
  targetObjects: string[]
  encoding: string
  findings: Finding[]
}

export interface Plan {
  source?: ServerFacts
  target?: ServerFacts
  client?: ClientRequirement
  databases: DatabasePlan[]
}

export const blockersOf = (plan: Plan): Finding[] =>
  plan.databases.flatMap((d) => d.findings.filter((f) => f.severity === 'blocker'))

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

/** The databases to move: the source URL's own, a list, or every one the user can connect to. */
async function sourceDatabases(source: pg.Client, inputs: MigrateInputs, own: string): Promise<string[]> {
  if (inputs.databases === 'all') {
    const { rows } = await source.query<{ datname: string }>(
      `SELECT datname FROM pg_database
        WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT') ORDER BY datname`
    )
    return rows.map((r) => r.datname)
  }
  return inputs.databases.length > 0 ? inputs.databases : [own]
}

/** User objects in a database: what makes a target "not empty". */
export async function userObjects(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ object: string }>(
    `SELECT format('%s %I.%I', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
              WHEN 'S' THEN 'sequence' WHEN 'p' THEN 'table' WHEN 'f' THEN 'foreign table' ELSE 'relation' END, n.nspname, c.relname) AS object
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'v', 'm', 'S', 'p', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
     UNION ALL
     SELECT format('function %I.%I', n.nspname, p.proname) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
     UNION ALL
     SELECT format('schema %I', nspname) FROM pg_namespace
      WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND nspname NOT LIKE 'pg\\_%'
     UNION ALL
     SELECT format('extension %I', extname) FROM pg_extension WHERE extname <> 'plpgsql'
     UNION ALL
     SELECT format('%s large objects', count(*)) FROM pg_largeobject_metadata HAVING count(*) > 0
     ORDER BY 1`
  )
  return rows.map((r) => r.object)
}

function targetNameFor(inputs: MigrateInputs, source: string, count: number): string {
  // A Civo target connects through its maintenance database; the data goes to a same-named one.
  const named = inputs.target?.input === Inputs.CivoDatabase ? undefined : inputs.target?.database
  if (count === 1) return inputs.targetDatabase ?? named ?? source
  return source
}

/**
 * Reads both sides and decides what the run will do, writing nothing. Every blocker is collected
 * before the run stops, so the user fixes them all in one go.
 */
export async function planMigration(inputs: MigrateInputs, manifest?: Manifest): Promise<Plan> {
  const plan: Plan = { databases: [] }
  const source = inputs.source
  const target = inputs.target
  const sourceAdmin = source ? await connect(source) : undefined
  try {
    const targetAdmin = target ? await connect(target).catch((error) => fallbackMaintenance(target, error)) : undefined
    try {
      if (sourceAdmin) plan.source = await serverFacts(sourceAdmin)
      else if (manifest) plan.source = manifestFacts(manifest)
      if (targetAdmin) plan.target = await serverFacts(targetAdmin)
      if (inputs.mode !== 'validate')
        plan.client = chooseClient(plan.source?.major, plan.target?.major, inputs.postgresVersion)
      else if (plan.source && plan.target && plan.target.major < plan.source.major) {
        core.info(`note: the target (${plan.target.major}) is older than the source (${plan.source.major})`)
      }
      if (manifest) {
        const side = { source: manifest.database, encoding: manifest.encoding, extensions: manifest.extensions }
        plan.databases.push(
          await planTarget(inputs, plan, side, targetAdmin, targetNameFor(inputs, manifest.database, 1))
        )
      }
      if (!sourceAdmin || !source) return plan
      const names = await sourceDatabases(sourceAdmin, inputs, source.database)
      for (const name of names) {
        plan.databases.push(
          await planDatabase(
            inputs,
            plan,
            withDatabase(source, name),
            targetAdmin,
            targetNameFor(inputs, name, names.length)
          )
        )
      }
      return plan
    } finally {
      await targetAdmin?.end().catch(() => undefined)
    }
  } finally {
    await sourceAdmin?.end().catch(() => undefined)
  }
}

/** Restore mode: the source as the dump's manifest recorded it. */
function manifestFacts(manifest: Manifest): ServerFacts {
  return {
    version: manifest.sourceVersion,
    major: Number(manifest.sourceVersion.split('.')[0]),
    superuser: false,
    createdb: false
  }
}

/** The target database may not exist yet: then plan from the server's maintenance database. */
async function fallbackMaintenance(target: Endpoint, error: unknown): Promise<pg.Client> {
  if ((error as { message?: string }).message?.includes('does not exist')) {
    return connect(withDatabase(target, 'postgres')).catch(() => connect(withDatabase(target, 'template1')))
  }
  throw error
}

async function planDatabase(
  inputs: MigrateInputs,
  plan: Plan,
  source: Endpoint,
  targetAdmin: pg.Client | undefined,
  targetName: string
): Promise<DatabasePlan> {
  return withConnection(source, async (sourceDb) => {
    const { rows } = await sourceDb.query<{ encoding: string }>(
      'SELECT pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()'
    )
    return planTarget(
      inputs,
      plan,
      { source: source.database, encoding: rows[0].encoding, sourceDb },
      targetAdmin,
      targetName
    )
  })
}

/** What the plan knows of the source: a live connection, or only what a dump's manifest says. */
export interface SourceSide {
  source: string
  encoding: string
  sourceDb?: pg.Client
  /** Extensions the dump creates, when there is no live source to ask. */
  extensions?: string[]
}

/** The target side of one database: exists, creatable, empty, and what the source's catalog predicts. */
export async function planTarget(
  inputs: MigrateInputs,
  plan: Plan,
  side: SourceSide,
  targetAdmin: pg.Client | undefined,
  targetName: string
): Promise<DatabasePlan> {
  const database: DatabasePlan = {
    source: side.source,
    target: targetName,
    targetExists: false,
    targetObjects: [],
    encoding: side.encoding,
    findings: []
  }
  if (!targetAdmin || !inputs.target || !plan.target) return database
  const { rowCount } = await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [targetName])
  database.targetExists = Boolean(rowCount)
  const targetEndpoint = withDatabase(inputs.target, targetName)
  if (!database.targetExists && inputs.mode === 'validate') {
    database.findings.push(
      blocker(
        'target-missing',
        `target database "${targetName}" does not exist`,
        [targetName],
        `check ${Inputs.TargetUrl}`
      )
    )
    return database
  }
  if (!database.targetExists && !plan.target.createdb && !plan.target.superuser) {
    database.findings.push(
      blocker(
        'target-not-creatable',
        `target database "${targetName}" does not exist and ${inputs.target.user} may not create databases`,
        [targetName],
        'create it first, or use a login with CREATEDB'
      )
    )
  }
  if (inputs.mode === 'validate') return database
  const checkTarget = database.targetExists ? targetEndpoint : undefined
  await withOptionalConnection(checkTarget, async (targetDb) => {
    if (targetDb) {
      database.targetObjects = await userObjects(targetDb)
      if (database.targetObjects.length > 0) database.findings.push(notEmptyFinding(inputs, database, targetEndpoint))
    }
    if (side.sourceDb) {
      database.findings.push(
        ...(await runChecks({
          source: side.sourceDb,
          target: targetDb ?? targetAdmin,
          targetDatabase: targetName,
          sourceMajor: plan.source?.major ?? 0,
          targetMajor: plan.target?.major ?? 0,
          targetIsSuperuser: plan.target?.superuser ?? false,
          privileges: inputs.privileges,
          roles: inputs.roles,
          validationQueries: inputs.validationQueries
        }))
      )
    } else if (side.extensions) {
      database.findings.push(...(await missingExtensions(targetDb ?? targetAdmin, side.extensions)))
    }
  })
  return database
}

function notEmptyFinding(inputs: MigrateInputs, database: DatabasePlan, target: Endpoint): Finding {
  const clean = inputs.ifTargetNotEmpty === 'clean'
  return {
    id: 'target-not-empty',
    severity: clean ? 'warning' : 'blocker',
    message: clean
      ? `target database "${database.target}" is not empty: ${database.targetObjects.length} objects will be dropped first`
      : `target database "${database.target}" is not empty (${database.targetObjects.length} objects)`,
    objects: database.targetObjects,
    hint: clean
      ? 'this is what if-target-not-empty: clean asked for'
      : `set ${Inputs.IfTargetNotEmpty}: clean, or pick an empty database (${describe(target)})`
  }
}

/** Restore mode has no source to ask: the dump's own extension list against the target's. */
async function missingExtensions(target: pg.Client, extensions: string[]): Promise<Finding[]> {
  const { rows } = await target.query<{ name: string }>(
    'SELECT name FROM pg_available_extensions WHERE name = ANY($1)',
    [extensions]
  )
  const available = new Set(rows.map((r) => r.name))
  const missing = extensions.filter((name) => !available.has(name))
  return missing.length === 0
    ? []
    : [
        blocker(
          'extension-unavailable',
          `the dump needs extensions the target does not offer`,
          missing,
          'ask the provider to enable them, or drop them from the source'
        )
      ]
}

async function withOptionalConnection<T>(
  endpoint: Endpoint | undefined,
  work: (client: pg.Client | undefined) => Promise<T>
): Promise<T> {
  return endpoint ? withConnection(endpoint, work) : work(undefined)
}

function blocker(id: string, message: string, objects: string[], hint: string): Finding {
  return { id, severity: 'blocker', message, objects, hint }
}

/** Stops the run with every blocker listed; the target has not been touched. */
export function assertNoBlockers(plan: Plan): void {
  const blockers = blockersOf(plan)
  if (blockers.length === 0) return
  for (const finding of blockers)
    core.error(
      `${finding.message}${finding.objects.length ? `: ${finding.objects.slice(0, 10).join(', ')}` : ''} — ${finding.hint}`
    )
  const first = blockers[0]
  throw new PlanError(
    blockers.length === 1 ? first.message : `the plan found ${blockers.length} blockers, first: ${first.message}`,
    blockers.length === 1 ? first.hint : 'see the job summary for all of them; nothing was written to the target'
  )
}
