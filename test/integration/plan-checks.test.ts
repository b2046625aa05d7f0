// The plan's catalog checks against real servers: each blocker is found on a PostgreSQL 14 source, and
// what it claims is shown on the PostgreSQL 17 target, as the managed-style admin (LOGIN CREATEDB
// CREATEROLE, no superuser) or as superuser where the claim is about the server itself.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import type { Finding } from '../../src/plan/findings.js'
import { rolesReferenced, extensionsUsed, runChecks, type ProbeContext } from '../../src/plan/checks/index.js'
import { probeContext } from '../support/plan-oracle.js'
import { serverUrl, withClient } from '../support/servers.js'
import { loadTestbedState, quoteIdent, uniqueName } from '../support/testbed.js'

const { source, target, clientBinDir } = loadTestbedState()

const admin = () => {
  if (!target.admin) throw new Error('the target has no managed-style admin')
  return target.admin
}
const sourceUrl = (database: string) => serverUrl(source, database)
const targetAdminUrl = (database: string) => serverUrl(target, database, admin())
const targetSuperUrl = (database: string) => serverUrl(target, database)

/** A fresh source database with `sql` run in it by the superuser. */
async function sourceDatabase(sql: string): Promise<string> {
  const name = uniqueName('checks')
  await withClient(sourceUrl('postgres'), (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`))
  if (sql) await withClient(sourceUrl(name), (c) => c.query(sql))
  return name
}

/** A fresh target database owned by the admin, as a hosted provider creates it; `superSql` runs in it as superuser. */
async function targetDatabase(superSql?: string): Promise<string> {
  const name = uniqueName('target')
  await withClient(targetAdminUrl('postgres'), (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`))
  if (superSql) await withClient(targetSuperUrl(name), (c) => c.query(superSql))
  return name
}

/** Runs `sql` on the 17 target in a fresh admin-owned database (or `database`), as the admin unless told. */
async function onTarget(sql: string, as: 'admin' | 'superuser' = 'admin', database?: string): Promise<void> {
  const db = database ?? (await targetDatabase())
  await withClient(as === 'admin' ? targetAdminUrl(db) : targetSuperUrl(db), (c) => c.query(sql))
}

type Options = Partial<Pick<ProbeContext, 'privileges' | 'roles' | 'validationQueries'>> & {
  targetDb?: string
  targetLogin?: { user: string; password: string }
}

/** The checks for a 14 source database against a 17 target database, seen by the admin. */
async function check(sourceDb: string, options: Options = {}): Promise<Finding[]> {
  const targetDb = options.targetDb ?? (await targetDatabase())
  return withClient(sourceUrl(sourceDb), (sourceClient) =>
    withClient(serverUrl(target, targetDb, options.targetLogin ?? admin()), (targetClient) =>
      runChecks(
        probeContext(sourceClient, targetClient, {
          privileges: options.privileges ?? 'skip',
          roles: options.roles ?? 'fail',
          validationQueries: options.validationQueries ?? []
        })
      )
    )
  )
}

function finding(findings: Finding[], id: string): Finding {
  const found = findings.find((f) => f.id === id)
  if (!found) throw new Error(`no ${id} finding; got: ${findings.map((f) => f.id).join(', ') || 'none'}`)
  return found
}

test('the servers are the pair the claims are about: a 14 source and a 17 target with a non-superuser admin', async () => {
  expect([source.major, target.major]).toEqual([14, 17])
  const { rows } = await withClient(targetAdminUrl('postgres'), (c) =>
    c.query('SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user')
  )
  expect(rows[0]).toEqual({ rolsuper: false, rolcreatedb: true, rolcreaterole: true })
})

