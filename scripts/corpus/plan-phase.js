// The plan against the truth, for a target login without superuser: every blocker it predicts must
// fail the real restore (confirmed, else false), and once they are gone the restore must pass
// (whatever still fails is missed).
import fs from 'node:fs'
import path from 'node:path'
import { serverUrl, withClient } from '../../test/support/servers.js'
import { dropDatabase, runCorpusAction } from './action.js'
import { copyWithout, migrateUntilRestored, withTargetRolesRestored } from './loop.js'
import { resolveFindings } from './objects.js'
import { REGRESSION_DB, ident } from './regress.js'
import { dump, restoreWithErrors, tocEntries } from './toc.js'

const PG_CLASS = 1259

/**
 * @typedef {import('./action.js').ActionContext & { bin: string, clientMajor: number,
 *   envFor: (server: import('../../test/support/servers.js').ServerInfo, user: string) => Record<string, string>,
 *   timed: <T>(phase: string, work: () => Promise<T>) => Promise<T>, sourceDb?: string,
 *   adminVerify?: boolean, verifyRuns?: ('skip' | 'keep')[] }} PhaseContext
 * sourceDb: the database scored (default the regression database); adminVerify: the login without
 * superuser's migration verifies too, and its differences are kept (the application corpus);
 * verifyRuns: the superuser's migrations, by privileges (default skip and keep).
 */

/** The plan's blockers for one target login, each with its catalog address on the source. */
export async function plannedBlockers(ctx, login, targetDb, sourceDb = REGRESSION_DB) {
  const run = await runCorpusAction(ctx, { mode: 'plan', sourceDb, targetDb, login })
  const database = run.report?.databases?.[0]
  if (!database) throw new Error(`the plan run wrote no report (exit ${run.exitCode})`)
  const findings = database.findings.filter((f) => f.severity === 'blocker')
  const resolved = await withClient(serverUrl(ctx.source, sourceDb), (client) => resolveFindings(client, findings))
  return {
    findings,
    warnings: database.findings.filter((f) => f.severity !== 'blocker'),
    resolved,
    seconds: run.seconds
  }
}

/** @param {PhaseContext} ctx */
export function planPhase(ctx) {
  return withTargetRolesRestored(ctx, () => scorePlan(ctx))
}

/** @param {PhaseContext} ctx */
async function scorePlan(ctx) {
  const admin = /** @type {import('../../test/support/servers.js').Login} */ (ctx.target.admin)
  const sourceDb = ctx.sourceDb ?? REGRESSION_DB
  const plan = await ctx.timed('plan: mode plan', () => plannedBlockers(ctx, admin, 'corpus_plan', sourceDb))
  ctx.log(`  ${plan.resolved.length} objects in ${plan.findings.length} blocker findings`)
  const confirmation = await ctx.timed('plan: confirm (dump, restore as admin)', () =>
    // A dump or restore that cannot run at all leaves every prediction unconfirmed, and says why.
    confirm(ctx, plan.resolved, sourceDb).catch((error) => ({
      error: /** @type {Error} */ (error).message,
      predicted: plan.resolved.map((o) => ({
        finding: o.finding,
        object: o.object,
        status: 'unconfirmed',
        toc: [],
        errors: []
      })),
      tocEntries: 0,
      failedEntries: 0,
      unexplained: []
    }))
  )
  const missed = await ctx.timed('plan: missed blockers (copy, migrate until restored)', async () => {
    const copy = await copyWithout(ctx, {
      from: sourceDb,
      copy: 'corpus_plan_copy',
      resolved: plan.resolved,
      login: admin,
      planAgain: plannedBlockers
    })
    const loop = await migrateUntilRestored(ctx, {
      copy: 'corpus_plan_copy',
      targetDb: 'corpus_plan_target',
      login: admin,
      inputs: ctx.adminVerify ? {} : { verify: 'none' },
      label: 'admin'
    })
    await dropDatabase(ctx.target, 'corpus_plan_target')
    const differences = loop.lastRun?.report?.databases?.[0]?.comparison?.differences
    return { ...copy, ...loop, lastRun: undefined, ...(ctx.adminVerify ? { differences: differences ?? [] } : {}) }
  })
  return { findings: plan.findings, warnings: plan.warnings, predicted: confirmation.predicted, confirmation, missed }
}

