import { runAction, outcome, PASSED } from '../support/run-action.js'
import { loadTestbed, uniqueName } from '../support/testbed.js'

// A blocker's hint, followed as written, must lead to a run that passes; what a faithful copy holds must verify.
const testbed = loadTestbed()

const extensions = async (db: string): Promise<string[]> =>
  (
    await testbed.query('target', db, `SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`)
  ).rows.map((row: { extname: string }) => row.extname)

describe('an extension only a superuser can create, created by one in the target database as the hint says', () => {
  const source = uniqueName('hint_ext')
  const target = `${source}_t`

  beforeAll(async () => {
    await testbed.createSourceDatabase(
      source,
      `CREATE EXTENSION cube; CREATE EXTENSION earthdistance;
       CREATE TABLE places (id int PRIMARY KEY, at earth);
       INSERT INTO places VALUES (1, ll_to_earth(52.5, 13.4)), (2, ll_to_earth(48.1, 11.6));`
    )
    await testbed.createTargetDatabase(target)
  })

  test('the plan blocks and says what to run; run that way, the migration passes and keeps the extensions', async () => {
    const inputs = testbed.actionInputs(source, target)
    const blocked = await runAction(inputs)
    expect(blocked.exitCode).not.toBe(0)
    // CASCADE: earthdistance needs cube, which the superuser's CREATE EXTENSION must make too.
    expect(blocked.stdout).toContain(
      'have a superuser run CREATE EXTENSION "earthdistance" CASCADE in the target database'
    )

    await testbed.query('target', target, 'CREATE EXTENSION "earthdistance" CASCADE')
    const run = await runAction(inputs)
    expect(outcome(run)).toEqual(PASSED)
    expect(await extensions(target)).toEqual(['cube', 'earthdistance'])
    const { rows } = await testbed.query('target', target, 'SELECT count(*)::int AS n FROM places')
    expect(rows).toEqual([{ n: 2 }])
  })

  test('if-target-not-empty: clean drops what is there but keeps them', async () => {
    await testbed.query('target', target, 'CREATE TABLE leftover (id int)')
    const run = await runAction(testbed.actionInputs(source, target, { 'if-target-not-empty': 'clean' }))
    expect(outcome(run)).toEqual(PASSED)
    expect(await extensions(target)).toEqual(['cube', 'earthdistance'])
    const { rows } = await testbed.query('target', target, `SELECT to_regclass('public.leftover') IS NULL AS gone`)
    expect(rows).toEqual([{ gone: true }])
  })
})

test('privileges: keep moves schema public owned by an ordinary role, with its grants, and the verify agrees', async () => {
  const db = uniqueName('public_owner')
  const owner = uniqueName('app_owner')
  const reader = uniqueName('app_reader')
  await testbed.query('source', 'postgres', `CREATE ROLE ${owner}; CREATE ROLE ${reader}`)
  await testbed.createSourceDatabase(
    db,
    `ALTER SCHEMA public OWNER TO ${owner};
     REVOKE ALL ON SCHEMA public FROM PUBLIC;
     GRANT USAGE ON SCHEMA public TO ${reader};
     CREATE TABLE t (id int PRIMARY KEY); ALTER TABLE t OWNER TO ${owner};`
  )
  const run = await runAction(testbed.actionInputs(db, db, { privileges: 'keep', roles: 'create-missing' }))
  expect(outcome(run)).toEqual(PASSED)
  const { rows } = await testbed.query(
    'target',
    db,
    `SELECT pg_get_userbyid(nspowner) AS owner, has_schema_privilege('${reader}', oid, 'USAGE') AS reader_uses,
       has_schema_privilege('public', oid, 'USAGE') AS anyone_uses FROM pg_namespace WHERE nspname = 'public'`
  )
  expect(rows).toEqual([{ owner, reader_uses: true, anyone_uses: false }])
})

test('routines with arguments named by words that became keywords in 16 and 17 restore from 14 and verify', async () => {
  const db = uniqueName('keyword_args')
  await testbed.createSourceDatabase(
    db,
    `CREATE FUNCTION first_key(json json) RETURNS text LANGUAGE sql AS $$ SELECT json_object_keys(json) LIMIT 1 $$;
     CREATE FUNCTION who(json_table text, OUT system_user text) LANGUAGE sql AS $$ SELECT json_table $$;
     CREATE PROCEDURE note(merge_action text, json jsonb) LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE '%', json; END $$;
     CREATE TABLE docs (id int PRIMARY KEY, body json);
     CREATE VIEW doc_keys AS SELECT id, first_key(body) AS json FROM docs;
     INSERT INTO docs VALUES (1, '{"a": 1}');`
  )
  const run = await runAction(testbed.actionInputs(db, db))
  expect(outcome(run)).toEqual(PASSED)
  const { rows } = await testbed.query('target', db, `SELECT json FROM doc_keys`)
  expect(rows).toEqual([{ json: 'a' }])
  const args = await testbed.query(
    'target',
    db,
    `SELECT pg_get_function_arguments('first_key'::regproc) AS first_key, pg_get_function_arguments('who'::regproc) AS who`
  )
  expect(args.rows).toEqual([{ first_key: '"json" json', who: '"json_table" text, OUT "system_user" text' }])
})

test('privileges: keep moves large objects with their owners and grants, and the verify checks them', async () => {
  const db = uniqueName('lo_owner')
  const owner = uniqueName('lo_owner')
  const reader = uniqueName('lo_reader')
  await testbed.query('source', 'postgres', `CREATE ROLE ${owner}; CREATE ROLE ${reader}`)
  await testbed.createSourceDatabase(
    db,
    `SELECT lo_from_bytea(424242, 'scan'::bytea), lo_from_bytea(424243, 'plain'::bytea);
     ALTER LARGE OBJECT 424242 OWNER TO ${owner};
     ALTER LARGE OBJECT 424243 OWNER TO ${reader};
     GRANT SELECT ON LARGE OBJECT 424242 TO ${reader};`
  )
  const inputs = testbed.actionInputs(db, db, { privileges: 'keep', roles: 'create-missing' })
  const run = await runAction(inputs)
  expect(outcome(run)).toEqual(PASSED)
  const owners = `SELECT oid::int AS oid, pg_get_userbyid(lomowner) AS owner,
      coalesce(lomacl::text, '') LIKE '%${reader}=r/%' AS granted FROM pg_largeobject_metadata ORDER BY 1`
  expect((await testbed.query('target', db, owners)).rows).toEqual([
    { oid: 424242, owner, granted: true },
    { oid: 424243, owner: reader, granted: false }
  ])

  // Taken away on the target, the grant is a difference; with privileges: skip, an expected one.
  await testbed.query('target', db, `REVOKE SELECT ON LARGE OBJECT 424242 FROM ${reader}`)
  const validated = await runAction({ ...inputs, mode: 'validate' })
  expect(validated.outputs.result).toBe('failed')
  expect(validated.stdout).toContain('some have other owners or grants')
  const skipped = await runAction({ ...inputs, mode: 'validate', privileges: 'skip' })
  expect(outcome(skipped)).toEqual(PASSED)
})
