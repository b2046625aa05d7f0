import { outcome, PASSED, runAction, type ActionRun } from '../support/run-action.js'
import { loadTestbed, uniqueName } from '../support/testbed.js'

// Every blocker comes with a hint, and following the hint as written must lead to a run that passes:
// one case per kind of blocker the test bed can hold (a 14 source, a 17 target and its managed-style
// admin). The plan names the blocker with its hint, the test does what the hint says (on the source,
// or as the target's superuser where the hint asks a provider or a superuser), and a migrate passes.
const testbed = loadTestbed()
const admin = testbed.target.admin?.user ?? 'admin'

type Side = 'source' | 'target'

interface HintCase {
  /** SQL that makes the source database hold the blocker. */
  source: string
  /** SQL run in the target database as its superuser before the plan: what a provider installed. */
  targetBefore?: string
  /** Inputs beyond the test bed's. */
  inputs?: Record<string, string>
  /** The blocker the plan must name, and words of its hint the test then follows. */
  blocker: string
  /** Other blockers the same cause makes, which following the hint removes too. */
  alsoBlocked?: string[]
  hint: string
  /** What the hint says to do, and where; `inputs`: an input the hint says to set as well. */
  follow: { side: Side; sql: string; inputs?: Record<string, string> }
  /** Run after the passing migrate, as the target's superuser in the postgres database (server-wide grants). */
  undo?: string
}

const owner = uniqueName('hint_owner')
const granter = uniqueName('hint_granter')
const reader = uniqueName('hint_reader')

const ROWS = 'CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items VALUES (1, $$a$$), (2, $$b$$);'

const cases: [string, HintCase][] = [
  [
    'untrusted-language-functions: rewritten in a trusted language on the source',
    {
      source: `${ROWS} CREATE FUNCTION my_abs(int) RETURNS int LANGUAGE internal IMMUTABLE STRICT AS 'int4abs';`,
      blocker: 'untrusted-language-functions',
      hint: 'rewrite them in a trusted language',
      follow: {
        side: 'source',
        sql: `CREATE OR REPLACE FUNCTION my_abs(int) RETURNS int LANGUAGE sql IMMUTABLE STRICT AS 'SELECT abs($1)'`
      }
    }
  ],
  [
    'superuser-only-objects: dropped from the source, being unused',
    {
      source: `${ROWS} CREATE FUNCTION sees_nothing(text) RETURNS boolean LANGUAGE sql LEAKPROOF AS 'SELECT true';`,
      blocker: 'superuser-only-objects',
      hint: 'drop them from the source if unused',
      follow: { side: 'source', sql: 'DROP FUNCTION sees_nothing(text)' }
    }
  ],
  [
    'superuser-only-objects: migrated as a superuser of the target, trusting the source',
    {
      source: `${ROWS} CREATE FUNCTION sees_nothing(text) RETURNS boolean LANGUAGE sql LEAKPROOF AS 'SELECT true';`,
      blocker: 'superuser-only-objects',
      hint: 'migrate as a superuser of the target, with accept-source-code: true',
      follow: { side: 'target', sql: '', inputs: { 'target-url': 'superuser', 'accept-source-code': 'true' } }
    }
  ],
  [
    'function-setting-not-settable: the target superuser grants SET on the parameter to the login',
    {
      source: `${ROWS} CREATE FUNCTION loud() RETURNS int LANGUAGE sql SET log_statement = 'all' AS 'SELECT 1';`,
      blocker: 'function-setting-not-settable',
      hint: 'GRANT SET ON PARAMETER … TO the login (15 and later) and set accept-source-code: true',
      follow: {
        side: 'target',
        sql: `GRANT SET ON PARAMETER log_statement TO ${admin}`,
        inputs: { 'accept-source-code': 'true' }
      },
      undo: `REVOKE SET ON PARAMETER log_statement FROM ${admin}`
    }
  ],
  [
    'function-search-path: the function given its own search path on the source',
    {
      source: `CREATE FUNCTION helper(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n + 1';
        CREATE FUNCTION wrap(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT helper(n)';
        CREATE TABLE t (a int PRIMARY KEY CHECK (wrap(a) > 0)); INSERT INTO t VALUES (1), (2);
        CREATE INDEX t_wrap ON t (wrap(a));`,
      blocker: 'function-search-path',
      hint: 'ALTER FUNCTION … SET search_path = public, pg_temp',
      follow: { side: 'source', sql: 'ALTER FUNCTION wrap(int) SET search_path = public, pg_temp' }
    }
  ],
  [
    'removed-builtins: the view on a removed function dropped on the source',
    {
      source: `${ROWS} CREATE VIEW backup_state AS SELECT pg_is_in_backup() AS running;`,
      blocker: 'removed-builtins',
      hint: 'rewrite them with the replacement shown (or drop them)',
      follow: { side: 'source', sql: 'DROP VIEW backup_state' }
    }
  ],
  [
    'removed-setting-in-function: the parameter reset on the source',
    {
      source: `${ROWS} CREATE FUNCTION parallel_report() RETURNS int LANGUAGE sql SET force_parallel_mode = on AS 'SELECT 1';`,
      blocker: 'removed-setting-in-function',
      hint: 'ALTER FUNCTION … RESET the parameter',
      follow: { side: 'source', sql: 'ALTER FUNCTION parallel_report() RESET force_parallel_mode' }
    }
  ],
  [
    'pg15-interval-text-expression: the index based on an immutable expression instead',
    {
      source: `CREATE TABLE plain (id int PRIMARY KEY, span interval); INSERT INTO plain VALUES (1, '1 day');
        CREATE INDEX plain_text ON plain ((span::text));`,
      blocker: 'pg15-interval-text-expression',
      hint: 'base them on an immutable expression instead (extract(epoch FROM col)',
      follow: {
        side: 'source',
        sql: 'DROP INDEX plain_text; CREATE INDEX plain_text ON plain ((extract(epoch FROM span)))'
      }
    }
  ],
  [
    'pg16-generated-inheritance: the child detached, its expression dropped, attached again',
    {
      source: `CREATE TABLE parent (a int, b int);
        CREATE TABLE child (a int, b int GENERATED ALWAYS AS (a * 2) STORED) INHERITS (parent);
        INSERT INTO child (a) VALUES (1), (2);`,
      blocker: 'pg16-generated-inheritance',
      hint: 'ALTER TABLE child NO INHERIT parent',
      follow: {
        side: 'source',
        sql: 'ALTER TABLE child NO INHERIT parent; ALTER TABLE child ALTER COLUMN b DROP EXPRESSION; ALTER TABLE child INHERIT parent'
      }
    }
  ],
  [
    'extension-unavailable: dropped on the source, nothing using it',
    {
      source: `${ROWS} CREATE EXTENSION old_snapshot;`,
      blocker: 'extension-unavailable',
      hint: 'drop them on the source if nothing uses them',
      follow: { side: 'source', sql: 'DROP EXTENSION old_snapshot' }
    }
  ],
  [
    'pg17-adminpack: dropped on the source',
    {
      source: `${ROWS} CREATE EXTENSION adminpack;`,
      blocker: 'pg17-adminpack',
      hint: 'DROP EXTENSION adminpack on the source',
      follow: { side: 'source', sql: 'DROP EXTENSION adminpack' }
    }
  ],
  [
    'extension-schema-differs: the extension the target has in another schema dropped there',
    {
      source: `CREATE SCHEMA ext; CREATE EXTENSION citext SCHEMA ext;
        CREATE TABLE names (id int PRIMARY KEY, name ext.citext); INSERT INTO names VALUES (1, 'Ann');`,
      targetBefore: 'CREATE EXTENSION citext',
      blocker: 'extension-schema-differs',
      // Not where the source has it, the extension the target holds is not the source's.
      alsoBlocked: ['target-not-empty'],
      hint: 'or drop it there',
      follow: { side: 'target', sql: 'DROP EXTENSION citext' }
    }
  ],
  [
    'foreign-server-wrapper-usage: the target superuser grants USAGE on the installed wrapper',
    {
      source: `${ROWS} CREATE EXTENSION postgres_fdw; CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw;`,
      targetBefore: 'CREATE EXTENSION postgres_fdw',
      blocker: 'foreign-server-wrapper-usage',
      hint: 'GRANT USAGE ON FOREIGN DATA WRAPPER … TO the login, and set accept-source-code: true',
      follow: {
        side: 'target',
        sql: `GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO ${admin}`,
        inputs: { 'accept-source-code': 'true' }
      }
    }
  ],
  [
    'acl-grantor-not-owner: the grant made again by the owner on the source',
    {
      source: `${ROWS} CREATE ROLE ${owner}; CREATE ROLE ${granter}; CREATE ROLE ${reader};
        ALTER TABLE items OWNER TO ${owner}; GRANT SELECT ON items TO ${granter} WITH GRANT OPTION;
        SET ROLE ${granter}; GRANT SELECT ON items TO ${reader}; RESET ROLE;`,
      inputs: { privileges: 'keep', roles: 'create-missing' },
      blocker: 'acl-grantor-not-owner',
      hint: 'revoke these grants and grant them again as the owner',
      follow: {
        side: 'source',
        sql: `SET ROLE ${granter}; REVOKE SELECT ON items FROM ${reader};
          SET ROLE ${owner}; GRANT SELECT ON items TO ${reader}; RESET ROLE`
      }
    }
  ]
]

