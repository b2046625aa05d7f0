import { runAction, outcome, PASSED } from '../support/run-action.js'
import { loadTestbed, uniqueName } from '../support/testbed.js'

const testbed = loadTestbed()

test('roles: create-missing with privileges: keep restores owners and grants as the managed admin', async () => {
  const db = uniqueName('owned')
  const owner = uniqueName('app_owner')
  const reader = uniqueName('app_reader')
  await testbed.query('source', 'postgres', `CREATE ROLE ${owner}; CREATE ROLE ${reader}`)
  await testbed.createSourceDatabase(
    db,
    `CREATE SCHEMA app AUTHORIZATION ${owner};
     CREATE TABLE app.accounts (id int PRIMARY KEY, name text);
     ALTER TABLE app.accounts OWNER TO ${owner};
     INSERT INTO app.accounts SELECT g, 'n' || g FROM generate_series(1, 100) g;
     GRANT USAGE ON SCHEMA app TO ${reader};
     GRANT SELECT ON app.accounts TO ${reader};
     CREATE TABLE app.ledger (id int PRIMARY KEY, entry text);
     ALTER TABLE app.ledger OWNER TO ${owner};
     INSERT INTO app.ledger SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 60000) g;
     REVOKE ALL ON app.ledger FROM PUBLIC;
     GRANT SELECT ON app.ledger TO ${reader};`
  )
  const refused = await runAction(testbed.actionInputs(db, db, { privileges: 'keep' }))
  expect(refused.exitCode).not.toBe(0)
  expect(refused.stdout).toContain(owner)

  const run = await runAction(testbed.actionInputs(db, db, { privileges: 'keep', roles: 'create-missing' }))
  expect(outcome(run)).toEqual(PASSED)
  expect(run.report.databases[0].createdRoles).toEqual(expect.arrayContaining([owner, reader]))
  expect(run.summary).toContain('Roles created NOLOGIN on the target')
  // Big enough to load as pg_dump writes it: into a table the login owns only through the granted role.
  expect(run.report.databases[0].restore.followed).toEqual(['app.ledger'])
  const { rows } = await testbed.query(
    'target',
    db,
    `SELECT c.relname AS table, pg_get_userbyid(c.relowner) AS owner, has_table_privilege('${reader}', c.oid, 'SELECT') AS readable
       FROM pg_class c WHERE c.oid IN ('app.accounts'::regclass, 'app.ledger'::regclass) ORDER BY 1`
  )
  expect(rows).toEqual([
    { table: 'accounts', owner, readable: true },
    { table: 'ledger', owner, readable: true }
  ])
  const ledger = await testbed.query('target', db, 'SELECT count(*)::int AS n FROM app.ledger')
  expect(ledger.rows).toEqual([{ n: 60000 }])
  const login = await testbed.query('target', 'postgres', `SELECT rolcanlogin FROM pg_roles WHERE rolname = '${owner}'`)
  expect(login.rows).toEqual([{ rolcanlogin: false }])
})

test('databases: a list moves each database to a same-named target database, each reported', async () => {
  const first = uniqueName('fleet_a')
  const second = uniqueName('fleet_b')
  await testbed.createSourceDatabase(
    first,
    'CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a SELECT generate_series(1, 50);'
  )
  await testbed.createSourceDatabase(
    second,
    'CREATE TABLE b (id int PRIMARY KEY, v jsonb); INSERT INTO b VALUES (1, \'{"x": 1}\');'
  )
  const run = await runAction(testbed.actionInputs(first, 'postgres', { databases: `${first}, ${second}` }))
  expect(outcome(run)).toEqual(PASSED)
  expect(JSON.parse(run.outputs['databases-json'])).toEqual([first, second])
  expect(run.report.databases.map((d: { name: string; target: string }) => [d.name, d.target])).toEqual([
    [first, first],
    [second, second]
  ])
  expect(run.summary).toContain(`Database ${first}`)
  expect(run.summary).toContain(`Database ${second}`)
  expect((await testbed.query('target', first, 'SELECT count(*)::int AS n FROM a')).rows).toEqual([{ n: 50 }])
  expect((await testbed.query('target', second, 'SELECT v FROM b')).rows).toEqual([{ v: { x: 1 } }])
})

test('mode: plan writes nothing and reports planned', async () => {
  const db = uniqueName('planned')
  await testbed.createSourceDatabase(db, 'CREATE TABLE t (id int PRIMARY KEY);')
  const run = await runAction(testbed.actionInputs(db, db, { mode: 'plan' }))
  expect({ exitCode: run.exitCode, result: run.outputs.result }).toEqual({ exitCode: 0, result: 'planned' })
  expect(run.summary).toContain('pg-migrate plan: planned')
  const exists = await testbed.query('target', 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${db}'`)
  expect(exists.rowCount).toBe(0)
})