test('a clean database yields no findings', async () => {
  const db = await sourceDatabase(`
    CREATE EXTENSION citext;
    CREATE TABLE items (id int PRIMARY KEY, name citext, price numeric, total numeric GENERATED ALWAYS AS (price * 2) STORED);
    CREATE FUNCTION norm(t text) RETURNS text LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS 'SELECT lower(t)';
    CREATE FUNCTION twice(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n * 2';
    CREATE INDEX items_norm ON items (norm(name::text));
    CREATE INDEX items_twice ON items (twice(id));
    CREATE INDEX items_lower ON items (lower(name::text));
    ALTER TABLE items ADD CONSTRAINT items_id CHECK (twice(id) > 0);
    CREATE VIEW cleaning AS SELECT buffers_clean FROM pg_stat_bgwriter;
    CREATE MATERIALIZED VIEW item_names AS SELECT norm(name::text) FROM items;`)
  expect(await check(db, { validationQueries: ['SELECT count(*) FROM items'] })).toEqual([])
})

describe('roles', () => {
  test('a role named in a policy and missing on the target blocks with roles: fail, is created with create-missing', async () => {
    const reader = uniqueName('reader')
    const db = await sourceDatabase(`
      CREATE ROLE ${reader} NOLOGIN;
      CREATE TABLE t (id int);
      CREATE POLICY readers ON t FOR SELECT TO ${reader} USING (true);`)

    const fail = finding(await check(db), 'missing-roles')
    expect(fail).toMatchObject({ severity: 'blocker', objects: [reader] })
    const create = finding(await check(db, { roles: 'create-missing' }), 'missing-roles')
    expect(create).toMatchObject({ severity: 'warning', objects: [reader] })
    expect(create.message).toContain('created NOLOGIN')

    // 17: the policy the dump writes even with --no-owner --no-acl fails without the role.
    await expect(
      onTarget(`CREATE TABLE t (id int); CREATE POLICY readers ON t FOR SELECT TO ${reader} USING (true)`)
    ).rejects.toThrow(`role "${reader}" does not exist`)
  })

  test('rolesReferenced names what pg_dump writes: policies always; owners, grants and default privileges only when kept', async () => {
    const [policyRole, owner, grantee, defaults] = ['policy', 'owner', 'grantee', 'defaults'].map((r) => uniqueName(r))
    const db = await sourceDatabase(`
      CREATE ROLE ${policyRole} NOLOGIN; CREATE ROLE ${owner} NOLOGIN; CREATE ROLE ${grantee} NOLOGIN; CREATE ROLE ${defaults} NOLOGIN;
      CREATE TABLE t (id int);
      ALTER TABLE t OWNER TO ${owner};
      GRANT SELECT ON t TO ${grantee};
      CREATE POLICY p ON t TO ${policyRole} USING (true);
      ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO ${defaults};`)
    const skip = await withClient(sourceUrl(db), (c) => rolesReferenced(c, 'skip'))
    const keep = await withClient(sourceUrl(db), (c) => rolesReferenced(c, 'keep'))
    expect(skip).toEqual([policyRole])
    expect(keep).toEqual(expect.arrayContaining([policyRole, owner, grantee, defaults, 'postgres']))

    // The test bed's real pg_dump 17; the password travels in the environment, never argv.
    const dump = (args: string[]) =>
      execFileSync(path.join(clientBinDir, 'pg_dump'), ['--schema-only', ...args], {
        encoding: 'utf8',
        env: {
          ...process.env,
          PGHOST: source.host,
          PGPORT: String(source.port),
          PGUSER: source.superuser.user,
          PGPASSWORD: source.superuser.password,
          PGDATABASE: db
        }
      })
    const withoutPrivileges = dump(['--no-owner', '--no-acl'])
    const withPrivileges = dump([])
    for (const role of [policyRole, owner, grantee, defaults]) {
      expect(withPrivileges).toContain(role)
      expect(withoutPrivileges.includes(role)).toBe(skip.includes(role))
    }
  })

  test('roles: create-missing with a target login that may not create roles blocks', async () => {
    const reader = uniqueName('reader')
    const plain = { user: uniqueName('plain'), password: 'plain-password' }
    const db = await sourceDatabase(
      `CREATE ROLE ${reader} NOLOGIN; CREATE TABLE t (id int); CREATE POLICY p ON t TO ${reader} USING (true);`
    )
    await withClient(targetSuperUrl('postgres'), (c) =>
      c.query(`CREATE ROLE ${plain.user} LOGIN PASSWORD '${plain.password}'`)
    )
    const targetDb = await targetDatabase()
    const found = finding(
      await check(db, { roles: 'create-missing', targetDb, targetLogin: plain }),
      'roles-not-creatable'
    )
    expect(found).toMatchObject({ severity: 'blocker', objects: [reader] })
    await expect(
      withClient(serverUrl(target, targetDb, plain), (c) => c.query(`CREATE ROLE ${reader} NOLOGIN`))
    ).rejects.toThrow('permission denied to create role')
  })

  test('privileges: keep blocks on owners the admin cannot take on, such as the bootstrap superuser', async () => {
    const db = await sourceDatabase('CREATE TABLE owned_by_postgres (id int)')
    const found = finding(await check(db, { privileges: 'keep' }), 'owner-not-assignable')
    expect(found.severity).toBe('blocker')
    expect(found.objects).toContain('table public.owned_by_postgres (owner postgres)')
    expect((await check(db, { privileges: 'skip' })).map((f) => f.id)).not.toContain('owner-not-assignable')
    await expect(onTarget('CREATE TABLE x (id int); ALTER TABLE x OWNER TO postgres')).rejects.toThrow(
      'must be able to SET ROLE "postgres"'
    )
  })

  test('privileges: keep blocks on grants made by someone other than the owner (replayed with SET SESSION AUTHORIZATION)', async () => {
    const [granter, grantee] = [uniqueName('granter'), uniqueName('grantee')]
    const db = await sourceDatabase(`
      CREATE ROLE ${granter} NOLOGIN; CREATE ROLE ${grantee} NOLOGIN;
      CREATE TABLE t (id int);
      GRANT SELECT ON t TO ${granter} WITH GRANT OPTION;
      SET ROLE ${granter}; GRANT SELECT ON t TO ${grantee}; RESET ROLE;`)
    const found = finding(await check(db, { privileges: 'keep' }), 'acl-grantor-not-owner')
    expect(found).toMatchObject({ severity: 'blocker', objects: [`public.t: SELECT to ${grantee} by ${granter}`] })
    const targetDb = await targetDatabase()
    await onTarget(`CREATE ROLE ${granter} NOLOGIN`, 'admin', targetDb)
    await expect(onTarget(`SET SESSION AUTHORIZATION ${granter}`, 'admin', targetDb)).rejects.toThrow(
      'permission denied to set session authorization'
    )
  })
})