const findingsOf = (run: ActionRun): { id: string; severity: string; hint: string }[] =>
  (run.report?.databases ?? []).flatMap((database: { findings: unknown[] }) => database.findings)

async function runOn(side: Side, db: string, sql: string): Promise<void> {
  await testbed.query(side, db, sql)
}

describe('a blocker whose hint is followed as written leads to a run that passes', () => {
  test.each(cases)('%s', async (_name, hintCase) => {
    const db = uniqueName('hint')
    await testbed.createSourceDatabase(db, hintCase.source)
    await testbed.createTargetDatabase(db)
    if (hintCase.targetBefore) await runOn('target', db, hintCase.targetBefore)
    const inputs = testbed.actionInputs(db, db, { 'upload-artifact': 'false', ...hintCase.inputs })
    try {
      const planned = await runAction({ ...inputs, mode: 'plan' })
      expect(planned.exitCode).not.toBe(0)
      const blockers = findingsOf(planned).filter((finding) => finding.severity === 'blocker')
      expect(blockers.map((finding) => finding.id).sort()).toEqual(
        [hintCase.blocker, ...(hintCase.alsoBlocked ?? [])].sort()
      )
      expect(blockers.find((finding) => finding.id === hintCase.blocker)?.hint).toContain(hintCase.hint)

      if (hintCase.follow.sql) await runOn(hintCase.follow.side, db, hintCase.follow.sql)
      const { 'target-url': asLogin, ...followInputs } = hintCase.follow.inputs ?? {}
      // 'superuser': the hint asks for a superuser's login to the target.
      const targetUrl: Record<string, string> =
        asLogin === 'superuser' ? { 'target-url': testbed.targetSuperUrl(db) } : {}
      const run = await runAction({ ...inputs, ...followInputs, ...targetUrl })
      expect(outcome(run)).toEqual(PASSED)
    } finally {
      if (hintCase.undo) await testbed.query('target', 'postgres', hintCase.undo)
    }
  })
})
