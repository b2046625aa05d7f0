import { execFileSync } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import { compareFingerprints, type Comparison, type Difference } from '../../src/verify/compare.js'
import { fingerprintDatabase, type Fingerprint, type FingerprintOptions } from '../../src/verify/fingerprint/index.js'
import { withClient } from '../support/servers.js'
import { loadTestbed, loadTestbedState, uniqueName } from '../support/testbed.js'

// Each class of false difference found on PostgreSQL's regression database, moved for real from 14
// to 17 with the test bed's pg_dump and pg_restore 17: the verify must find only what really differs,
// and name it for what it is.
const testbed = loadTestbed()
const { source, target, clientBinDir } = loadTestbedState()

type Privileges = 'skip' | 'keep'

interface Moved {
  db: string
  source: Fingerprint
  target: Fingerprint
  comparison: Comparison
}

function connector(url: string): () => Promise<pg.Client> {
  return async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    return client
  }
}

/** The password travels in the environment, never on a command line. */
function loginEnv(server: typeof source, login: { user: string; password: string }, db: string): NodeJS.ProcessEnv {
  const env = { PGHOST: server.host, PGPORT: String(server.port), PGUSER: login.user, PGDATABASE: db }
  return { ...process.env, ...env, PGPASSWORD: login.password }
}

/**
 * Creates `sql` on the source, dumps it with pg_dump 17 and restores it: as the managed admin
 * without owners and grants (privileges skip), or as the target's superuser with them (keep).
 */
async function move(prefix: string, sql: string, privileges: Privileges = 'skip'): Promise<string> {
  const db = uniqueName(prefix)
  await testbed.createSourceDatabase(db, sql)
  const dump = execFileSync(path.join(clientBinDir, 'pg_dump'), ['--format=custom'], {
    env: loginEnv(source, source.superuser, db),
    maxBuffer: 64 * 1024 * 1024
  })
  const admin = target.admin as { user: string; password: string }
  const restorer = privileges === 'skip' ? admin : target.superuser
  await withClient(testbed.targetSuperUrl('postgres'), (client) =>
    client.query(`CREATE DATABASE ${db} OWNER ${privileges === 'skip' ? admin.user : target.superuser.user}`)
  )
  const restoreOptions = privileges === 'skip' ? ['--no-owner', '--no-acl'] : []
  execFileSync(path.join(clientBinDir, 'pg_restore'), ['--exit-on-error', '-d', db, ...restoreOptions], {
    env: loginEnv(target, restorer, db),
    input: dump,
    stdio: ['pipe', 'ignore', 'pipe']
  })
  return db
}

async function verify(db: string, privileges: Privileges = 'skip'): Promise<Moved> {
  const options: FingerprintOptions = { level: 'full', jobs: 2, validationQueries: [] }
  const sourceFingerprint = await fingerprintDatabase(connector(testbed.sourceUrl(db)), options)
  const targetUrl = privileges === 'skip' ? testbed.targetUrl(db) : testbed.targetSuperUrl(db)
  const targetFingerprint = await fingerprintDatabase(connector(targetUrl), {
    ...options,
    like: sourceFingerprint.tables
  })
  const comparison = compareFingerprints(sourceFingerprint, targetFingerprint, { privileges })
  return { db, source: sourceFingerprint, target: targetFingerprint, comparison }
}

function unexpected(comparison: Comparison): Pick<Difference, 'kind' | 'object'>[] {
  return comparison.differences.filter((d) => !d.expected).map(({ kind, object }) => ({ kind, object }))
}

const names = (fingerprint: Fingerprint, kind: string): string[] =>
  fingerprint.inventory.filter((object) => object.kind === kind).map((object) => object.name)

