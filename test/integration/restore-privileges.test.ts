import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { errorLines, runAction, outcome, PASSED } from '../support/run-action.js'
import { serverUrl } from '../support/servers.js'
import { loadTestbed, quoteIdent, uniqueName } from '../support/testbed.js'

const testbed = loadTestbed()
const admin = testbed.target.admin?.user ?? 'admin'
const serverLog = path.join(path.dirname(testbed.target.dataDir), 'server.log')

/**
 * A source whose functions attack the target from every place a restore or ANALYZE evaluates one.
 * Each tries to leave SET ROLE for the session's login, then to create a LOGIN role, and writes to
 * the server log who it ran as. They do nothing on the source (14), only on the target (17+).
 * Autovacuum is off for the tables (the option is restored with them): its ANALYZE, the server's own and
 * run as the owner, would otherwise log under its worker's session whenever it wakes during the run.
 */
function hostileSource(tag: string): string {
  return `
    CREATE FUNCTION public.attack(place text) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      IF pg_catalog.current_setting('server_version_num')::int < 170000 THEN RETURN; END IF;
      BEGIN RESET ROLE; EXCEPTION WHEN OTHERS THEN NULL; END;
      BEGIN EXECUTE pg_catalog.format('CREATE ROLE %I LOGIN', '${tag}_' || place); EXCEPTION WHEN OTHERS THEN NULL; END;
      RAISE LOG '${tag} ran % as %/%', place, current_user, session_user;
    END $$;
    CREATE FUNCTION public.probe(place text, v int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN PERFORM public.attack(place); RETURN v; END $$;
    CREATE DOMAIN public.checked AS int CHECK (public.probe('domain', VALUE) IS NOT NULL);
    CREATE TABLE public.t (
      id int PRIMARY KEY CHECK (public.probe('check', id) IS NOT NULL),
      flag boolean NOT NULL,
      d public.checked,
      g int GENERATED ALWAYS AS (public.probe('generated', id)) STORED
    ) WITH (autovacuum_enabled = false);
    INSERT INTO public.t (id, flag, d) SELECT g, g % 2 = 0, g FROM generate_series(1, 200) g;
    CREATE INDEX t_probe ON public.t ((public.probe('index', id)));
    CREATE MATERIALIZED VIEW public.mv WITH (autovacuum_enabled = false) AS SELECT public.probe('matview', id) AS v FROM public.t;
    CREATE STATISTICS public.t_stats ON (public.probe('statistics', id)), flag FROM public.t;`
}

const PLACES = ['check', 'domain', 'generated', 'index', 'matview', 'statistics']

/** Who each place's function ran as on the target, from the server log: place → current_user/session_user. */
function ranAs(tag: string, logFrom: number): Record<string, string[]> {
  const log = fs.readFileSync(serverLog, 'utf8').slice(logFrom)
  const seen: Record<string, Set<string>> = {}
  for (const match of log.matchAll(new RegExp(`${tag} ran (\\w+) as (\\S+)`, 'g')))
    (seen[match[1]] ??= new Set()).add(match[2])
  return Object.fromEntries(Object.entries(seen).map(([place, users]) => [place, [...users].sort()]))
}

async function adminAttributes(): Promise<unknown> {
  const { rows } = await testbed.query(
    'target',
    'postgres',
    `SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolpassword, rolvaliduntil
       FROM pg_authid WHERE rolname = '${admin}'`
  )
  return rows[0]
}

async function rolesNamed(tag: string): Promise<string[]> {
  const { rows } = await testbed.query(
    'target',
    'postgres',
    `SELECT rolname FROM pg_roles WHERE rolname LIKE '${tag}\\_%'`
  )
  return rows.map((row: { rolname: string }) => row.rolname).sort()
}

