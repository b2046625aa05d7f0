import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { Connector } from '../pg/connection.js'
import { describe, withDatabase, type Endpoint } from '../pg/endpoint.js'
import { readRunMarker } from '../pg/run-marker.js'
import { scopeSql } from '../scope/sql.js'
import { runChecks } from './checks/index.js'
import { extensionsUsed } from './checks/extensions.js'
import { blocker, type Finding } from './findings.js'
import { resumeFindings } from './resume.js'
import { planScope } from './scope.js'
import type { DatabaseJob, Plan, PlanRequest, TargetRules } from './types.js'

/** What the plan knows of one source database: a live connection, or only what a dump's manifest says. */
export interface SourceSide {
  source: string
  encoding: string
  sourceDb?: pg.Client
  /** Extensions the dump creates, when there is no live source to ask. */
  extensions?: string[]
}

export interface PlanContext {
  request: PlanRequest
  plan: Plan
  connector: Connector
  /** A connection to the target server (its maintenance database when the target database is missing). */
  targetAdmin?: pg.Client
}

/** The target side of one database: exists, creatable, empty, and what the source's catalog predicts. */
export async function planTarget(context: PlanContext, side: SourceSide, targetName: string): Promise<DatabaseJob> {
  const { request, plan, connector, targetAdmin } = context
  const job = newJob(request, side, targetName)
  if (!targetAdmin || !request.target || !plan.target) {
    await addScope(job, side, request)
    return job
  }
  const { rowCount } = await targetAdmin.query('SELECT 1 FROM pg_database WHERE datname = $1', [targetName])
  job.targetExists = Boolean(rowCount)
  const targetEndpoint = withDatabase(request.target, targetName)
  if (request.purpose === 'compare') {
    await addScope(job, side, request)
    if (!job.targetExists)
      job.findings.push(
        blocker(
          'target-missing',
          `target database "${targetName}" does not exist`,
          [targetName],
          "check the target URL's database name"
        )
      )
    return job
  }
  if (!job.targetExists && !plan.target.createdb && !plan.target.superuser) {
    job.findings.push(
      blocker(
        'target-not-creatable',
        `target database "${targetName}" does not exist and ${request.target.user} may not create databases`,
        [targetName],
        'create it first, or use a login with CREATEDB'
      )
    )
  }
  const inspect = async (targetDb: pg.Client | undefined): Promise<void> => {
    if (targetDb) await inspectTargetDatabase(targetDb, { request, side, job, targetEndpoint })
    await checkAgainstSource(context, side, job, targetDb ?? targetAdmin, targetDb)
  }
  if (job.targetExists) await connector.withConnection(targetEndpoint, inspect, { readOnly: true })
  else await inspect(undefined)
  return job
}

function newJob(request: PlanRequest, side: SourceSide, targetName: string): DatabaseJob {
  return {
    source: side.source,
    target: targetName,
    targetExists: false,
    targetObjects: [],
    encoding: side.encoding,
    findings: [],
    runId: request.dumped?.runId ?? randomUUID(),
    ...(request.dumped?.scope ? { scope: request.dumped.scope } : {})
  }
}

/** What the filters select, and what stops them; with the target database at hand when there is one. */
async function addScope(job: DatabaseJob, side: SourceSide, request: PlanRequest, targetDb?: pg.Client): Promise<void> {
  if (!side.sourceDb || !request.scope) return
  const scoped = await planScope(side.sourceDb, request.scope, targetDb, request.purpose)
  job.scope = scoped.scope
  job.findings.push(...scoped.findings)
}

/** What the existing target database holds already: extensions, objects, and a marker of an earlier run. */
async function inspectTargetDatabase(
  targetDb: pg.Client,
  {
    request,
    side,
    job,
    targetEndpoint
  }: { request: PlanRequest; side: SourceSide; job: DatabaseJob; targetEndpoint: Endpoint }
): Promise<void> {
  job.installedExtensions = await installedExtensions(targetDb, side)
  job.targetObjects = await userObjects(targetDb, job.installedExtensions)
  const marker = await readRunMarker(targetDb)
  if (request.ifTargetNotEmpty === 'resume') job.resume = marker
  if (request.ifTargetNotEmpty === 'resume' && (marker || job.targetObjects.length > 0))
    job.findings.push(...resumeFindings(request, job, marker))
  else if (job.targetObjects.length > 0) job.findings.push(notEmptyFinding(request, job, targetEndpoint, marker))
}