describe('extensions', () => {
  test('extensionsUsed lists what the dump creates, without the built-in plpgsql', async () => {
    const db = await sourceDatabase('CREATE SCHEMA ext; CREATE EXTENSION citext; CREATE EXTENSION hstore SCHEMA ext')
    const used = await withClient(sourceUrl(db), (c) => extensionsUsed(c))
    expect(used.map(({ name, schema }) => ({ name, schema }))).toEqual([
      { name: 'citext', schema: 'public' },
      { name: 'hstore', schema: 'ext' }
    ])
    expect(used[0].version).toMatch(/^\d+\.\d+$/)
  })

  test('an extension the target server does not have blocks (old_snapshot went with 17)', async () => {
    const db = await sourceDatabase('CREATE EXTENSION old_snapshot')
    expect(finding(await check(db), 'extension-unavailable')).toMatchObject({
      severity: 'blocker',
      objects: ['old_snapshot']
    })
    await expect(onTarget('CREATE EXTENSION old_snapshot', 'superuser')).rejects.toThrow(
      'extension "old_snapshot" is not available'
    )
  })

  test('an untrusted extension not installed on the target blocks; once a superuser installs it, it does not', async () => {
    const db = await sourceDatabase('CREATE EXTENSION pgstattuple')
    const found = finding(await check(db), 'extension-needs-superuser')
    expect(found).toMatchObject({ severity: 'blocker', objects: ['pgstattuple'] })
    expect(found.hint).toContain('CREATE EXTENSION "pgstattuple"')
    await expect(onTarget('CREATE EXTENSION pgstattuple')).rejects.toThrow(
      'permission denied to create extension "pgstattuple"'
    )

    const installed = await targetDatabase('CREATE EXTENSION pgstattuple')
    expect((await check(db, { targetDb: installed })).map((f) => f.id)).toEqual([])
  })

  test('a custom comment on an extension the admin does not own on the target is reported as not migrated', async () => {
    const db = await sourceDatabase(
      `CREATE EXTENSION pgstattuple; COMMENT ON EXTENSION pgstattuple IS 'tuple statistics, used by the nightly report'`
    )
    const installed = await targetDatabase('CREATE EXTENSION pgstattuple')
    expect(finding(await check(db, { targetDb: installed }), 'extension-comment-not-migrated')).toMatchObject({
      severity: 'warning',
      objects: ['pgstattuple']
    })
    // What pg_restore --exit-on-error would stop on if the restore did not leave the entry out.
    await expect(onTarget(`COMMENT ON EXTENSION pgstattuple IS 'x'`, 'admin', installed)).rejects.toThrow(
      'must be owner of extension pgstattuple'
    )
  })

  test('an extension already installed in another schema on the target blocks', async () => {
    const db = await sourceDatabase('CREATE EXTENSION citext; CREATE TABLE t (c citext)')
    const targetDb = await targetDatabase('CREATE SCHEMA ext; CREATE EXTENSION citext SCHEMA ext')
    expect(finding(await check(db, { targetDb }), 'extension-schema-differs')).toMatchObject({
      severity: 'blocker',
      objects: ['citext (source schema public, target schema ext)']
    })
    // What the dump runs: CREATE EXTENSION IF NOT EXISTS skips, then the table names public.citext.
    await expect(
      onTarget(
        'CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public; CREATE TABLE public.t (c public.citext)',
        'admin',
        targetDb
      )
    ).rejects.toThrow('type "public.citext" does not exist')
  })

  test('adminpack blocks (removed in 17), and only through its own rule', async () => {
    const db = await sourceDatabase('CREATE EXTENSION adminpack')
    const findings = await check(db)
    expect(finding(findings, 'pg17-adminpack')).toMatchObject({ severity: 'blocker', objects: ['extension adminpack'] })
    expect(findings.map((f) => f.id)).not.toContain('extension-unavailable')
    await expect(onTarget('CREATE EXTENSION adminpack', 'superuser')).rejects.toThrow(
      'extension "adminpack" is not available'
    )
  })

  test('Python 2 functions block (removed in 15)', async () => {
    // This 14 build has no Python 2, so plpythonu here is a stand-in language of that name (the probe
    // keys on the language name, as a real install has it); what 17 says about Python 2 is real.
    const db = await sourceDatabase(`
      CREATE LANGUAGE plpythonu HANDLER plpgsql_call_handler;
      CREATE FUNCTION py_add(a int, b int) RETURNS int LANGUAGE plpythonu AS 'begin return a + b; end';`)
    const found = finding(await check(db), 'pg15-plpython2')
    expect(found).toMatchObject({
      severity: 'blocker',
      objects: ['function public.py_add(a integer, b integer) (plpythonu)']
    })
    // A real 14 install is the extension plpythonu, which the dump recreates; 17 has no such thing.
    await expect(onTarget('CREATE EXTENSION plpythonu', 'superuser')).rejects.toThrow(
      'extension "plpythonu" is not available'
    )
  })
})