/**
 * Dumps the source as the action does and restores it as the admin, errors and all; each predicted
 * object is confirmed when a TOC entry of its own failed.
 * @param {PhaseContext} ctx @param {import('./objects.js').ResolvedObject[]} resolved @param {string} sourceDb
 */
async function confirm(ctx, resolved, sourceDb) {
  if (resolved.length === 0)
    return { predicted: [], tocEntries: 0, failedEntries: 0, unexplained: [], skipped: 'no blocker predicted' }
  const admin = /** @type {import('../../test/support/servers.js').Login} */ (ctx.target.admin)
  const dir = path.join(ctx.baseDir, 'confirm-dump')
  await dump({
    ...ctx,
    jobs: ctx.jobs,
    env: ctx.envFor(ctx.source, ctx.source.superuser.user),
    database: sourceDb,
    dir
  })
  const entries = await tocEntries(ctx.bin, dir)
  const targetDb = 'corpus_confirm'
  await dropDatabase(ctx.target, targetDb)
  await withClient(serverUrl(ctx.target, 'postgres', admin), (client) =>
    client.query(`CREATE DATABASE ${ident(targetDb)} TEMPLATE template0 ENCODING 'UTF8'`)
  )
  const restore = await restoreWithErrors({
    bin: ctx.bin,
    env: ctx.envFor(ctx.target, admin.user),
    database: targetDb,
    dir,
    entries,
    privileges: 'skip',
    superuser: false
  })
  fs.rmSync(dir, { recursive: true, force: true })
  await dropDatabase(ctx.target, targetDb)
  const notes = await withClient(serverUrl(ctx.source, sourceDb), (client) => describeAll(client, resolved))
  const explained = new Set()
  const predicted = resolved.map((object, index) => {
    const own = object.address ? entries.filter((entry) => ownsEntry(object.address, entry)) : []
    const failed = object.address
      ? restore.failures.filter((f) => f.entry && ownsEntry(object.address, f.entry))
      : object.role
        ? restore.failures.filter((f) => f.errors.some((e) => e.includes(`role "${object.role}" does not exist`)))
        : []
    for (const failure of failed) explained.add(failure)
    const status = object.kind === 'unresolved' ? 'unresolved' : failed.length > 0 ? 'confirmed' : 'false'
    // Failing only because something it needs failed first says little about the object itself.
    const onlyConsequence = failed.length > 0 && failed.every((f) => f.errors.every((e) => /does not exist/.test(e)))
    return {
      finding: object.finding,
      object: object.object,
      status,
      ...(onlyConsequence && object.kind === 'object' ? { onlyConsequence: true } : {}),
      ...notes[index],
      toc: own.map((entry) => entry.what),
      errors: failed.flatMap((f) => f.errors.map((e) => `${f.entry?.what ?? '?'}: ${e}`))
    }
  })
  const unexplained = restore.failures
    .filter((failure) => !explained.has(failure))
    .map((failure) => ({ entry: failure.entry?.line ?? '(no TOC entry)', errors: failure.errors }))
  return { predicted, tocEntries: entries.length, failedEntries: restore.failures.length, unexplained }
}

/** A TOC entry belongs to an object when it carries its address (a table's data and columns: the table's). */
function ownsEntry(address, entry) {
  if (address.classid === PG_CLASS && entry.oid === address.objid)
    return entry.tableoid === PG_CLASS || entry.tableoid === 0
  return address.objsubid === 0 && entry.tableoid === address.classid && entry.oid === address.objid
}

/** What each object is, and the object that owns it internally, if any (why some have no TOC entry). */
async function describeAll(client, resolved) {
  const notes = []
  for (const object of resolved) {
    if (!object.address) {
      notes.push({})
      continue
    }
    const { classid, objid, objsubid } = object.address
    const { rows } = await client.query(
      `SELECT pg_describe_object($1, $2, $3) AS description,
              (SELECT string_agg(pg_describe_object(refclassid, refobjid, refobjsubid), ', ')
                 FROM pg_depend WHERE classid = $1 AND objid = $2 AND objsubid = $3 AND deptype IN ('i', 'e')) AS owned_by,
              (SELECT prokind::text FROM pg_proc WHERE oid = $2 AND $1 = 'pg_proc'::regclass::oid) AS prokind`,
      [classid, objid, objsubid]
    )
    const row = rows[0]
    notes.push({
      description: row.description,
      ...(row.owned_by ? { ownedBy: row.owned_by } : {}),
      ...(row.prokind ? { prokind: row.prokind } : {})
    })
  }
  return notes
}
