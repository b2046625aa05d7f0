// The plan checks only what will move, for every probe at once: one 14 source holds, outside the
// part that moves, objects that set off each probe the test bed can set off. Without filters the
// plan finds them all (so this test can fail); with filters that leave them out it finds nothing.
import pg from 'pg'
import { PROBES, runChecks } from '../../src/plan/checks/index.js'
import { SYNC_PROBES } from '../../src/plan/checks/sync.js'
import type { Finding } from '../../src/plan/findings.js'
import { resolveScope } from '../../src/scope/resolve.js'
import { scopeSql, WHOLE_DATABASE } from '../../src/scope/sql.js'
import { NO_PATTERNS, type ScopePatterns } from '../../src/scope/types.js'
import { probeContext } from '../support/plan-oracle.js'
import { serverUrl, withClient } from '../support/servers.js'
import { loadTestbedState, quoteIdent, uniqueName } from '../support/testbed.js'

const { source, target } = loadTestbedState()
const admin = target.admin as { user: string; password: string }
const db = uniqueName('outside')
const targetDb = uniqueName('plantarget')
const [ghost, granter, grantee, creator, keeper] = ['ghost', 'granter', 'grantee', 'creator', 'keeper'].map(uniqueName)

// Everything a probe looks for sits in schema outside, or outside every schema; schema inside
// holds one plain table, owned by a role the target admin makes (so even privileges: keep passes).
const FIXTURE = `
  CREATE ROLE ${ghost} NOLOGIN; CREATE ROLE ${granter} NOLOGIN; CREATE ROLE ${grantee} NOLOGIN;
  CREATE ROLE ${creator} NOLOGIN; CREATE ROLE ${keeper} NOLOGIN;
  CREATE SCHEMA inside AUTHORIZATION ${keeper};
  CREATE TABLE inside.plain (id int PRIMARY KEY, note text); ALTER TABLE inside.plain OWNER TO ${keeper};
  CREATE SCHEMA outside;
  SET search_path = outside, public;
  CREATE FUNCTION outside.helper(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n + 1';
  CREATE FUNCTION outside.wrap(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT helper(n)';
  CREATE FUNCTION outside.plus_one(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS 'begin return n + 1; end';
  CREATE TABLE outside.t (a int, span interval);
  INSERT INTO outside.t VALUES (1, '1 day');
  CREATE INDEX t_wrap ON outside.t (outside.wrap(a));
  CREATE INDEX t_plus ON outside.t (outside.plus_one(a));
  CREATE INDEX t_span ON outside.t ((span::text));
  CREATE POLICY seen ON outside.t TO ${ghost} USING (true);
  GRANT USAGE ON SCHEMA outside TO ${granter}; GRANT SELECT ON outside.t TO ${granter} WITH GRANT OPTION;
  SET ROLE ${granter}; GRANT SELECT ON outside.t TO ${grantee}; RESET ROLE;
  CREATE FUNCTION outside.my_abs(int) RETURNS int LANGUAGE internal IMMUTABLE STRICT AS 'int4abs';
  CREATE FUNCTION outside.loud() RETURNS int LANGUAGE sql SET log_statement = 'all' AS 'SELECT 1';
  CREATE FUNCTION outside.parallel() RETURNS int LANGUAGE sql SET force_parallel_mode = on AS 'SELECT 1';
  CREATE FUNCTION outside.backup() RETURNS pg_lsn LANGUAGE plpgsql AS 'begin return pg_start_backup(''x''); end';
  CREATE VIEW outside.checkpoints AS SELECT checkpoints_timed FROM pg_stat_bgwriter;
  CREATE OPERATOR CLASS outside.my_int_ops FOR TYPE int4 USING btree AS
    OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint4cmp(int4, int4);
  CREATE TEXT SEARCH PARSER outside.my_parser (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype);
  CREATE TABLE outside.parent (a int, b int);
  CREATE TABLE outside.child (a int, b int GENERATED ALWAYS AS (a * 2) STORED) INHERITS (outside.parent);
  CREATE TABLE outside.base (a int); CREATE TABLE outside.derived (c int) INHERITS (outside.base);
  ALTER TABLE outside.base ADD COLUMN b int;
  GRANT CREATE ON SCHEMA public TO ${creator}; SET ROLE ${creator}; CREATE TABLE public.by_creator (x int); RESET ROLE;
  CREATE FUNCTION outside.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS 'begin end';
  CREATE EVENT TRIGGER ${quoteIdent(uniqueName('ddl'))} ON ddl_command_start EXECUTE FUNCTION outside.on_ddl();
  CREATE PUBLICATION ${quoteIdent(uniqueName('pub'))} FOR TABLE outside.t;
  CREATE LANGUAGE plstandin HANDLER plpgsql_call_handler;
  RESET search_path;
  CREATE FOREIGN DATA WRAPPER my_fdw;
  CREATE ACCESS METHOD my_am TYPE INDEX HANDLER bthandler;
  CREATE CAST (bytea AS text) WITHOUT FUNCTION;
  CREATE EXTENSION old_snapshot; CREATE EXTENSION pageinspect; CREATE EXTENSION adminpack; CREATE EXTENSION citext;
  COMMENT ON EXTENSION citext IS 'changed on the source';`