describe('objects that need a superuser on the target', () => {
  test('functions in untrusted languages block', async () => {
    const db = await sourceDatabase(`
      CREATE FUNCTION my_abs(int) RETURNS int LANGUAGE internal IMMUTABLE STRICT AS 'int4abs';
      CREATE FUNCTION my_citext_eq(text, text) RETURNS boolean LANGUAGE c IMMUTABLE STRICT AS '$libdir/citext', 'citext_eq';`)
    const found = finding(await check(db), 'untrusted-language-functions')
    expect(found.severity).toBe('blocker')
    expect(found.objects).toEqual([
      'function public.my_abs(integer) (internal)',
      'function public.my_citext_eq(text, text) (c)'
    ])
    await expect(onTarget(`CREATE FUNCTION my_abs(int) RETURNS int LANGUAGE internal AS 'int4abs'`)).rejects.toThrow(
      'permission denied for language internal'
    )
    await expect(
      onTarget(`CREATE FUNCTION f(text, text) RETURNS boolean LANGUAGE c AS '$libdir/citext', 'citext_eq'`)
    ).rejects.toThrow('permission denied for language c')
    // plperlu, plpython3u and pltclu cannot be loaded on these test servers (no libperl, libpython);
    // they are untrusted like c and internal, and the probe treats every untrusted language alike.
  })

  test('languages, foreign-data wrappers, access methods, operator classes, text search parsers and templates, binary casts block', async () => {
    const db = await sourceDatabase(`
      CREATE LANGUAGE plstandin HANDLER plpgsql_call_handler;
      CREATE FOREIGN DATA WRAPPER my_fdw;
      CREATE ACCESS METHOD my_am TYPE INDEX HANDLER bthandler;
      CREATE OPERATOR CLASS my_int_ops FOR TYPE int4 USING btree AS
        OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint4cmp(int4, int4);
      CREATE TEXT SEARCH PARSER my_parser (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype);
      CREATE TEXT SEARCH TEMPLATE my_template (INIT = dsimple_init, LEXIZE = dsimple_lexize);
      CREATE CAST (bytea AS text) WITHOUT FUNCTION;`)
    const found = finding(await check(db), 'superuser-only-objects')
    expect(found.severity).toBe('blocker')
    expect(found.objects).toEqual([
      'access method my_am',
      'cast (bytea AS text) WITHOUT FUNCTION',
      'foreign-data wrapper my_fdw',
      'language plstandin',
      'operator family public.my_int_ops USING btree (with its operator class of the same name)',
      'text search parser public.my_parser',
      'text search template public.my_template'
    ])
    const refusals: [string, RegExp][] = [
      [
        'CREATE LANGUAGE plstandin HANDLER plpgsql_call_handler',
        /must be superuser to create custom procedural language/
      ],
      ['CREATE FOREIGN DATA WRAPPER my_fdw', /permission denied to create foreign-data wrapper/],
      ['CREATE ACCESS METHOD my_am TYPE INDEX HANDLER bthandler', /permission denied to create access method/],
      [
        'CREATE OPERATOR CLASS my_int_ops FOR TYPE int4 USING btree AS OPERATOR 1 <, FUNCTION 1 btint4cmp(int4, int4)',
        /must be superuser to create an operator class/
      ],
      [
        'CREATE TEXT SEARCH PARSER my_parser (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype)',
        /must be superuser to create text search parsers/
      ],
      [
        'CREATE TEXT SEARCH TEMPLATE my_template (INIT = dsimple_init, LEXIZE = dsimple_lexize)',
        /must be superuser to create text search templates/
      ],
      ['CREATE CAST (bytea AS text) WITHOUT FUNCTION', /must be owner of type bytea or type text/]
    ]
    const targetDb = await targetDatabase()
    for (const [sql, error] of refusals) await expect(onTarget(sql, 'admin', targetDb)).rejects.toThrow(error)
  })

  test('event triggers, publications and subscriptions are reported as not migrated', async () => {
    const db = await sourceDatabase(`
      CREATE FUNCTION on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS 'begin end';
      CREATE EVENT TRIGGER audit_ddl ON ddl_command_start EXECUTE FUNCTION on_ddl();
      CREATE TABLE t (id int PRIMARY KEY);
      CREATE PUBLICATION everything FOR ALL TABLES;
      CREATE SUBSCRIPTION incoming CONNECTION 'host=127.0.0.1 port=1 dbname=nowhere' PUBLICATION elsewhere WITH (connect = false);`)
    try {
      const findings = await check(db)
      expect(finding(findings, 'event-triggers-not-migrated')).toMatchObject({
        severity: 'warning',
        objects: ['event trigger audit_ddl']
      })
      expect(finding(findings, 'publications-not-migrated')).toMatchObject({
        severity: 'warning',
        objects: ['publication everything (FOR ALL TABLES)']
      })
      expect(finding(findings, 'subscriptions-not-migrated')).toMatchObject({
        severity: 'warning',
        objects: ['subscription incoming']
      })
      const targetDb = await targetDatabase()
      await onTarget(
        `CREATE FUNCTION on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS 'begin end'; CREATE TABLE t (id int PRIMARY KEY)`,
        'admin',
        targetDb
      )
      await expect(
        onTarget('CREATE EVENT TRIGGER audit_ddl ON ddl_command_start EXECUTE FUNCTION on_ddl()', 'admin', targetDb)
      ).rejects.toThrow('permission denied to create event trigger')
      await expect(onTarget('CREATE PUBLICATION everything FOR ALL TABLES', 'admin', targetDb)).rejects.toThrow(
        'must be superuser to create FOR ALL TABLES publication'
      )
      await expect(
        onTarget(
          `CREATE SUBSCRIPTION incoming CONNECTION 'host=127.0.0.1 port=1 dbname=nowhere' PUBLICATION elsewhere WITH (connect = false)`,
          'admin',
          targetDb
        )
      ).rejects.toThrow('permission denied to create subscription')
    } finally {
      await withClient(sourceUrl(db), (c) =>
        c.query('ALTER SUBSCRIPTION incoming SET (slot_name = NONE); DROP SUBSCRIPTION incoming')
      )
    }
  })
})