describe('an inheritance child whose parent got a column after it', () => {
  let moved: Moved

  beforeAll(async () => {
    const db = await move(
      'vf_inherit',
      `CREATE TABLE parent (id int, label text);
       CREATE TABLE child (extra int) INHERITS (parent);
       CREATE TABLE child_text (tags text[]) INHERITS (parent);
       ALTER TABLE parent ADD COLUMN added date;
       INSERT INTO child VALUES (1, 'one', 10, '2024-01-01'), (2, 'two', 20, NULL);
       INSERT INTO child_text VALUES (3, 'three', '{a,b}', '2024-02-02');
       CREATE SCHEMA "Odd";
       CREATE TABLE "Odd"."Base Table" (id int);
       CREATE TABLE "Odd".child (extra int) INHERITS ("Odd"."Base Table");
       ALTER TABLE "Odd"."Base Table" ADD COLUMN "Added" int;`
    )
    moved = await verify(db)
  })

  test('the restore really moved the column: pg_dump cannot keep the order', () => {
    const columns = (fingerprint: Fingerprint) =>
      fingerprint.inventory.find((object) => object.name === 'public.child')?.columns
    expect(columns(moved.source)).toEqual(['id', 'label', 'extra', 'added'])
    expect(columns(moved.target)).toEqual(['id', 'label', 'added', 'extra'])
  })

  test('reported once, as the column order pg_dump gives a child, expected; data and columns agree', () => {
    expect(unexpected(moved.comparison)).toEqual([])
    const orders = moved.comparison.differences.filter((d) => d.kind === 'column-order')
    expect(orders).toHaveLength(3)
    expect(orders).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          object: 'table public.child',
          source: 'id, label, extra, added',
          target: 'id, label, added, extra',
          expected: true
        }),
        expect.objectContaining({ object: 'table public.child_text', expected: true }),
        // Its parent is named in SQL, the table in JS: both quote alike, or the parent would not be found.
        expect.objectContaining({ object: 'table "Odd".child', source: 'id, extra, "Added"', expected: true })
      ])
    )
    // Both hashing methods ran over the reordered rows.
    const hashes = Object.fromEntries(moved.target.tables.map((table) => [table.name, table.hash]))
    expect(hashes).toMatchObject({ child: 'record-by-name', child_text: 'text-by-name' })
    expect(moved.target.tables).toEqual(moved.source.tables)
  })
})

describe('names that became keywords: columns named json and json_table in a view, a check and a BEGIN ATOMIC body', () => {
  let moved: Moved

  beforeAll(async () => {
    const db = await move(
      'vf_keyword',
      `CREATE TABLE docs (id int PRIMARY KEY, json json, json_table text CHECK (json_table <> ''));
       CREATE INDEX docs_json_table_idx ON docs (json_table);
       CREATE FUNCTION first_key(doc json) RETURNS text LANGUAGE sql AS $$ SELECT json_object_keys(doc) LIMIT 1 $$;
       CREATE VIEW doc_keys AS SELECT id, json, first_key(json) AS system_user FROM docs;
       CREATE FUNCTION docs_with_table(t text) RETURNS bigint LANGUAGE sql
         BEGIN ATOMIC SELECT count(*) FROM docs WHERE docs.json_table = t AND docs.json IS NOT NULL; END;
       INSERT INTO docs VALUES (1, '{"a": 1}', 'x');`
    )
    moved = await verify(db)
  })

  test('17 quotes them where 14 does not; the fingerprint names them alike', async () => {
    const quoted = await testbed.query('target', moved.db, "SELECT quote_ident('json') AS json")
    expect(quoted.rows[0].json).toBe('"json"')
    expect(names(moved.source, 'column')).toEqual(
      expect.arrayContaining(['public.docs.json', 'public.docs.json_table'])
    )
    expect(names(moved.target, 'column')).toEqual(names(moved.source, 'column'))
    expect(names(moved.source, 'function')).toEqual(['public.docs_with_table(text)', 'public.first_key(json)'])
    expect(unexpected(moved.comparison)).toEqual([])
    expect(moved.comparison.differences.filter((d) => d.kind !== 'owner' && d.kind !== 'privileges')).toEqual([])
  })
})