/** Probes the fixture does not set off on this test bed, and why. */
const NOT_SET_OFF = {
  'roles-not-creatable': 'the target admin has CREATEROLE',
  'restore-role-not-creatable': 'the target admin has CREATEROLE (restore-privileges.test.ts takes a login without it)',
  'foreign-server-wrapper-usage': 'needs a wrapper installed in the target database',
  'subscriptions-not-migrated': 'a subscription cannot be dropped from this fixture without a publisher',
  'validation-query-removed-builtins': 'validation queries are the user’s own, not in any scope',
  'pg15-plpython2': 'no Python 2 on these servers',
  'extension-schema-differs': 'needs the extension installed on the target in another schema'
}
// The sync's probes run only with sync: logical, which refuses every filter.
const SYNC_ONLY = new Set(SYNC_PROBES.map((p) => p.id))

beforeAll(async () => {
  await withClient(serverUrl(source, 'postgres'), (c) => c.query(`CREATE DATABASE ${quoteIdent(db)}`))
  await withClient(serverUrl(source, db), async (c) => {
    await c.query(FIXTURE)
    await c.query(`ALTER DATABASE ${quoteIdent(db)} SET force_parallel_mode = on`)
    await c.query(`ALTER DATABASE ${quoteIdent(db)} SET log_statement = 'all'`)
  })
  await withClient(serverUrl(target, 'postgres', admin), async (c) => {
    await c.query(`CREATE DATABASE ${quoteIdent(targetDb)}`)
    await c.query(`CREATE ROLE ${keeper} NOLOGIN`)
  })
}, 60_000)

async function plan(patterns: Partial<ScopePatterns> | undefined, privileges: 'skip' | 'keep'): Promise<Finding[]> {
  return withClient(serverUrl(source, db), async (sourceClient: pg.Client) => {
    const resolution = patterns ? await resolveScope(sourceClient, { ...NO_PATTERNS, ...patterns }) : undefined
    if (resolution) expect(resolution.problems).toEqual([])
    return withClient(serverUrl(target, targetDb, admin), (targetClient: pg.Client) => {
      return runChecks(
        probeContext(sourceClient, targetClient, {
          targetDatabase: targetDb,
          privileges,
          scope: resolution ? scopeSql(resolution.scope) : WHOLE_DATABASE
        })
      )
    })
  })
}

const ids = (findings: Finding[]) => [...new Set(findings.map((f) => f.id))].sort()

test('without filters, the fixture sets off every probe it can', async () => {
  const found = new Set([...ids(await plan(undefined, 'skip')), ...ids(await plan(undefined, 'keep'))])
  const expected = PROBES.map((p) => p.id).filter((id) => !(id in NOT_SET_OFF) && !SYNC_ONLY.has(id))
  expect(expected.filter((id) => !found.has(id))).toEqual([])
})

test.each([
  ['schemas: inside', { schemas: ['inside'] }],
  ['tables: inside.plain', { tables: ['inside.plain'] }]
])('with %s, no probe finds anything, with privileges skip or keep', async (_title, patterns) => {
  expect(await plan(patterns, 'skip')).toEqual([])
  expect(await plan(patterns, 'keep')).toEqual([])
})

test('exclude-schemas leaves the schema-level findings out, and keeps what moves with the whole database', async () => {
  const found = ids(await plan({ excludeSchemas: ['outside'] }, 'skip'))
  // Objects outside schemas still move (pg_dump moves them without -n or -t), so their probes still speak.
  expect(found).toEqual(
    expect.arrayContaining(['event-triggers-not-migrated', 'extension-needs-superuser', 'superuser-only-objects'])
  )
  for (const id of [
    'function-search-path',
    'untrusted-language-functions',
    'removed-builtins',
    'pg16-generated-inheritance'
  ])
    expect(found).not.toContain(id)
})
