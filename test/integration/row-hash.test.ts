import pg from 'pg'
import { compareFingerprints } from '../../src/verify/compare.js'
import { locateDifferingRows } from '../../src/verify/locate.js'
import { fingerprintDatabase, type Fingerprint, type TableFingerprint } from '../../src/verify/fingerprint/index.js'
import { loadTestbed, uniqueName, withClient } from '../support/testbed.js'

// The record hash is a shortcut: it must give the same checksum on 14 and 17 for the same rows, be
// chosen only where every column type is vouched for, and still see every change.
const testbed = loadTestbed()

const SCHEMA = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 100);
  CREATE TYPE pair AS (a int, b text);
  CREATE TABLE plain (id bigint PRIMARY KEY, flag bool, small int2, n int4, label text, code varchar(20), raw bytea,
    day date, at time, fixed char(8), price numeric(10, 2), ts timestamp, tz timestamptz, key uuid, doc jsonb);
  INSERT INTO plain SELECT g, g % 2 = 0, (g % 100)::int2, g * 7, 'label ' || g || ' ✓', 'c' || g, decode(md5(g::text), 'hex'),
    date '2026-01-01' + g, time '00:00' + g * interval '1 second', 'f' || (g % 9), g / 7.0, timestamp '2026-01-01' + g * interval '1 minute',
    timestamptz '2026-01-01 00:00+00' + g * interval '1 hour', md5(g::text)::uuid, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g))
    FROM generate_series(1, 5000) g;
  INSERT INTO plain (id) VALUES (0);
  CREATE TABLE with_enum (id int PRIMARY KEY, feeling mood);
  INSERT INTO with_enum SELECT g, (ARRAY['sad', 'ok', 'happy']::mood[])[g % 3 + 1] FROM generate_series(1, 300) g;
  CREATE TABLE with_domain (id int PRIMARY KEY, note short_text);
  INSERT INTO with_domain VALUES (1, 'x');
  CREATE TABLE with_composite (id int PRIMARY KEY, p pair);
  INSERT INTO with_composite VALUES (1, ROW(1, 'a'));
  CREATE TABLE with_array (id int PRIMARY KEY, tags text[]);
  INSERT INTO with_array VALUES (1, '{a,b}');
  CREATE TABLE with_numeric (id int PRIMARY KEY, amount numeric);
  INSERT INTO with_numeric VALUES (1, 1.50);
  CREATE TABLE with_bpchar (id int PRIMARY KEY, loose bpchar);
  INSERT INTO with_bpchar VALUES (1, 'a ');