test("the source's functions run as the run's restore role, not as the managed admin", async () => {
  const tag = uniqueName('pwn')
  const db = uniqueName('hostile')
  await testbed.createSourceDatabase(db, hostileSource(tag))
  const before = await adminAttributes()
  const logFrom = fs.statSync(serverLog).size
  try {
    const run = await runAction(testbed.actionInputs(db, db))
    expect(outcome(run)).toEqual(PASSED)
    const role = `migrated_${db}`
    // Every place ran on the target, each only as the restore role: the session's login was never reached.
    expect(ranAs(tag, logFrom)).toEqual(Object.fromEntries(PLACES.map((place) => [place, [`${role}/${role}`]])))
    expect(await rolesNamed(tag)).toEqual([])
    expect(await adminAttributes()).toEqual(before)
    // After the run the role owns what was restored, cannot log in, and the admin manages it as its member.
    const { rows } = await testbed.query(
      'target',
      db,
      `SELECT pg_get_userbyid(c.relowner) AS owner, r.rolcanlogin AS login, r.rolpassword IS NULL AS no_password,
              pg_has_role('${admin}', r.oid, 'USAGE') AS admin_member
         FROM pg_class c, pg_authid r WHERE c.oid = 'public.t'::regclass AND r.rolname = '${role}'`
    )
    expect(rows).toEqual([{ owner: role, login: false, no_password: true, admin_member: true }])
    expect(run.stdout).toContain(`the restore runs as ${role}`)
    expect(run.summary).toContain(`Restored as ${role},`)
    expect(run.report.databases[0].restoredAs).toBe(role)
  } finally {
    for (const role of await rolesNamed(tag)) await testbed.query('target', 'postgres', `DROP ROLE ${quoteIdent(role)}`)
  }
}, 120_000)

test('accept-source-code: true runs them as the admin, which is what the restore role prevents', async () => {
  const tag = uniqueName('pwn')
  const db = uniqueName('trusted')
  await testbed.createSourceDatabase(db, hostileSource(tag))
  const logFrom = fs.statSync(serverLog).size
  try {
    const run = await runAction(testbed.actionInputs(db, db, { 'accept-source-code': 'true' }))
    expect(outcome(run)).toEqual(PASSED)
    // The loads' CHECK, domain and generated column ran as the admin, and it made LOGIN roles.
    const ran = ranAs(tag, logFrom)
    expect(ran.check).toContain(`${admin}/${admin}`)
    expect(await rolesNamed(tag)).toEqual(expect.arrayContaining([`${tag}_check`, `${tag}_index`]))
  } finally {
    for (const role of await rolesNamed(tag)) await testbed.query('target', 'postgres', `DROP ROLE ${quoteIdent(role)}`)
  }
}, 120_000)