describe('search_path', () => {
  const helpers = `
    CREATE FUNCTION helper(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n + 1';
    CREATE FUNCTION wrap(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT helper(n)';`

  test('an SQL function that needs the search_path, used by an index, a check constraint and a materialized view, blocks', async () => {
    const db = await sourceDatabase(`${helpers}
      CREATE TABLE t (a int CHECK (wrap(a) > 0));
      INSERT INTO t VALUES (1);
      CREATE INDEX t_wrap ON t (wrap(a));
      CREATE MATERIALIZED VIEW mv AS SELECT wrap(a) FROM t;`)
    const found = finding(await check(db), 'function-search-path')
    expect(found.severity).toBe('blocker')
    expect(found.objects).toEqual([
      'public.wrap(n integer), used by constraint t_a_check on public.t, index public.t_wrap, materialized view public.mv: function helper(integer) does not exist'
    ])

    // 14 builds the index with the session's search_path; 17 uses pg_catalog, pg_temp for it.
    const ddl = `SET search_path = public; ${helpers} CREATE TABLE t (a int); INSERT INTO t VALUES (1); CREATE INDEX t_wrap ON t (wrap(a));`
    const control = await sourceDatabase('')
    await withClient(sourceUrl(control), (c) => c.query(ddl))
    await expect(onTarget(ddl)).rejects.toThrow('function helper(integer) does not exist')
    await expect(
      onTarget(`SET search_path = public; ${helpers} CREATE MATERIALIZED VIEW mv AS SELECT wrap(1)`)
    ).rejects.toThrow('function helper(integer) does not exist')
  })

  test('a PL/pgSQL function without SET search_path used by an index is a warning: its names resolve only when it runs', async () => {
    const db = await sourceDatabase(`
      CREATE FUNCTION plus_one(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS 'begin return n + 1; end';
      CREATE TABLE t (a int);
      CREATE INDEX t_plus_one ON t (plus_one(a));`)
    const findings = await check(db)
    expect(finding(findings, 'function-search-path-unverified')).toMatchObject({
      severity: 'warning',
      objects: ['public.plus_one(n integer) (plpgsql), used by index public.t_plus_one']
    })
    expect(findings.map((f) => f.id)).not.toContain('function-search-path')
  })
})