describe('foreign keys to and from partitioned tables, cloned triggers, attached indexes', () => {
  let moved: Moved
  const conname = `SELECT string_agg(format('%s %s → %s', conname, conrelid::regclass, confrelid::regclass), ', '
    ORDER BY conname, conrelid::regclass::text, confrelid::regclass::text) AS names FROM pg_constraint WHERE contype = 'f'`

  beforeAll(async () => {
    const db = await move(
      'vf_partfk',
      // Partitions attached out of order, and one created after the key: the clones' names follow
      // the order they were made in, which the restore does not repeat.
      `CREATE TABLE pk (a int PRIMARY KEY) PARTITION BY RANGE (a);
       CREATE TABLE pk2 PARTITION OF pk FOR VALUES FROM (10) TO (20);
       CREATE TABLE fk (a int REFERENCES pk, b int) PARTITION BY LIST (b);
       CREATE TABLE pk1 PARTITION OF pk FOR VALUES FROM (0) TO (10);
       CREATE TABLE fk2 PARTITION OF fk FOR VALUES IN (2);
       CREATE TABLE fk1 (b int, a int);
       ALTER TABLE fk ATTACH PARTITION fk1 FOR VALUES IN (1);
       CREATE TABLE plain_fk (a int REFERENCES pk);
       CREATE INDEX fk_b_idx ON fk (b);
       CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
       CREATE TRIGGER fk_touch BEFORE INSERT ON fk FOR EACH ROW EXECUTE FUNCTION noop();
       ALTER TABLE fk2 DISABLE TRIGGER fk_touch;
       INSERT INTO pk VALUES (1), (11);
       INSERT INTO fk VALUES (1, 1), (11, 2);
       INSERT INTO plain_fk VALUES (11);`
    )
    moved = await verify(db)
  })

  test('the restore named the clones anew; matched through their parents, nothing differs', async () => {
    const [before, after] = await Promise.all([
      testbed.query('source', moved.db, conname),
      testbed.query('target', moved.db, conname)
    ])
    expect(after.rows[0].names).not.toBe(before.rows[0].names)
    expect(names(moved.source, 'constraint')).toEqual(
      expect.arrayContaining([
        'public.fk1 (from public.fk.fk_a_fkey, references public.pk)',
        'public.fk (from public.fk.fk_a_fkey, references public.pk1)',
        'public.plain_fk (from public.plain_fk.plain_fk_a_fkey, references public.pk2)'
      ])
    )
    expect(unexpected(moved.comparison)).toEqual([])
  })

  test('clones of a trigger and of an index are compared as clones, disabled state and all', () => {
    const definition = (fingerprint: Fingerprint, name: string) =>
      fingerprint.inventory.find((object) => object.name === name)?.definition
    expect(definition(moved.source, 'public.fk2.fk_touch')).toMatch(/ disabled clone of public\.fk\.fk_touch$/)
    expect(definition(moved.target, 'public.fk2.fk_touch')).toBe(definition(moved.source, 'public.fk2.fk_touch'))
    expect(definition(moved.source, 'public.fk1_b_idx')).toMatch(/ partition of public\.fk_b_idx$/)
  })

  test('a clone that really differs is still found', async () => {
    await testbed.query(
      'target',
      moved.db,
      'ALTER TABLE fk2 ENABLE TRIGGER fk_touch; ALTER TABLE fk DETACH PARTITION fk1'
    )
    const again = await verify(moved.db)
    expect(unexpected(again.comparison)).toEqual(
      expect.arrayContaining([
        { kind: 'missing', object: 'constraint public.fk1 (from public.fk.fk_a_fkey, references public.pk)' },
        { kind: 'definition', object: 'trigger public.fk2.fk_touch' }
      ])
    )
  })
})

