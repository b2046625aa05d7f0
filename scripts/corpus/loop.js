// Missed blockers: migrate a copy of the source for real, and while the restore fails, drop the
// object it failed on from the copy and go again. What the loop drops, the plan should have named.
import { serverUrl, withClient } from '../../test/support/servers.js'
import { copyDatabase, databaseError, dropDatabase, runCorpusAction } from './action.js'
import { dropObjects } from './objects.js'
import { ident } from './regress.js'

const PG_CLASS = 1259

/**
 * @typedef {{ entry: string, errors: string[], dropped?: string, via?: string, dropError?: string }} MissedBlocker
 * @typedef {{ missed: MissedBlocker[], rounds: number, passed: boolean, stopped?: string, lastRun?: import('./action.js').CorpusRun,
 *   seconds: number }} LoopResult
 */

/**
 * @param {import('./action.js').ActionContext} ctx
 * @param {{ copy: string, targetDb: string, login: import('../../test/support/servers.js').Login,
 *   inputs: Record<string, string>, maxRounds?: number, label: string }} options
 * @returns {Promise<LoopResult>}
 */
export async function migrateUntilRestored(ctx, { copy, targetDb, login, inputs, maxRounds = 80, label }) {
  const started = performance.now()
  /** @type {MissedBlocker[]} */
  const missed = []
  const seen = new Set()
  for (let round = 1; round <= maxRounds; round++) {
    await dropDatabase(ctx.target, targetDb)
    const run = await runCorpusAction(ctx, { mode: 'migrate', sourceDb: copy, targetDb, login, inputs })
    const error = databaseError(run)
    const done = (extra) => ({ missed, rounds: round, lastRun: run, seconds: secondsSince(started), ...extra })
    if (!error || error.stage === 'Verify') {
      ctx.log(`  ${label}: restore passed in round ${round} (${run.seconds} s)`)
      return done({ passed: true })
    }
    if (error.stage !== 'Restore' || !run.failedEntry) {
      return done({ passed: false, stopped: `${error.stage} failed: ${error.message}` })
    }
    const entry = run.failedEntry
    const description = `${entry.dumpId}; ${entry.tableoid} ${entry.oid} ${entry.what}`
    ctx.log(`  ${label}: round ${round} (${run.seconds} s) stopped at ${entry.what}: ${run.restoreErrors[0] ?? ''}`)
    /** @type {MissedBlocker} */
    const blocker = { entry: description, errors: run.restoreErrors }
    missed.push(blocker)
    const key = `${entry.tableoid}/${entry.oid}/${entry.what}`
    if (seen.has(key))
      return done({
        passed: false,
        stopped: `the same entry failed again after its object was dropped: ${description}`
      })
    seen.add(key)
    if (entry.oid === 0) {
      return done({ passed: false, stopped: `no catalog address to drop for ${description}` })
    }
    const address = { classid: entry.tableoid === 0 ? PG_CLASS : entry.tableoid, objid: entry.oid, objsubid: 0 }
    const [result] = await withClient(serverUrl(ctx.source, copy), (client) => dropObjects(client, [address]))
    if (result.status === 'dropped')
      Object.assign(blocker, { dropped: result.sql, ...(result.via ? { via: result.via } : {}) })
    else {
      blocker.dropError = result.status === 'gone' ? 'the object is not on the copy' : `${result.sql}: ${result.error}`
      return done({ passed: false, stopped: `could not drop ${description}: ${blocker.dropError}` })
    }
  }
  return {
    missed,
    rounds: maxRounds,
    passed: false,
    stopped: `still failing after ${maxRounds} rounds`,
    seconds: secondsSince(started)
  }
}

/**
 * A copy of the source with the blockers' objects dropped; the roles a blocker names are created on
 * the target instead (what the plan's hint says to do), since a role is not part of the database.
 * Dropping an object can bring another to light (an operator class gone, its family is named next):
 * the plan runs again on the copy until it names nothing, and what it names then is "revealed".
 * @param {import('./action.js').ActionContext} ctx
 * @param {{ from: string, copy: string, resolved: import('./objects.js').ResolvedObject[],
 *   login: import('../../test/support/servers.js').Login,
 *   planAgain: (ctx: any, login: any, targetDb: string, sourceDb: string) => Promise<{ findings: any[], resolved: import('./objects.js').ResolvedObject[] }> }} options
 */
export async function copyWithout(ctx, { from, copy, resolved, login, planAgain }) {
  await copyDatabase(ctx.source, from, copy)
  const drops = []
  const rolesCreated = []
  /** @type {import('./objects.js').ResolvedObject[]} */
  const revealed = []
  let blockers = resolved
  for (let round = 0; round < 5 && blockers.length > 0; round++) {
    if (round > 0) revealed.push(...blockers)
    const addresses = blockers.filter((r) => r.kind === 'object').map((r) => /** @type {any} */ (r.address))
    drops.push(...(await withClient(serverUrl(ctx.source, copy), (client) => dropObjects(client, addresses))))
    const roles = [...new Set(blockers.filter((r) => r.kind === 'role').map((r) => /** @type {string} */ (r.role)))]
    await withClient(serverUrl(ctx.target, 'postgres'), async (client) => {
      for (const role of roles) {
        const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])
        if (rowCount) continue
        await client.query(`CREATE ROLE ${ident(role)} NOLOGIN`)
        rolesCreated.push(role)
      }
    })
    const unresolved = blockers.filter((r) => r.kind === 'unresolved')
    if (unresolved.length > 0) break
    blockers = (await planAgain(ctx, login, `${copy}_plan`, copy)).resolved
  }
  return { drops, rolesCreated, revealed, remaining: blockers.map((b) => `${b.finding}: ${b.object}`) }
}

/**
 * Runs a phase and then drops the roles it made on the target (for blockers, or by roles:
 * create-missing), once the databases naming them are gone: the next phase sees the target as on a
 * fresh server.
 * @template T @param {import('./action.js').ActionContext} ctx @param {() => Promise<T>} work @returns {Promise<T>}
 */
export async function withTargetRolesRestored(ctx, work) {
  const roles = () =>
    withClient(serverUrl(ctx.target, 'postgres'), async (client) =>
      (await client.query('SELECT rolname FROM pg_roles')).rows.map((row) => row.rolname)
    )
  const before = new Set(await roles())
  try {
    return await work()
  } finally {
    const made = (await roles()).filter((role) => !before.has(role))
    await withClient(serverUrl(ctx.target, 'postgres'), async (client) => {
      for (const role of made) await client.query(`DROP ROLE IF EXISTS ${ident(role)}`)
    })
  }
}

function secondsSince(started) {
  return Math.round((performance.now() - started) / 100) / 10
}
