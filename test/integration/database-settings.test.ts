// Database-level settings and the database's comment, which a dump without --create leaves out: the
// plan names what the managed-style admin cannot set on 17, the carry sets the rest, the verify
// compares both sides; and each "cannot" is what 17 says when the admin tries. The superuser-only
// parameter is one no other test grants SET on: the servers are shared, and blocker-hints.test.ts
// grants SET on log_statement while it follows a hint.
import { Cancellation } from '../../src/base/cancellation.js'
import { Connector } from '../../src/pg/connection.js'
import { parseDatabaseUrl } from '../../src/pg/endpoint.js'
import { carryDatabaseSettings } from '../../src/settings/carry-settings.js'
import {
  compareDatabaseSettings,
  fingerprintDatabaseSettings
} from '../../src/verify/fingerprint/settings-fingerprint.js'
import type { Fingerprint } from '../../src/verify/fingerprint/index.js'
import type { Finding } from '../../src/plan/findings.js'
import { runChecks } from '../../src/plan/checks/index.js'
import { recordingLog } from '../support/in-process.js'
import { probeContext } from '../support/plan-oracle.js'
import { outcome, PASSED, runAction } from '../support/run-action.js'
import { serverUrl, withClient } from '../support/servers.js'
import { loadTestbed, quoteIdent, uniqueName } from '../support/testbed.js'

const testbed = loadTestbed()
const { target } = testbed
const admin = target.admin as { user: string; password: string }
const asAdmin = (db: string) => serverUrl(target, db, admin)

/** A source database with database, role and placeholder settings and a comment; roles made on both sides as needed. */
async function sourceWithSettings() {
  const db = uniqueName('settings')
  const [mine, theirs, gone] = ['ds_mine', 'ds_theirs', 'ds_gone'].map(uniqueName)
  await testbed.createSourceDatabase(db)
  await testbed.query(
    'source',
    db,
    `CREATE ROLE ${mine} NOLOGIN; CREATE ROLE ${theirs} NOLOGIN; CREATE ROLE ${gone} NOLOGIN;
     ALTER DATABASE ${db} SET work_mem = '12MB';
     ALTER DATABASE ${db} SET search_path = 'My Schema', '$user', public, json;
     ALTER DATABASE ${db} SET log_executor_stats = on;
     ALTER DATABASE ${db} SET myapp.mode = 'strict';
     ALTER ROLE ${mine} IN DATABASE ${db} SET statement_timeout = '5s';
     ALTER ROLE ${theirs} IN DATABASE ${db} SET work_mem = '1MB';
     ALTER ROLE ${gone} IN DATABASE ${db} SET work_mem = '2MB';
     COMMENT ON DATABASE ${db} IS 'the shop''s data';`
  )
  // On the target the admin made one role (it holds ADMIN OPTION on it), a superuser the other.
  await withClient(asAdmin('postgres'), (c) => c.query(`CREATE ROLE ${mine} NOLOGIN`))
  await testbed.query('target', 'postgres', `CREATE ROLE ${theirs} NOLOGIN`)
  return { db, mine, theirs, gone }
}

async function plan(db: string, targetDb: string): Promise<Finding[]> {
  return withClient(testbed.sourceUrl(db), (sourceClient) =>
    withClient(asAdmin('postgres'), (targetClient) =>
      runChecks(probeContext(sourceClient, targetClient, { targetDatabase: targetDb }))
    )
  )
}

const notCarried = (findings: Finding[]) =>
  findings.find((f) => f.id === 'database-settings-not-carried') ?? { objects: [], severity: undefined }

