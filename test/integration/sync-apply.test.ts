// The batched apply of sync: logical against real servers: transactions that mix inserts, updates
// (keys changed, NULLs, TOASTed values left unchanged, a unique column whose rows trade values) and
// deletes across tables of every identity and columns of many types (arrays of two dimensions, a
// domain over an array, box, whose arrays are not comma-delimited, a composite), replayed many
// changes per statement and many statements per round trip, end with the target equal to the
// source; so do many small transactions over the same tables, grouped into one target transaction
// per batch, and one of 10,000 inserts.
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import type pg from 'pg'
import { runInProcess } from '../support/in-process.js'
import { serverUrl } from '../support/servers.js'
import { loadTestbed, quoteIdent, tableDigests, uniqueName, withClient } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'

const testbed = loadTestbed()
const scratch = scratchFolder('sync-apply-')
const owner = { user: uniqueName('sync_apply'), password: randomBytes(12).toString('hex') }
const ownerUrl = (database: string): string => serverUrl(testbed.source, database, owner)

const SCHEMA = `CREATE SCHEMA a;
  CREATE TABLE a.items (id int PRIMARY KEY, name text, tags text[], data bytea, big text, note text, price numeric,
    at timestamptz(6), ratio float8);
  CREATE TABLE a.pairs (k1 int, k2 text, v jsonb, PRIMARY KEY (k1, k2));
  CREATE TABLE a.loose (x int, y text);
  ALTER TABLE a.loose REPLICA IDENTITY FULL;
  CREATE TABLE a.people (id int PRIMARY KEY, email text UNIQUE, n int);
  CREATE TYPE a.pt AS (x int, label text);
  CREATE DOMAIN a.grid AS int[] CHECK (VALUE IS NULL OR cardinality(VALUE) > 0);
  CREATE TABLE a.typed (id int PRIMARY KEY, b bit(3), c char(4), v varchar(5), n numeric(6, 2), d date, i interval,
    bx box, m int[], g a.grid, p a.pt);
  CREATE TABLE a."Odd ""T""" (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "select" text, "a b" int);
  INSERT INTO a.items SELECT g, 'item ' || g, ARRAY['t' || g, NULL, ''], decode('5c27' || lpad(to_hex(g), 4, '0'), 'hex'),
    (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 300) i), NULL, g * 1.25,
    timestamptz '2024-01-01 00:00:00.123456+00' + g * interval '1 second', g / 7.0
    FROM generate_series(1, 1000) g;
  INSERT INTO a.pairs SELECT g % 10, 'k' || g, jsonb_build_object('g', g) FROM generate_series(1, 200) g;
  INSERT INTO a.loose SELECT g % 5, 'dup' FROM generate_series(1, 50) g;
  INSERT INTO a.people SELECT g, 'p' || g || '@x', 0 FROM generate_series(1, 100) g;
  INSERT INTO a.typed SELECT g, B'101', 'ab', 'xy', g / 3.0, date '2024-02-29' + g, g * interval '90 minutes',
    box(point(g, 0), point(0, g)), ARRAY[[g, 0], [0, g]], ARRAY[g], ROW(g, 'l' || g)::a.pt
    FROM generate_series(1, 40) g;
  INSERT INTO a."Odd ""T""" ("select", "a b") SELECT 's' || g, g FROM generate_series(1, 50) g;`