test('privileges: keep refuses an owner with rights beyond owning; the plan says so, and its hint leads to a passing run', async () => {
  const db = uniqueName('kept')
  const owner = uniqueName('maker')
  await testbed.query('source', 'postgres', `CREATE ROLE ${owner}`)
  await testbed.createSourceDatabase(
    db,
    `CREATE TABLE public.items (id int PRIMARY KEY); ALTER TABLE public.items OWNER TO ${owner};
     INSERT INTO public.items SELECT generate_series(1, 10);`
  )
  // On the target the same name may create databases: the source's code in its tables would run with that.
  await testbed.query(
    'target',
    'postgres',
    `CREATE ROLE ${owner} CREATEDB; GRANT ${owner} TO ${admin} WITH ADMIN OPTION`
  )
  try {
    const planned = await runAction(testbed.actionInputs(db, db, { mode: 'plan', privileges: 'keep' }))
    expect(planned.exitCode).not.toBe(0)
    const blocker = planned.stdout
      .split('\n')
      .find((line) => line.includes('would be owned on the target by roles with rights'))
    expect(blocker).toContain(`public.items (owner ${owner})`)
    expect(blocker).toContain('set privileges: skip')

    const run = await runAction(testbed.actionInputs(db, db, { privileges: 'skip' }))
    expect(outcome(run)).toEqual(PASSED)
  } finally {
    await testbed.query('target', 'postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
    await testbed.query('target', 'postgres', `DROP ROLE IF EXISTS ${owner}`)
  }
}, 120_000)

test('a target login without CREATEROLE is told in the plan, and accept-source-code: true runs as it', async () => {
  const db = uniqueName('plain')
  const login = { user: uniqueName('owner_login'), password: uniqueName('pw') }
  await testbed.createSourceDatabase(
    db,
    'CREATE TABLE public.items (id int PRIMARY KEY); INSERT INTO public.items VALUES (1);'
  )
  await testbed.query('target', 'postgres', `CREATE ROLE ${login.user} LOGIN PASSWORD '${login.password}'`)
  await testbed.query('target', 'postgres', `CREATE DATABASE ${db} OWNER ${login.user}`)
  const inputs = { ...testbed.actionInputs(db, db), 'target-url': serverUrl(testbed.target, db, login) }
  try {
    const planned = await runAction({ ...inputs, mode: 'plan' })
    expect(planned.exitCode).not.toBe(0)
    const blocker = planned.stdout.split('\n').find((line) => line.includes('may not create roles'))
    expect(blocker).toContain(`migrated_${db}`)
    expect(blocker).toContain('accept-source-code: true')

    const run = await runAction({ ...inputs, 'accept-source-code': 'true' })
    expect(outcome(run)).toEqual(PASSED)
    const { rows } = await testbed.query(
      'target',
      db,
      `SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'public.items'::regclass`
    )
    expect(rows).toEqual([{ owner: login.user }])
  } finally {
    await testbed.query('target', 'postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
    await testbed.query('target', 'postgres', `DROP ROLE IF EXISTS ${login.user}`)
  }
}, 120_000)

test("a superuser's target with privileges: keep: objects owned by a superuser are a blocker, unless the source is trusted", async () => {
  const db = uniqueName('super_owned')
  // Made by the source's superuser, postgres, which is a superuser on the target too.
  await testbed.createSourceDatabase(db, 'CREATE TABLE public.items (id int PRIMARY KEY);')
  const inputs = { ...testbed.actionInputs(db, db), 'target-url': testbed.targetSuperUrl(db), privileges: 'keep' }
  const planned = await runAction({ ...inputs, mode: 'plan' })
  expect(planned.exitCode).not.toBe(0)
  const blocker = planned.stdout
    .split('\n')
    .find((line) => line.includes('would be owned on the target by roles with rights'))
  expect(blocker).toContain('public.items (owner postgres)')
  const trusted = await runAction({ ...inputs, mode: 'plan', 'accept-source-code': 'true' })
  expect({ exitCode: trusted.exitCode, result: trusted.outputs.result }).toEqual({ exitCode: 0, result: 'planned' })
}, 60_000)

test('restore mode: the dump of a hostile source is restored and analyzed as the restore role too', async () => {
  const tag = uniqueName('pwn')
  const db = uniqueName('hostile_dump')
  await testbed.createSourceDatabase(db, hostileSource(tag))
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-privileges-'))
  const common = { 'client-download-url': testbed.clientTemplate, jobs: '2', 'dump-path': path.join(work, 'dump') }
  try {
    const dumped = await runAction({
      ...common,
      'source-url': testbed.sourceUrl(db),
      mode: 'dump',
      'postgres-version': '17',
      'upload-artifact': 'false'
    })
    expect(outcome(dumped)).toEqual(PASSED)
    const logFrom = fs.statSync(serverLog).size
    const restored = await runAction({ ...common, 'target-url': testbed.targetUrl(db), mode: 'restore' })
    expect(outcome(restored)).toEqual(PASSED)
    const role = `migrated_${db}`
    expect(ranAs(tag, logFrom)).toEqual(Object.fromEntries(PLACES.map((place) => [place, [`${role}/${role}`]])))
    expect(await rolesNamed(tag)).toEqual([])
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
    for (const role of await rolesNamed(tag)) await testbed.query('target', 'postgres', `DROP ROLE ${quoteIdent(role)}`)
  }
}, 120_000)

test('a target that refuses the restore role a login says so before the restore, and accept-source-code: true then passes', async () => {
  const db = uniqueName('nologin')
  const role = `migrated_${db}`
  await testbed.createSourceDatabase(db, 'CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1);')
  // The role as an earlier run left it, but admitting no session: what a pg_hba.conf that admits only
  // the provider's login does to it.
  await testbed.query(
    'target',
    'postgres',
    `SET ROLE ${quoteIdent(admin)};
     CREATE ROLE ${quoteIdent(role)} NOLOGIN CONNECTION LIMIT 0;
     COMMENT ON ROLE ${quoteIdent(role)} IS 'pg-migrate-action: owns what was restored into database ${db}';
     RESET ROLE`
  )
  try {
    const refusedRun = await runAction(testbed.actionInputs(db, db))
    const errors = errorLines(refusedRun.stdout)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(`the target refused a login as the restore role ${role}`)
    expect(errors[0]).toContain('accept-source-code: true')
    const run = await runAction(testbed.actionInputs(db, db, { 'accept-source-code': 'true' }))
    expect(outcome(run)).toEqual(PASSED)
  } finally {
    await testbed.query('target', 'postgres', `DROP DATABASE IF EXISTS ${quoteIdent(db)}`)
    await testbed.query('target', 'postgres', `DROP ROLE IF EXISTS ${quoteIdent(role)}`)
  }
}, 120_000)