describe('definitions a newer server prints differently', () => {
  let moved: Moved

  beforeAll(async () => {
    const db = await move(
      'vf_print',
      `CREATE VIEW xml_text AS SELECT XMLSERIALIZE(CONTENT '<a>good</a>'::xml AS text) AS doc;
       CREATE TABLE t (x xml, CHECK (XMLSERIALIZE(CONTENT x AS text) <> ''));
       CREATE MATERIALIZED VIEW xml_mat AS SELECT XMLSERIALIZE(DOCUMENT x AS text) AS doc FROM t;
       CREATE PROCEDURE touch(a int, b text DEFAULT 'IN b') LANGUAGE sql AS $$ SELECT a $$;`
    )
    moved = await verify(db)
  })

  test('17 prints NO INDENT and IN where 14 printed nothing; neither is a difference', async () => {
    const printed = await testbed.query('target', moved.db, "SELECT pg_get_viewdef('xml_text') AS text")
    expect(printed.rows[0].text).toContain('NO INDENT')
    expect(moved.comparison.differences.filter((d) => d.kind !== 'owner' && d.kind !== 'privileges')).toEqual([])
  })

  test('a view that really reads otherwise is still found', async () => {
    await testbed.query(
      'target',
      moved.db,
      `CREATE OR REPLACE VIEW xml_text AS SELECT XMLSERIALIZE(CONTENT '<a>bad</a>'::xml AS text) AS doc`
    )
    expect(unexpected((await verify(moved.db)).comparison)).toEqual([
      { kind: 'definition', object: 'view public.xml_text' }
    ])
  })
})

describe('privileges kept: ACLs compared as in effect', () => {
  let moved: Moved

  beforeAll(async () => {
    // Granted and revoked again: each ACL is now written out, equal to its owner's default, which
    // pg_dump does not dump, so the target holds NULL for all of them.
    const db = await move(
      'vf_acl',
      `CREATE SCHEMA s;
       CREATE TABLE s.t (id int);
       CREATE SEQUENCE s.q;
       CREATE VIEW s.v AS SELECT id FROM s.t;
       CREATE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
       CREATE TYPE s.e AS ENUM ('x');
       GRANT USAGE ON SCHEMA s TO PUBLIC; REVOKE USAGE ON SCHEMA s FROM PUBLIC;
       GRANT SELECT ON s.t, s.q, s.v TO PUBLIC; REVOKE SELECT ON s.t, s.q, s.v FROM PUBLIC;
       REVOKE EXECUTE ON FUNCTION s.f() FROM PUBLIC; GRANT EXECUTE ON FUNCTION s.f() TO PUBLIC;
       REVOKE USAGE ON TYPE s.e FROM PUBLIC; GRANT USAGE ON TYPE s.e TO PUBLIC;`,
      'keep'
    )
    moved = await verify(db, 'keep')
  })

  test('an explicit default on the source equals none on the target, for every kind of object', async () => {
    const acls = await testbed.query(
      'source',
      moved.db,
      `SELECT (SELECT nspacl FROM pg_namespace WHERE nspname = 's') IS NOT NULL
         AND (SELECT bool_and(relacl IS NOT NULL) FROM pg_class WHERE relname IN ('t', 'q', 'v'))
         AND (SELECT proacl IS NOT NULL FROM pg_proc WHERE proname = 'f')
         AND (SELECT typacl IS NOT NULL FROM pg_type WHERE typname = 'e') AS explicit`
    )
    expect(acls.rows[0].explicit).toBe(true)
    const onTarget = await testbed.query(
      'target',
      moved.db,
      "SELECT relacl FROM pg_class WHERE relname = 't' UNION ALL SELECT nspacl FROM pg_namespace WHERE nspname = 's'"
    )
    expect(onTarget.rows).toEqual([{ relacl: null }, { relacl: null }])
    expect(moved.comparison.differences).toEqual([])
  })

  test('a grant that really differs fails', async () => {
    await testbed.query('target', moved.db, 'GRANT SELECT ON s.t TO PUBLIC')
    expect(unexpected((await verify(moved.db, 'keep')).comparison)).toEqual([
      { kind: 'privileges', object: 'table s.t' }
    ])
  })
})