/** One large transaction of every kind of change, then small ones: the application's work during the copy. */
const CHANGES = [
  `BEGIN;
   INSERT INTO a.items SELECT g, 'new ' || g, ARRAY['it''s', NULL, 'c"d', '{x}'], decode('00ff5c' || lpad(to_hex(g), 4, '0'), 'hex'),
     repeat(md5(g::text), 100), CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' END, g / 3.0, clock_timestamp(), 1e300 / g
     FROM generate_series(2001, 4000) g;
   UPDATE a.items SET name = name || ' changed', note = NULL, price = NULL WHERE id % 4 = 0;
   UPDATE a.items SET tags = tags || ARRAY['more'] WHERE id % 4 = 0;
   UPDATE a.items SET id = id + 100000 WHERE id % 50 = 1;
   DELETE FROM a.items WHERE id % 7 = 3;
   UPDATE a.pairs SET v = v || '{"u": true}' WHERE k1 = 3;
   UPDATE a.pairs SET k2 = k2 || 'x' WHERE k1 = 4;
   DELETE FROM a.pairs WHERE k1 = 5;
   INSERT INTO a.pairs VALUES (5, 'k15', 'null'), (5, 'again', '[1, "two"]');
   DELETE FROM a.loose WHERE ctid IN (SELECT ctid FROM a.loose WHERE x = 1 LIMIT 3);
   UPDATE a.loose SET y = 'one' WHERE ctid IN (SELECT ctid FROM a.loose WHERE x = 2 LIMIT 2);
   INSERT INTO a.loose VALUES (NULL, NULL), (7, 'seven');
   UPDATE a.people SET email = 'tmp' WHERE id = 2;
   UPDATE a.people SET email = 'p2@x' WHERE id = 1;
   UPDATE a.people SET email = 'p1@x' WHERE id = 2;
   UPDATE a.people SET n = n + 1 WHERE id BETWEEN 10 AND 60;
   UPDATE a.typed SET b = b # B'111', c = 'zz', v = 'abcde', n = n + 0.5, d = d + 1, i = i * 2,
     bx = box(point(id, id), point(-1, -1)), m = m || ARRAY[[id, NULL]], g = g || 0, p = ROW(-id, 'it''s "p"')::a.pt WHERE id <= 30;
   INSERT INTO a.typed SELECT g, B'011', 'a b', '', 1.25, date '2000-01-01', interval '1 day 2 hours',
     CASE WHEN g % 2 = 0 THEN box(point(1.5, 2), point(-3, 4.25)) END, ARRAY[[1, NULL], [g, -g]], ARRAY[g, NULL],
     ROW(g, CASE WHEN g % 3 = 0 THEN NULL ELSE '{x,"y"}\\ z' END)::a.pt FROM generate_series(41, 60) g;
   INSERT INTO a."Odd ""T""" ("select", "a b") VALUES ('it''s \\ a', NULL);
   UPDATE a."Odd ""T""" SET "a b" = "a b" * 2 WHERE id <= 20;
   DELETE FROM a."Odd ""T""" WHERE id > 45;
   COMMIT`,
  `UPDATE a.items SET name = 'again' WHERE id = 2`,
  `BEGIN; DELETE FROM a.items WHERE id = 4; INSERT INTO a.items (id, name) VALUES (4, 'back'); UPDATE a.items SET name = 'twice' WHERE id = 4; UPDATE a.items SET name = 'thrice' WHERE id = 4; COMMIT`,
  `BEGIN; UPDATE a.pairs SET v = NULL WHERE k1 = 6; DELETE FROM a.people WHERE id > 90; COMMIT`
]

/** A database of `owner`'s on the source with `schema`, synced while `write` runs from the slot's creation on. */
async function syncWhileWriting(schema: string, write: (client: pg.Client) => Promise<void>) {
  const database = uniqueName('sync_apply')
  await testbed.query('source', 'postgres', `CREATE DATABASE ${database} OWNER ${quoteIdent(owner.user)}`)
  await withClient(ownerUrl(database), (client) => client.query(schema))
  let written: Promise<void> | undefined
  let writtenBeforeCutover = false
  const run = await runInProcess(
    {
      'source-url': ownerUrl(database),
      'target-url': testbed.targetUrl(database),
      'upload-artifact': 'false',
      'dump-path': path.join(scratch, database),
      sync: 'logical',
      'cutover-idle-seconds': '2'
    },
    {
      env: { PGBIN: testbed.clientBinDir },
      onLine(line) {
        // Written after the slot's snapshot: none of it is in the dump, all of it is in the stream.
        if (line.startsWith('sync: slot ')) written = withClient(ownerUrl(database), write)
        if (line.startsWith('sync: cutover:')) void written?.then(() => (writtenBeforeCutover = true))
      }
    }
  )
  await written
  expect({ result: run.report.result, errors: run.errors, mismatches: run.report.mismatches }).toEqual({
    result: 'passed',
    errors: [],
    mismatches: 0
  })
  expect(writtenBeforeCutover).toBe(true)
  expect(await tableDigests(testbed.targetSuperUrl(database))).toEqual(await tableDigests(ownerUrl(database)))
  return run.report.databases[0].sync?.applied
}

beforeAll(() =>
  testbed.query(
    'source',
    'postgres',
    `CREATE ROLE ${quoteIdent(owner.user)} LOGIN REPLICATION PASSWORD '${owner.password}'`
  )
)