`

async function fingerprint(url: string, like?: TableFingerprint[]): Promise<Fingerprint> {
  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    return client
  }
  return fingerprintDatabase(connect, { level: 'full', jobs: 2, validationQueries: [], like })
}

const db = uniqueName('rowhash')

beforeAll(async () => {
  await testbed.createSourceDatabase(db, SCHEMA)
  await testbed.createTargetDatabase(db)
  await withClient(testbed.targetUrl(db), (client) => client.query(SCHEMA))
})

test('only tables of vouched-for core types are hashed by record', async () => {
  const source = await fingerprint(testbed.sourceUrl(db))
  const methods = Object.fromEntries(source.tables.map((t) => [t.name, t.hash]))
  expect(methods).toEqual({
    plain: 'record-by-name',
    with_array: 'text-by-name',
    with_bpchar: 'text-by-name',
    with_composite: 'text-by-name',
    with_domain: 'text-by-name',
    with_enum: 'text-by-name',
    with_numeric: 'text-by-name'
  })
})

test('the same rows give the same checksums on 14 and 17, enums included (their OIDs differ)', async () => {
  const source = await fingerprint(testbed.sourceUrl(db))
  const target = await fingerprint(testbed.targetUrl(db), source.tables)
  const oids = await Promise.all([
    testbed.query('source', db, "SELECT 'mood'::regtype::oid::int AS oid"),
    testbed.query('target', db, "SELECT 'mood'::regtype::oid::int AS oid")
  ])
  expect(oids[0].rows[0].oid).not.toBe(oids[1].rows[0].oid)
  expect(target.tables).toEqual(source.tables)
  expect(compareFingerprints(source, target, { privileges: 'skip' }).differences.filter((d) => !d.expected)).toEqual([])
})

test('a table the other side hashed as text is hashed as text here too', async () => {
  const source = await fingerprint(testbed.sourceUrl(db))
  const asText = source.tables.map((t) => ({ ...t, hash: 'text-by-name' as const }))
  const target = await fingerprint(testbed.targetUrl(db), asText)
  expect(target.tables.find((t) => t.name === 'plain')?.hash).toBe('text-by-name')
})

// Columns are hashed in order of their names: the same rows in another physical order hash alike,
// a value moved to another column does not, by either method.
describe('column order', () => {
  const orderDb = uniqueName('rowhash_order')
  const rows = `
    INSERT INTO core (a, b, c, d) SELECT g, g * 2, 'n' || g, g * 3 FROM generate_series(1, 300) g;
    INSERT INTO typed (a, b, c, d) SELECT g, g * 2, ARRAY['n' || g], g * 3 FROM generate_series(1, 300) g;`
  const connect = (url: string) => async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    return client
  }

  beforeAll(async () => {
    // text[] keeps one table on text hashing; the columns sit elsewhere on each side.
    await testbed.createSourceDatabase(
      orderDb,
      `CREATE TABLE core (a int PRIMARY KEY, b int, c text, d int);
       CREATE TABLE typed (a int PRIMARY KEY, b int, c text[], d int);` + rows
    )
    await testbed.createTargetDatabase(orderDb)
    await withClient(testbed.targetUrl(orderDb), (client) =>
      client.query(
        `CREATE TABLE core (d int, c text, a int PRIMARY KEY, b int);
         CREATE TABLE typed (c text[], b int, d int, a int PRIMARY KEY);` + rows
      )
    )
  })

  test('the same rows in another physical order give the same checksums', async () => {
    const source = await fingerprint(testbed.sourceUrl(orderDb))
    const target = await fingerprint(testbed.targetUrl(orderDb), source.tables)
    expect(source.tables.map((t) => [t.name, t.hash])).toEqual([
      ['core', 'record-by-name'],
      ['typed', 'text-by-name']
    ])
    expect(target.tables).toEqual(source.tables)
  })

  test('values swapped between two columns of one type are a change, and located', async () => {
    await testbed.query(
      'target',
      orderDb,
      'UPDATE core SET b = d, d = b WHERE a = 7; UPDATE typed SET b = d, d = b WHERE a = 7'
    )
    const source = await fingerprint(testbed.sourceUrl(orderDb))
    const target = await fingerprint(testbed.targetUrl(orderDb), source.tables)
    for (const name of ['core', 'typed']) {
      const [before, after] = [source, target].map((f) => f.tables.find((t) => t.name === name) as TableFingerprint)
      expect(after.rows).toBe(before.rows)
      expect(after.checksum).not.toBe(before.checksum)
      // The bisection hashes by name too: one row differs, not every row of the reordered table.
      const keys = await locateDifferingRows(
        connect(testbed.sourceUrl(orderDb)),
        connect(testbed.targetUrl(orderDb)),
        before,
        {
          leafRows: 8
        }
      )
      expect(keys).toEqual(['7'])
    }
  })
})

// Last: it changes the target. Each change must move the checksum from the state before it.
test('the record hash sees a changed value, a deleted row, a duplicated row and values swapped between rows', async () => {
  const source = await fingerprint(testbed.sourceUrl(db))
  const plainOf = (f: Fingerprint): TableFingerprint | undefined => f.tables.find((t) => t.name === 'plain')
  let previous = plainOf(source)?.checksum
  for (const change of [
    `UPDATE plain SET doc = doc || '{"g": -1}' WHERE id = 10`,
    'DELETE FROM plain WHERE id = 11',
    'ALTER TABLE plain DROP CONSTRAINT plain_pkey; INSERT INTO plain SELECT * FROM plain WHERE id = 12',
    // The record hash combines columns linearly: a sum of raw row hashes would miss this swap.
    'UPDATE plain SET n = CASE id WHEN 20 THEN 21 * 7 ELSE 20 * 7 END WHERE id IN (20, 21)'
  ]) {
    await testbed.query('target', db, change)
    const after = plainOf(await fingerprint(testbed.targetUrl(db), source.tables))
    expect(after?.hash).toBe('record-by-name')
    expect(after?.checksum).not.toBe(previous)
    previous = after?.checksum
  }
})