describe('what 15, 16 and 17 removed or changed', () => {
  test('views using removed built-in functions or moved statistics columns block; function bodies warn; validation queries block', async () => {
    const db = await sourceDatabase(`
      CREATE VIEW backup_state AS SELECT pg_is_in_backup() AS running;
      CREATE VIEW checkpoints AS SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter;
      CREATE VIEW locale AS SELECT current_setting('lc_collate') AS lc;
      CREATE FUNCTION start_backup() RETURNS pg_lsn LANGUAGE plpgsql AS 'begin return pg_start_backup(''nightly''); end';`)
    const findings = await check(db, {
      validationQueries: ['SELECT count(*) FROM pg_class', 'SELECT checkpoints_timed FROM pg_stat_bgwriter']
    })
    expect(finding(findings, 'removed-builtins')).toMatchObject({
      severity: 'blocker',
      objects: [
        'view public.backup_state (pg_is_in_backup())',
        'view public.checkpoints (pg_stat_bgwriter.checkpoints_req → pg_stat_checkpointer.num_requested)',
        'view public.checkpoints (pg_stat_bgwriter.checkpoints_timed → pg_stat_checkpointer.num_timed)'
      ]
    })
    expect(finding(findings, 'removed-builtins-in-code')).toMatchObject({
      severity: 'warning',
      objects: [
        'function public.start_backup() (pg_start_backup() → pg_backup_start())',
        'view public.locale (setting lc_collate → pg_database.datcollate)'
      ]
    })
    expect(finding(findings, 'validation-query-removed-builtins')).toMatchObject({
      severity: 'blocker',
      objects: ['query 2 (pg_stat_bgwriter.checkpoints_timed → pg_stat_checkpointer.num_timed)']
    })

    const targetDb = await targetDatabase()
    await expect(
      onTarget('CREATE VIEW backup_state AS SELECT pg_is_in_backup() AS running', 'admin', targetDb)
    ).rejects.toThrow('function pg_is_in_backup() does not exist')
    await expect(
      onTarget('CREATE VIEW checkpoints AS SELECT checkpoints_timed FROM pg_stat_bgwriter', 'admin', targetDb)
    ).rejects.toThrow('column "checkpoints_timed" does not exist')
    // The validation query, as the verification would run it on the target.
    await expect(onTarget('SELECT checkpoints_timed FROM pg_stat_bgwriter', 'admin', targetDb)).rejects.toThrow(
      'column "checkpoints_timed" does not exist'
    )
    // The function restores (plpgsql bodies are not checked) and fails when called.
    await onTarget(
      `CREATE FUNCTION start_backup() RETURNS pg_lsn LANGUAGE plpgsql AS 'begin return pg_start_backup(''nightly''); end'`,
      'admin',
      targetDb
    )
    await expect(onTarget('SELECT start_backup()', 'admin', targetDb)).rejects.toThrow(
      'function pg_start_backup(unknown) does not exist'
    )
    await onTarget(`CREATE VIEW locale AS SELECT current_setting('lc_collate') AS lc`, 'admin', targetDb)
    await expect(onTarget('SELECT * FROM locale', 'admin', targetDb)).rejects.toThrow(
      'unrecognized configuration parameter "lc_collate"'
    )
  })

  test('a function that sets a removed parameter blocks; a database setting of one warns', async () => {
    const name = uniqueName('checks')
    await withClient(sourceUrl('postgres'), (c) => c.query(`CREATE DATABASE ${name}`))
    await withClient(sourceUrl(name), (c) =>
      c.query(`
        ALTER DATABASE ${name} SET force_parallel_mode = on;
        CREATE FUNCTION parallel_report() RETURNS int LANGUAGE sql SET force_parallel_mode = on AS 'SELECT 1';`)
    )
    const findings = await check(name)
    expect(finding(findings, 'removed-setting-in-function')).toMatchObject({
      severity: 'blocker',
      objects: ['function public.parallel_report() SET force_parallel_mode → debug_parallel_query']
    })
    expect(finding(findings, 'removed-setting-in-database')).toMatchObject({
      severity: 'warning',
      objects: [`ALTER DATABASE ${name} SET force_parallel_mode → debug_parallel_query`]
    })
    // pg_restore sets check_function_bodies = false; the SET clause is checked all the same.
    await expect(
      onTarget(
        `SET check_function_bodies = false; CREATE FUNCTION parallel_report() RETURNS int LANGUAGE sql SET force_parallel_mode = on AS 'SELECT 1'`
      )
    ).rejects.toThrow('unrecognized configuration parameter "force_parallel_mode"')
    const targetDb = await targetDatabase()
    await expect(
      onTarget(`ALTER DATABASE ${targetDb} SET force_parallel_mode = on`, 'admin', targetDb)
    ).rejects.toThrow('unrecognized configuration parameter "force_parallel_mode"')
  })

  test('roles that created objects in public are warned they cannot on 17 (with privileges: skip)', async () => {
    const app = uniqueName('app')
    const db = await sourceDatabase(`
      CREATE ROLE ${app} NOLOGIN;
      SET ROLE ${app}; CREATE TABLE public.orders (id int); RESET ROLE;`)
    const found = finding(await check(db), 'pg15-public-schema-create')
    expect(found).toMatchObject({ severity: 'warning', objects: [app] })
    expect(found.hint).toContain(`GRANT CREATE ON SCHEMA public TO ${app}`)
    expect((await check(db, { privileges: 'keep' })).map((f) => f.id)).not.toContain('pg15-public-schema-create')

    const targetDb = await targetDatabase()
    await onTarget(`CREATE ROLE ${app} NOLOGIN; GRANT ${app} TO current_user WITH SET TRUE`, 'admin', targetDb)
    await expect(onTarget(`SET ROLE ${app}; CREATE TABLE public.orders (id int)`, 'admin', targetDb)).rejects.toThrow(
      'permission denied for schema public'
    )
    await onTarget(
      `GRANT CREATE ON SCHEMA public TO ${app}; SET ROLE ${app}; CREATE TABLE public.orders (id int)`,
      'admin',
      targetDb
    )
  })

  test('indexes and generated columns on interval::text block (interval output is stable from 15)', async () => {
    const db = await sourceDatabase(`
      CREATE TABLE spans (span interval, label text GENERATED ALWAYS AS (span::text) STORED);
      CREATE INDEX spans_text ON spans ((span::text));
      CREATE INDEX spans_epoch ON spans ((extract(epoch FROM span)));`)
    expect(finding(await check(db), 'pg15-interval-text-expression')).toMatchObject({
      severity: 'blocker',
      objects: ['generated column public.spans.label', 'index public.spans_text']
    })
    const targetDb = await targetDatabase()
    await onTarget('CREATE TABLE spans (span interval)', 'admin', targetDb)
    await expect(onTarget('CREATE INDEX spans_text ON spans ((span::text))', 'admin', targetDb)).rejects.toThrow(
      'functions in index expression must be marked IMMUTABLE'
    )
    await expect(
      onTarget('ALTER TABLE spans ADD COLUMN label text GENERATED ALWAYS AS (span::text) STORED', 'admin', targetDb)
    ).rejects.toThrow('generation expression is not immutable')
  })

  test('a child generating a column its parent stores plainly blocks (16 wants the same generation status)', async () => {
    const db = await sourceDatabase(`
      CREATE TABLE parent (a int, b int);
      CREATE TABLE child (a int, b int GENERATED ALWAYS AS (a * 2) STORED) INHERITS (parent);
      CREATE TABLE measures (a int, b int) PARTITION BY RANGE (a);
      CREATE TABLE measures_low (a int, b int GENERATED ALWAYS AS (a * 2) STORED);
      ALTER TABLE measures ATTACH PARTITION measures_low FOR VALUES FROM (0) TO (10);`)
    expect(finding(await check(db), 'pg16-generated-inheritance')).toMatchObject({
      severity: 'blocker',
      objects: [
        'public.child.b (generated; parent public.parent: not generated)',
        'public.measures_low.b (generated; parent public.measures: not generated)'
      ]
    })
    // What the dump writes for them.
    const targetDb = await targetDatabase()
    await onTarget(
      'CREATE TABLE parent (a int, b int); CREATE TABLE measures (a int, b int) PARTITION BY RANGE (a)',
      'admin',
      targetDb
    )
    await expect(
      onTarget(
        'CREATE TABLE child (a int, b int GENERATED ALWAYS AS ((a * 2)) STORED) INHERITS (parent)',
        'admin',
        targetDb
      )
    ).rejects.toThrow('child column "b" specifies generation expression')
    await expect(
      onTarget(
        'CREATE TABLE measures_low (a int, b int GENERATED ALWAYS AS ((a * 2)) STORED); ALTER TABLE ONLY measures ATTACH PARTITION measures_low FOR VALUES FROM (0) TO (10)',
        'admin',
        targetDb
      )
    ).rejects.toThrow('column "b" in child table must not be a generated column')
  })
})