test('a mixed transaction across tables of every identity is replayed in batches, and the target equals the source', async () => {
  const applied = await syncWhileWriting(SCHEMA, async (client) => {
    for (const change of CHANGES) await client.query(change)
  })
  // Every kind of change went through the stream, and none missed its row.
  expect(applied).toEqual(expect.objectContaining({ transactions: CHANGES.length, noRow: 0 }))
  expect(applied?.inserts).toBeGreaterThan(2000)
  expect(applied?.updates).toBeGreaterThan(1000)
  expect(applied?.deletes).toBeGreaterThan(400)
})

/**
 * Tables a batch's transactions share: two that nothing links to others (their changes join one
 * statement across transactions, an account's updates too), a parent and child that a foreign key
 * links (theirs keep the source's order: a child before its parent would fail), a table without a
 * key, and one that gets a large transaction.
 */
const SHARED = `CREATE SCHEMA b;
  CREATE TABLE b.accounts (id int PRIMARY KEY, balance int NOT NULL, note text);
  CREATE TABLE b.log (id int PRIMARY KEY, account int, at timestamptz(6), tags text[], raw bytea, note text);
  CREATE TABLE b.parent (id int PRIMARY KEY, name text);
  CREATE TABLE b.child (id int PRIMARY KEY, parent int NOT NULL REFERENCES b.parent, n int);
  CREATE TABLE b.nokey (x int, y text);
  ALTER TABLE b.nokey REPLICA IDENTITY FULL;
  CREATE TABLE b.bulk (id int PRIMARY KEY, v text, big text, n numeric, arr int[], raw bytea);
  INSERT INTO b.accounts SELECT g, 0, NULL FROM generate_series(1, 20) g;
  INSERT INTO b.nokey SELECT g % 3, 'old' FROM generate_series(1, 12) g;`

/** The i-th of many small transactions, each in every shared table. */
function small(i: number): string {
  return `BEGIN;
    UPDATE b.accounts SET balance = balance + ${i}, note = ${i % 4 === 0 ? 'NULL' : `'n${i}'`} WHERE id = ${1 + (i % 20)};
    INSERT INTO b.log VALUES (${i}, ${1 + (i % 20)}, clock_timestamp(), ARRAY['a${i}', NULL], '\\x00${(i % 256).toString(16).padStart(2, '0')}', ${i % 3 === 0 ? 'NULL' : `'it''s'`});
    INSERT INTO b.parent VALUES (${i}, 'p${i}');
    INSERT INTO b.child VALUES (${i}, ${i}, ${i});
    ${i % 10 === 9 ? `DELETE FROM b.child WHERE id = ${i - 5}; DELETE FROM b.parent WHERE id = ${i - 5};` : ''}
    ${i % 5 === 0 ? `UPDATE b.nokey SET y = 'u${i}' WHERE ctid = (SELECT ctid FROM b.nokey WHERE x = ${i % 3} LIMIT 1);` : `INSERT INTO b.nokey VALUES (${i % 3}, NULL);`}
    ${i % 7 === 0 ? `DELETE FROM b.log WHERE id = ${i - 3};` : ''}
    COMMIT`
}

/** 10,000 inserts into one table, then updates (a TOASTed value left unchanged) and deletes of some of them. */
const LARGE = `BEGIN;
  INSERT INTO b.bulk SELECT g, 'v' || g, CASE WHEN g % 100 = 0 THEN repeat(md5(g::text), 200) END,
    CASE WHEN g % 3 = 0 THEN NULL ELSE g / 7.0 END, ARRAY[g, NULL, -g], decode(lpad(to_hex(g), 8, '0'), 'hex')
    FROM generate_series(1, 10000) g;
  UPDATE b.bulk SET v = v || ' changed', arr = arr || 0 WHERE id % 10 = 0;
  UPDATE b.bulk SET n = 1 WHERE id % 100 = 0;
  DELETE FROM b.bulk WHERE id % 7 = 0;
  UPDATE b.bulk SET v = NULL WHERE id % 11 = 0;
  COMMIT`

test('many small transactions across the same tables, and a large one, are replayed grouped in commit order', async () => {
  const applied = await syncWhileWriting(SHARED, async (client) => {
    await client.query(LARGE)
    // In bursts: the stream brings many transactions at once, and one batch gathers them.
    for (let from = 0; from < 400; from += 50)
      await client.query(Array.from({ length: 50 }, (_, i) => small(from + i)).join(';\n'))
  })
  expect(applied).toEqual(expect.objectContaining({ transactions: 401, noRow: 0 }))
  expect(applied?.inserts).toBeGreaterThan(10_000 + 3 * 400)
})