/**
 * The checks of the source's catalog against the target: with a live source, the scope and every
 * check; with only a dump's manifest, the extensions it creates.
 */
async function checkAgainstSource(
  { request, plan }: PlanContext,
  side: SourceSide,
  job: DatabaseJob,
  target: pg.Client,
  targetDb: pg.Client | undefined
): Promise<void> {
  if (side.sourceDb) {
    await addScope(job, side, request, targetDb)
    job.findings.push(
      ...(await runChecks({
        source: side.sourceDb,
        target,
        targetDatabase: job.target,
        sourceMajor: plan.source?.major ?? 0,
        targetMajor: plan.target?.major ?? 0,
        // The restore role is no superuser: what needs one is left out unless the login restores.
        targetIsSuperuser: (plan.target?.superuser ?? false) && request.acceptSourceCode === true,
        privileges: request.privileges,
        roles: request.roles,
        acceptSourceCode: request.acceptSourceCode,
        validationQueries: request.validationQueries,
        sync: request.sync,
        scope: scopeSql(job.scope)
      }))
    )
  } else if (side.extensions) {
    job.findings.push(...(await missingExtensions(target, side.extensions)))
  }
}

/** Extensions the dump needs that the target database has already, where the source has them. */
async function installedExtensions(target: pg.Client, side: SourceSide): Promise<string[]> {
  const wanted = side.sourceDb
    ? await extensionsUsed(side.sourceDb)
    : (side.extensions ?? []).map((name) => ({ name, schema: null }))
  if (wanted.length === 0) return []
  const { rows } = await target.query<{ name: string; schema: string }>(
    `SELECT e.extname AS name, n.nspname AS schema FROM pg_catalog.pg_extension e
       JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = ANY($1)`,
    [wanted.map((extension) => extension.name)]
  )
  // In another schema it is a blocker of its own (extension-schema-differs).
  return rows
    .filter((row) => wanted.some((w) => w.name === row.name && (w.schema === null || w.schema === row.schema)))
    .map((row) => row.name)
    .sort()
}

/**
 * User objects in a database: what makes a target "not empty". Extensions the dump needs and finds
 * there (`installed`), and what extensions are made of, are not.
 */
export async function userObjects(client: pg.Client, installed: string[] = []): Promise<string[]> {
  const { rows } = await client.query<{ object: string }>(
    `SELECT format('%s %I.%I', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
              WHEN 'S' THEN 'sequence' WHEN 'p' THEN 'table' WHEN 'f' THEN 'foreign table' ELSE 'relation' END, n.nspname, c.relname) AS object
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'v', 'm', 'S', 'p', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     UNION ALL
     SELECT format('function %I.%I', n.nspname, p.proname) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
     UNION ALL
     SELECT format('schema %I', nspname) FROM pg_namespace
      WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND nspname NOT LIKE 'pg\\_%'
     UNION ALL
     SELECT format('extension %I', extname) FROM pg_extension WHERE extname <> 'plpgsql' AND extname <> ALL($1)
     UNION ALL
     SELECT format('%s large objects', count(*)) FROM pg_largeobject_metadata HAVING count(*) > 0
     ORDER BY 1`,
    [installed]
  )
  return rows.map((r) => r.object)
}

function notEmptyFinding(rules: TargetRules, job: DatabaseJob, target: Endpoint, marker: unknown): Finding {
  const clean = rules.ifTargetNotEmpty === 'clean'
  // A run of this action ended early there: say how to go on from where it stopped.
  const resumable = marker ? 'if-target-not-empty: resume to continue the run that ended early there, ' : ''
  return {
    id: 'target-not-empty',
    severity: clean ? 'warning' : 'blocker',
    message: clean
      ? `target database "${job.target}" is not empty: ${job.targetObjects.length} objects will be dropped first`
      : `target database "${job.target}" is not empty (${job.targetObjects.length} objects)`,
    objects: job.targetObjects,
    hint: clean
      ? 'this is what if-target-not-empty: clean asked for'
      : `set ${resumable}if-target-not-empty: clean, or pick an empty database (${describe(target)})`
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
  if (missing.length === 0) return []
  return [
    blocker(
      'extension-unavailable',
      `the dump needs extensions the target does not offer`,
      missing,
      'ask the provider to enable them, or drop them from the source'
    )
  ]
}