test('carried where the admin may set them, named in the plan where not, and verified on both sides', async () => {
  const { db, mine, theirs, gone } = await sourceWithSettings()
  const targetDb = uniqueName('settings_target')

  const finding = notCarried(await plan(db, targetDb))
  expect(finding.severity).toBe('warning')
  expect(finding.objects).toEqual([
    'ALTER DATABASE SET log_executor_stats (only a superuser or a role granted SET on log_executor_stats may set it)',
    'ALTER DATABASE SET myapp.mode (the target does not know myapp.mode (its module is not loaded), so only a superuser or a role granted SET on it may set it)',
    `ALTER ROLE ${gone} IN DATABASE SET work_mem (role ${gone} does not exist on the target)`,
    `ALTER ROLE ${theirs} IN DATABASE SET work_mem (the target login needs CREATEROLE and ADMIN OPTION on role ${theirs})`
  ])

  // The run creates the target database (so the admin owns it), restores, then carries the settings.
  await testbed.createTargetDatabase(targetDb)
  const sourceFingerprint = {
    databaseSettings: await withClient(testbed.sourceUrl(db), fingerprintDatabaseSettings)
  } as Fingerprint
  const { log, lines } = recordingLog()
  await carryDatabaseSettings(
    new Connector({ log, cancellation: new Cancellation() }),
    log,
    parseDatabaseUrl('target-url', asAdmin(targetDb), log),
    { source: parseDatabaseUrl('source-url', testbed.sourceUrl(db), log), fingerprint: sourceFingerprint }
  )
  expect(lines.filter((line) => line.startsWith('::warning::'))).toHaveLength(4)

  const { rows } = await testbed.query(
    'target',
    targetDb,
    `SELECT coalesce(r.rolname, '') AS role, s.setconfig AS config FROM pg_db_role_setting s
       LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY 1`
  )
  expect(rows).toEqual([
    { role: '', config: ['work_mem=12MB', 'search_path="My Schema", "$user", public, "json"'] },
    { role: mine, config: ['statement_timeout=5s'] }
  ])
  const comment = await testbed.query(
    'target',
    targetDb,
    `SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = current_database()`
  )
  expect(comment.rows[0].c).toBe("the shop's data")

  // The verify: 17 quotes json in search_path, which is not a difference; what was not carried is expected.
  const targetSettings = await withClient(asAdmin(targetDb), fingerprintDatabaseSettings)
  const differences = compareDatabaseSettings(sourceFingerprint.databaseSettings, targetSettings)
  expect(differences.map(({ kind, object, expected }) => ({ kind, object, expected }))).toEqual([
    { kind: 'missing', object: 'ALTER DATABASE SET log_executor_stats', expected: true },
    { kind: 'missing', object: 'ALTER DATABASE SET myapp.mode', expected: true },
    { kind: 'missing', object: `ALTER ROLE ${gone} IN DATABASE SET work_mem`, expected: true },
    { kind: 'missing', object: `ALTER ROLE ${theirs} IN DATABASE SET work_mem`, expected: true }
  ])

  // Each "cannot" is what 17 says to the admin.
  const refusals: [string, string][] = [
    [
      `ALTER DATABASE ${targetDb} SET log_executor_stats = on`,
      'permission denied to set parameter "log_executor_stats"'
    ],
    [`ALTER DATABASE ${targetDb} SET myapp.mode = 'strict'`, 'permission denied to set parameter "myapp.mode"'],
    [`ALTER ROLE ${theirs} IN DATABASE ${targetDb} SET work_mem = '1MB'`, 'permission denied to alter role'],
    [`ALTER ROLE ${gone} IN DATABASE ${targetDb} SET work_mem = '2MB'`, `role "${gone}" does not exist`]
  ]
  for (const [sql, error] of refusals)
    await expect(withClient(asAdmin(targetDb), (c) => c.query(sql))).rejects.toThrow(error)
})

test('a target database the admin does not own: its settings and comment are named in the plan, and 17 refuses them', async () => {
  const db = uniqueName('settings')
  await testbed.createSourceDatabase(db)
  await testbed.query('source', db, `ALTER DATABASE ${db} SET work_mem = '12MB'; COMMENT ON DATABASE ${db} IS 'kept'`)
  const targetDb = uniqueName('not_owned')
  await testbed.query('target', 'postgres', `CREATE DATABASE ${quoteIdent(targetDb)}`)

  const notOwner =
    'the target login does not own the target database (ALTER DATABASE and COMMENT ON DATABASE need its owner)'
  expect(notCarried(await plan(db, targetDb)).objects).toEqual([
    `ALTER DATABASE SET work_mem (${notOwner})`,
    `COMMENT ON DATABASE (${notOwner})`
  ])
  for (const sql of [`ALTER DATABASE ${targetDb} SET work_mem = '12MB'`, `COMMENT ON DATABASE ${targetDb} IS 'kept'`])
    await expect(withClient(asAdmin(targetDb), (c) => c.query(sql))).rejects.toThrow(
      `must be owner of database ${targetDb}`
    )
})

test('the action carries them after the restore and verifies them: what it cannot set is expected, not a failure', async () => {
  const db = uniqueName('settings_run')
  await testbed.createSourceDatabase(db, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)')
  await testbed.query(
    'source',
    db,
    `ALTER DATABASE ${db} SET default_transaction_read_only = on; ALTER DATABASE ${db} SET log_executor_stats = on;
     COMMENT ON DATABASE ${db} IS 'carried'`
  )
  const run = await runAction(testbed.actionInputs(db, db))
  expect(outcome(run)).toEqual(PASSED)
  const report = run.report.databases[0]
  expect(report.findings.map((f: Finding) => f.id)).toContain('database-settings-not-carried')
  const differences = report.comparison.differences.map(
    ({ kind, object, expected }: { kind: string; object: string; expected: boolean }) => ({ kind, object, expected })
  )
  expect(differences).toContainEqual({
    kind: 'missing',
    object: 'ALTER DATABASE SET log_executor_stats',
    expected: true
  })
  const { rows } = await testbed.query(
    'target',
    db,
    `SELECT s.setconfig AS config, shobj_description(d.oid, 'pg_database') AS comment FROM pg_database d
       JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0 WHERE d.datname = current_database()`
  )
  expect(rows).toEqual([{ config: ['default_transaction_read_only=on'], comment: 'carried' }])
})
