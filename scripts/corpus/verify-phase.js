// The verify against the truth, for a superuser target: on a copy without the superuser target's
// blockers, a migration with privileges skip and one with keep; every difference the report calls
// unexpected is a failure of the copy or of the comparison, and is listed.
import { dropDatabase } from './action.js'
import { copyWithout, migrateUntilRestored, withTargetRolesRestored } from './loop.js'
import { plannedBlockers } from './plan-phase.js'

/** @param {import('./plan-phase.js').PhaseContext} ctx */
export function verifyPhase(ctx) {
  return withTargetRolesRestored(ctx, () => scoreVerify(ctx))
}

/** @param {import('./plan-phase.js').PhaseContext} ctx */
async function scoreVerify(ctx) {
  const superuser = ctx.target.superuser
  const sourceDb = ctx.sourceDb ?? 'regression'
  const plan = await ctx.timed('verify: mode plan (superuser target)', () =>
    plannedBlockers(ctx, superuser, 'corpus_verify_plan', sourceDb)
  )
  ctx.log(`  ${plan.resolved.length} objects in ${plan.findings.length} blocker findings (superuser target)`)
  const copy = await copyWithout(ctx, {
    from: sourceDb,
    copy: 'corpus_verify_copy',
    resolved: plan.resolved,
    login: superuser,
    planAgain: plannedBlockers
  })
  /** @type {Record<string, any>} */
  const runs = {}
  for (const [privileges, inputs] of /** @type {const} */ ([
    ['skip', { privileges: 'skip' }],
    ['keep', { privileges: 'keep', roles: 'create-missing' }]
  ]).filter(([privileges]) => !ctx.verifyRuns || ctx.verifyRuns.includes(privileges))) {
    const targetDb = `corpus_verify_${privileges}`
    runs[privileges] = await ctx.timed(`verify: migrate, privileges ${privileges}`, async () => {
      const loop = await migrateUntilRestored(ctx, {
        copy: 'corpus_verify_copy',
        targetDb,
        login: superuser,
        inputs,
        label: `superuser, ${privileges}`
      })
      await dropDatabase(ctx.target, targetDb)
      const database = loop.lastRun?.report?.databases?.[0]
      const differences = database?.comparison?.differences ?? []
      return {
        passed: loop.passed,
        stopped: loop.stopped,
        rounds: loop.rounds,
        missed: loop.missed,
        result: loop.lastRun?.result,
        migrateSeconds: loop.lastRun?.seconds,
        verified: Boolean(database?.comparison),
        unexpected: differences.filter((d) => !d.expected),
        expected: differences.filter((d) => d.expected)
      }
    })
  }
  return { findings: plan.findings, drops: copy.drops, rolesCreated: copy.rolesCreated, revealed: copy.revealed, runs }
}
