// The plan against the real restore, for tests: a 14 source database, the plan's checks as the 17
// target's managed-style admin runs them, and a real pg_dump 17 | pg_restore 17 as that admin into
// the same target database.
import type pg from 'pg'
import type { Finding } from '../../src/plan/findings.js'
import { runChecks, type ProbeContext } from '../../src/plan/checks/index.js'
import { restoreAsAdmin, type RestoreFailure } from './restore-as-admin.js'
import { serverUrl, withClient } from './servers.js'
import { loadTestbedState, quoteIdent, uniqueName } from './testbed.js'
import { WHOLE_DATABASE } from '../../src/scope/sql.js'

const { source, target } = loadTestbedState()
export const admin = target.admin as { user: string; password: string }

export async function sourceDatabase(sql: string): Promise<string> {
  const name = uniqueName('fidelity')
  await withClient(serverUrl(source, 'postgres'), (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`))
  await withClient(serverUrl(source, name), (c) => c.query(sql))
  return name
}

/** A new target database owned by the admin, as a provider creates it; `superSql` runs in it as superuser. */
export async function targetDatabase(superSql?: string): Promise<string> {
  const name = uniqueName('planned')
  await withClient(serverUrl(target, 'postgres', admin), (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`))
  if (superSql) await withClient(serverUrl(target, name), (c) => c.query(superSql))
  return name
}

/**
 * The plan's checks as the test bed's target admin runs them for its source, the whole database, the
 * defaults of the inputs: `overrides` say what a test is about.
 */
export function probeContext(
  sourceClient: pg.Client,
  targetClient: pg.Client,
  overrides: Partial<ProbeContext> = {}
): ProbeContext {
  return {
    source: sourceClient,
    target: targetClient,
    sourceMajor: source.major,
    targetMajor: target.major,
    targetIsSuperuser: false,
    privileges: 'skip',
    roles: 'fail',
    validationQueries: [],
    scope: WHOLE_DATABASE,
    ...overrides
  }
}

/** What the plan says of `db` for the target database `targetDb`. */
export async function plan(db: string, targetDb: string): Promise<Finding[]> {
  return withClient(serverUrl(source, db), (sourceClient) =>
    withClient(serverUrl(target, targetDb, admin), (targetClient) =>
      // restoreAsAdmin restores as the admin itself, as the action does with accept-source-code: true.
      runChecks(probeContext(sourceClient, targetClient, { targetDatabase: targetDb, acceptSourceCode: true }))
    )
  )
}

export interface Verdict {
  targetDb: string
  blockers: Record<string, string[]>
  warnings: Record<string, string[]>
  failures: RestoreFailure[]
}

/**
 * The plan's findings by id for a new target database (prepared by `targetSetup`, as superuser),
 * and what the real restore of the same source into that same database refused.
 */
export async function judge(sql: string, targetSetup?: string): Promise<Verdict> {
  const db = await sourceDatabase(sql)
  const targetDb = await targetDatabase(targetSetup)
  const findings = await plan(db, targetDb)
  const { failures } = await restoreAsAdmin(db, targetDb)
  const byId = (severity: string) =>
    Object.fromEntries(findings.filter((f) => f.severity === severity).map((f) => [f.id, f.objects]))
  return { targetDb, blockers: byId('blocker'), warnings: byId('warning'), failures }
}

export const errors = (verdict: Verdict) => verdict.failures.map((f) => `${f.entry}: ${f.error}`)
