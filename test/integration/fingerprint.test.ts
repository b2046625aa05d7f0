import pg from 'pg'
import { compareFingerprints, type Difference } from '../../src/verify/compare.js'
import { fingerprintDatabase, type Fingerprint, type FingerprintOptions } from '../../src/verify/fingerprint/index.js'
import { locateDifferingRows } from '../../src/verify/locate.js'
import { withClient } from '../support/servers.js'
import { loadTestbed, quoteIdent, uniqueName } from '../support/testbed.js'

/**
 * The same rich schema and data, created by SQL on 14 (as the superuser) and on 17 (as the managed
 * admin): every type whose text form could differ between versions or settings, objects whose
 * definitions the two versions print differently, and the odd table shapes.
 */
const RICH_SQL = String.raw`
CREATE EXTENSION citext;
CREATE EXTENSION hstore;
CREATE SCHEMA app;
CREATE SCHEMA "Mixed Case";
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.posint AS integer CONSTRAINT posint_positive CHECK (VALUE > 0);
CREATE DOMAIN app.email AS citext NOT NULL CHECK (VALUE ~ '@');
CREATE TYPE app.pair AS (a integer, b text, m app.mood);
CREATE TYPE app.floatrange AS RANGE (subtype = float8);
CREATE SEQUENCE app.counter AS integer INCREMENT 5 MINVALUE 10 MAXVALUE 100000 START 20 CACHE 1 CYCLE;
CREATE FUNCTION app.add(a integer, b integer DEFAULT 1) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT a + b $$;
CREATE FUNCTION app.add_atomic(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT a + b; END;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF NEW.created IS NULL THEN NEW.created := now(); END IF;
  RETURN NEW;
END $$;
CREATE FUNCTION app.events_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE PROCEDURE app.reset_counter(to_value integer) LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN PERFORM setval('app.counter', to_value); END $$;
CREATE AGGREGATE app.mysum(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0');
CREATE TABLE app.customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email app.email UNIQUE,
  name text COLLATE "C" NOT NULL DEFAULT '',
  mood app.mood DEFAULT 'ok',
  tags text[],
  attrs hstore,
  doc jsonb,
  balance numeric(12,2) CHECK (balance >= 0),
  score double precision,
  ratio real,
  created timestamptz,
  dur interval,
  photo bytea,
  pair app.pair,
  age app.posint,
  upper_name text GENERATED ALWAYS AS (upper(name)) STORED,
  cash money,
  ip inet,
  span int4range,
  fspan app.floatrange,
  day date,
  at_time time,
  at_timetz timetz,
  uid uuid,
  flags bit varying(8),
  loc point,
  words tsvector,
  grid integer[][],
  moods app.mood[],
  pairs app.pair[],
  big numeric,
  ref regclass
);
CREATE FUNCTION app.ids_between(lo bigint, hi bigint) RETURNS TABLE (id bigint, name text) LANGUAGE sql STABLE ROWS 20
  AS $$ SELECT id, name FROM app.customers WHERE id BETWEEN lo AND hi $$;
CREATE TABLE app.orders (
  id serial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES app.customers (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  placed date NOT NULL,
  total numeric,
  status app.mood[] DEFAULT '{}',
  note varchar(40),
  CONSTRAINT total_positive CHECK (total > 0),
  CONSTRAINT one_per_day UNIQUE (customer_id, placed)
);
ALTER TABLE app.orders ADD CONSTRAINT note_short CHECK (length(note) < 30) NOT VALID;
CREATE FUNCTION app.count_orders(min_total numeric) RETURNS bigint LANGUAGE sql STABLE
  BEGIN ATOMIC SELECT count(*) FROM app.orders WHERE total > min_total; END;
CREATE INDEX orders_placed_idx ON app.orders (placed DESC NULLS LAST) INCLUDE (total) WHERE total > 10;
CREATE INDEX customers_lower_email_idx ON app.customers (lower(email::text));
CREATE INDEX customers_doc_idx ON app.customers USING gin (doc jsonb_path_ops);
CREATE INDEX customers_attrs_idx ON app.customers USING gist (attrs);
CREATE INDEX customers_name_idx ON app.customers USING hash (name);
CREATE STATISTICS app.orders_stats (dependencies) ON customer_id, placed FROM app.orders;
CREATE TABLE app.events (id bigint, at timestamptz NOT NULL, kind text, payload jsonb, PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
CREATE TABLE app.events_2025 PARTITION OF app.events FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2026-01-01 00:00:00+00');
CREATE TABLE app.events_other PARTITION OF app.events DEFAULT;
CREATE INDEX events_kind_idx ON app.events (kind);
CREATE TRIGGER events_guard BEFORE INSERT ON app.events FOR EACH ROW EXECUTE FUNCTION app.events_guard();
CREATE TABLE app.tenants (tenant text, id int, PRIMARY KEY (tenant, id)) PARTITION BY LIST (tenant);
CREATE TABLE app.tenants_a PARTITION OF app.tenants FOR VALUES IN ('a', 'A');
CREATE TABLE app.tenants_rest PARTITION OF app.tenants FOR VALUES IN ('b', 'c');
-- Hash partitions on an enum: the hash is of the label's OID, so rows land elsewhere on the other side.
CREATE TYPE app.color AS ENUM ('red', 'green', 'blue', 'cyan', 'magenta', 'yellow', 'black', 'white');
CREATE TABLE app.by_color (color app.color, id integer, PRIMARY KEY (color, id)) PARTITION BY HASH (color);
CREATE TABLE app.by_color_0 PARTITION OF app.by_color FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE app.by_color_1 PARTITION OF app.by_color FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE app.by_color_2 PARTITION OF app.by_color FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE app.by_color_3 PARTITION OF app.by_color FOR VALUES WITH (MODULUS 4, REMAINDER 3);
CREATE UNLOGGED TABLE app.cache (k text PRIMARY KEY, v text) WITH (fillfactor = 70);
CREATE TABLE app.log (line text, at timestamptz);
CREATE TABLE app.audit (what text, id integer);
CREATE TABLE app.parent_inh (id integer, note text);
CREATE TABLE app.child_inh (extra integer) INHERITS (app.parent_inh);
CREATE TABLE "Mixed Case"."Weird ""Name""" ("Col One" integer PRIMARY KEY, "select" text);
CREATE TABLE app.empty_table ();
CREATE TABLE app.dropped_col (id integer PRIMARY KEY, gone text, kept text);
ALTER TABLE app.dropped_col DROP COLUMN gone;
CREATE TABLE app.money_seq_user (id bigint DEFAULT nextval('app.counter') PRIMARY KEY, amount money);
CREATE VIEW app.big_spenders AS
  SELECT c.id, c.name, sum(o.total) AS spent, count(*) FILTER (WHERE o.total > 5) AS big_orders
  FROM app.customers c JOIN app.orders o ON o.customer_id = c.id
  WHERE c.mood <> 'sad' AND o.placed BETWEEN '2020-01-01' AND current_date
  GROUP BY c.id, c.name HAVING sum(o.total) > 100;
CREATE VIEW app.recent_orders WITH (security_barrier) AS
  SELECT * FROM (SELECT id, placed, total, CASE WHEN total > 10 THEN 'big' ELSE 'small' END AS size FROM app.orders) sub
  WHERE placed > '2021-01-01'::date UNION ALL SELECT 0, '2000-01-01', 0, 'none';
CREATE VIEW app.checked_orders AS SELECT id, placed, total FROM app.orders WHERE total > 0 WITH CASCADED CHECK OPTION;
CREATE VIEW app.json_view AS SELECT id, doc -> 'a' AS a, doc #>> '{b,c}' AS bc, attrs -> 'x' AS x FROM app.customers;
CREATE VIEW app.aliased AS SELECT o.id AS order_id, o.total * 2 AS doubled,
  (SELECT count(*) FROM app.customers c WHERE c.id = o.customer_id) AS n FROM app.orders o WHERE o.note LIKE 'order%';
CREATE VIEW app.cte_v AS WITH t AS (SELECT id FROM app.customers) SELECT id FROM t;
CREATE VIEW app.values_v AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s);
CREATE MATERIALIZED VIEW app.daily AS SELECT placed, count(*) AS orders, sum(total) AS total FROM app.orders GROUP BY placed;
CREATE UNIQUE INDEX daily_placed_idx ON app.daily (placed);
CREATE TRIGGER customers_touch BEFORE INSERT OR UPDATE OF name ON app.customers
  FOR EACH ROW WHEN (NEW.created IS NULL) EXECUTE FUNCTION app.touch();
ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_recent ON app.orders FOR SELECT TO PUBLIC USING (placed > '2000-01-01'::date);
CREATE POLICY orders_insert ON app.orders AS RESTRICTIVE FOR INSERT WITH CHECK (total < 1000000);
CREATE POLICY orders_mine ON app.orders FOR UPDATE USING (customer_id IN (SELECT id FROM app.customers WHERE mood = 'happy'));
CREATE RULE log_no_update AS ON UPDATE TO app.log DO INSTEAD NOTHING;
CREATE RULE orders_audit AS ON UPDATE TO app.orders WHERE old.total <> new.total
  DO ALSO INSERT INTO app.audit VALUES ('update', new.id);

INSERT INTO app.customers (email, name, mood, tags, attrs, doc, balance, score, ratio, created, dur, photo, pair, age,
  cash, ip, span, fspan, day, at_time, at_timetz, uid, flags, loc, words, grid, moods, pairs, big, ref) VALUES
 ('Ann@Example.com', 'Ann', 'happy', '{a,"b c",NULL,"d\"e","",","}', 'a=>1, "b c"=>NULL, é=>"ü"',
  '{"a": [1, 2.50, {"b": null}], "é": "snow ☃", "big": 12345678901234567890.123}', 12.5, 'NaN', '-0',
  '2024-02-29 12:34:56.789+05:30', '1 year 2 mons 3 days 04:05:06.789', '\x00ff10', '(1,"x, y",ok)', 42, 12.34,
  '192.168.0.1/24', '[1,10)', '[1e-300,Infinity)', '2024-02-29', '23:59:59.999999', '12:00:00+03',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', B'1011', '(1.5,-0)', 'the quick brown fox', '{{1,2},{3,4}}', '{sad,happy}',
  ARRAY[ROW(1,'a','ok')::app.pair, ROW(NULL,'(',NULL)::app.pair], 'NaN', 'app.orders'),
 ('bob@example.com', 'Bob (the) "builder"', 'sad', '{}', '', '[]', 0, '1e-300', '3.4028235e38', 'infinity',
  '-178000000 years', '', NULL, NULL, -1.5, '::1', 'empty', '(,)', 'infinity', '00:00', '00:00+00',
  '00000000-0000-0000-0000-000000000000', B'', '(0.1,0.2)', '', '{}', '{}', '{}',
  '-123456789012345678901234567890.000000000000000000001', 'pg_catalog.pg_class'),
 ('zoë@example.com', E'Zoë \\ backslash\nnewline\ttab 🐘', NULL, '{"🐘","ü"}', 'k=>v', '"just a string"', 99999.99,
  '-Infinity', 'NaN', '1970-01-01 00:00:00+00', '-1 days +02:00:00', '\x5c7827', '(,,)', 7, 0, '2001:db8::/32', '(,5]',
  NULL, '4713-01-01 BC', '24:00:00', '23:59:59-14:59', NULL, B'11111111', NULL, 'a:1A fat:2B,4C',
  '{{NULL,1},{2,NULL}}', NULL, NULL, 1e100, NULL),
 ('dan@example.com', 'Dan', 'ok', NULL, NULL, '{"z": 1, "a": 2, "m": {"y": true, "b": false}}', 1, 0.1, 0.1,
  '2025-06-01 00:00:00-07', '0', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, 0.30000000000000004, NULL);
INSERT INTO app.customers (email, name, created, score, balance)
  SELECT 'user' || g || '@example.com', 'user ' || g, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 hour',
    g / 7.0, g
  FROM generate_series(1, 2000) g;
INSERT INTO app.orders (customer_id, placed, total, status, note)
  SELECT 1 + g % 2004, DATE '2024-01-01' + g % 400, g * 1.25, '{ok,happy}', 'order ' || g FROM generate_series(1, 3000) g;
INSERT INTO app.events
  SELECT g, '2024-06-01 00:00:00+00'::timestamptz + g * interval '7 hours', CASE WHEN g % 3 = 0 THEN 'click' ELSE 'view' END,
    jsonb_build_object('g', g, 'sq', g * g)
  FROM generate_series(1, 2500) g;
INSERT INTO app.tenants SELECT t, g FROM unnest(ARRAY['a', 'A', 'b', 'c']) t, generate_series(1, 50) g;
INSERT INTO app.by_color SELECT (enum_range(NULL::app.color))[1 + g % 8], g FROM generate_series(1, 800) g;
INSERT INTO app.cache SELECT 'key' || g, repeat('v', g % 50) FROM generate_series(1, 300) g;
INSERT INTO app.log VALUES ('started', '2024-01-01 00:00:00+00'), ('started', '2024-01-01 00:00:00+00'), ('stopped', NULL);
INSERT INTO app.parent_inh VALUES (1, 'parent');
INSERT INTO app.child_inh VALUES (2, 'child', 20);
INSERT INTO "Mixed Case"."Weird ""Name""" VALUES (1, 'from'), (2, NULL);
INSERT INTO app.empty_table DEFAULT VALUES;
INSERT INTO app.dropped_col VALUES (1, 'kept');
INSERT INTO app.money_seq_user (amount) VALUES (1), (2), (3);
REFRESH MATERIALIZED VIEW app.daily;
SELECT setval('app.counter', 55);
SELECT lo_from_bytea(424242, convert_to('hello large object ☃', 'UTF8'));
SELECT lo_from_bytea(424243, '\x00010203'::bytea);
`

const VALIDATION_QUERIES = [
  'SELECT count(*) AS customers, sum(balance) AS balance FROM app.customers',
  'SELECT mood, count(*) FROM app.customers GROUP BY mood',
  'SELECT * FROM app.big_spenders;'
]

interface Bed {
  sourceUrl(database: string): string
  /** As the managed admin, never the superuser: what the action gets. */
  targetUrl(database: string): string
  createSource(database: string, sql: string): Promise<void>
  createTarget(database: string, sql: string): Promise<void>
  stop(): Promise<void>
}

/** The shared servers of the integration run. */
async function openBed(): Promise<Bed> {
  const testbed = loadTestbed()
  return {
    sourceUrl: testbed.sourceUrl,
    targetUrl: testbed.targetUrl,
    createSource: (database, sql) => testbed.createSourceDatabase(database, sql),
    async createTarget(database, sql) {
      await testbed.createTargetDatabase(database)
      await withClient(testbed.targetUrl(database), (client) => client.query(sql))
    },
    stop: async () => undefined
  }
}

function connector(url: string): () => Promise<pg.Client> {
  return async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    return client
  }
}

function options(overrides: Partial<FingerprintOptions> = {}): FingerprintOptions {
  return { level: 'full', jobs: 2, validationQueries: VALIDATION_QUERIES, ...overrides }
}

function unexpected(differences: Difference[]): Pick<Difference, 'kind' | 'object'>[] {
  return differences.filter((difference) => !difference.expected).map(({ kind, object }) => ({ kind, object }))
}

function tableOf(fingerprint: Fingerprint, name: string) {
  const table = fingerprint.tables.find((candidate) => `${candidate.schema}.${candidate.name}` === name)
  if (!table) throw new Error(`no table ${name} in the fingerprint`)
  return table
}

let bed: Bed

beforeAll(async () => {
  bed = await openBed()
})

afterAll(async () => {
  await bed?.stop()
})

describe('the same schema and data on 14 and on 17', () => {
  const db = uniqueName('fp_same')
  let source: Fingerprint
  let target: Fingerprint

  beforeAll(async () => {
    await Promise.all([bed.createSource(db, RICH_SQL), bed.createTarget(db, RICH_SQL)])
    ;[source, target] = await Promise.all([
      fingerprintDatabase(connector(bed.sourceUrl(db)), options()),
      fingerprintDatabase(connector(bed.targetUrl(db)), options())
    ])
  })

  test('fingerprint alike: no unexpected difference, owners and ACLs only as expected ones', () => {
    expect(source.serverVersion).toMatch(/^14\./)
    expect(target.serverVersion).toMatch(/^17\./)
    const comparison = compareFingerprints(source, target, { privileges: 'skip' })
    expect(unexpected(comparison.differences)).toEqual([])
    expect(comparison.passed).toBe(true)
    // Created by different roles, and public belongs to pg_database_owner from 15 on.
    expect(comparison.differences).toContainEqual(
      expect.objectContaining({
        kind: 'owner',
        object: 'table app.customers',
        source: 'postgres',
        target: 'admin',
        expected: true
      })
    )
    expect(comparison.differences).toContainEqual(
      expect.objectContaining({ kind: 'privileges', object: 'schema public', expected: true })
    )
  })

  test('rows placed in other hash partitions are expected when the tree holds the same rows', () => {
    const leaves = (fingerprint: Fingerprint) =>
      fingerprint.tables.filter((table) => table.partitionRoot?.name === 'by_color').map((table) => table.rows)
    expect(leaves(source).reduce((a, b) => a + b)).toBe(800)
    expect(leaves(target).reduce((a, b) => a + b)).toBe(800)
    const moved = compareFingerprints(source, target, { privileges: 'skip' }).differences.filter((difference) =>
      difference.object.startsWith('app.by_color_')
    )
    // Where rows land depends on the enum's OIDs on each server: often elsewhere, never a failure.
    for (const difference of moved) expect(difference).toMatchObject({ expected: true })
  })

  test('every table is checksummed: partitions and unlogged tables, not partitioned parents', () => {
    const names = source.tables.map((table) => `${table.schema}.${table.name}`)
    expect(names).toEqual(
      expect.arrayContaining([
        'app.events_2024',
        'app.events_other',
        'app.cache',
        'app.child_inh',
        'Mixed Case.Weird "Name"'
      ])
    )
    expect(names).not.toContain('app.events')
    expect(names).not.toContain('app.daily')
    expect(tableOf(source, 'app.customers')).toMatchObject({ rows: 2004, primaryKey: ['id'] })
    expect(tableOf(source, 'app.events_2024')).toMatchObject({
      primaryKey: ['id', 'at'],
      partitionRoot: { schema: 'app', name: 'events' }
    })
    expect(tableOf(source, 'app.customers').partitionRoot).toBeUndefined()
    expect(tableOf(source, 'app.parent_inh').rows).toBe(1)
    for (const table of source.tables) {
      // Hash partitions on an enum: see the test above.
      if (table.partitionRoot?.name !== 'by_color')
        expect(tableOf(target, `${table.schema}.${table.name}`)).toEqual(table)
    }
  })

  test('sequences, large objects and validation queries agree', () => {
    expect(source.sequences).toContainEqual({
      schema: 'app',
      name: 'counter',
      lastValue: '55',
      isCalled: true,
      increment: '5'
    })
    expect(target.sequences).toEqual(source.sequences)
    expect(source.largeObjects.count).toBe(2)
    // Created by each server's own login: their owners differ, their content does not.
    const content = ({ count, checksum }: { count: number; checksum: string | null }) => ({ count, checksum })
    expect(content(target.largeObjects)).toEqual(content(source.largeObjects))
    expect(source.queries.map((query) => query.error)).toEqual([undefined, undefined, undefined])
    expect(source.queries[0]).toMatchObject({ columns: ['customers', 'balance'], rowCount: 1 })
    expect(target.queries).toEqual(source.queries)
  })

  test('kept privileges turn owner and ACL differences into failures', () => {
    const comparison = compareFingerprints(source, target, { privileges: 'keep' })
    expect(comparison.passed).toBe(false)
    expect(
      comparison.differences.filter((difference) => !difference.expected).map((difference) => difference.kind)
    ).toEqual(expect.arrayContaining(['owner', 'privileges']))
  })

  test('level counts counts rows and skips checksums', async () => {
    const counted = await fingerprintDatabase(connector(bed.targetUrl(db)), options({ level: 'counts', jobs: 1 }))
    expect(counted.tables.every((table) => table.checksum === null)).toBe(true)
    expect(counted.largeObjects.checksum).toBeNull()
    expect(compareFingerprints(source, counted, { privileges: 'skip' }).passed).toBe(true)
  })
})

describe('a tampered target', () => {
  const db = uniqueName('fp_tamper')
  let source: Fingerprint
  let target: Fingerprint
  let differences: Difference[]

  beforeAll(async () => {
    await Promise.all([bed.createSource(db, RICH_SQL), bed.createTarget(db, RICH_SQL)])
    await withClient(bed.targetUrl(db), (client) =>
      client.query(`
        DELETE FROM app.orders WHERE id = 10;
        UPDATE app.customers SET score = 0.5 WHERE id = 3;
        UPDATE app.events SET payload = '{}' WHERE id = 2000;
        UPDATE app.tenants SET id = 51 WHERE tenant = 'b' AND id = 50;
        SELECT setval('app.counter', 60);
        DROP INDEX app.orders_placed_idx;
        ALTER TABLE app.cache ALTER COLUMN v TYPE varchar(100);
        INSERT INTO app.log SELECT * FROM app.log WHERE line = 'stopped';
        SELECT lo_unlink(424243);
        DROP VIEW app.big_spenders;`)
    )
    ;[source, target] = await Promise.all([
      fingerprintDatabase(connector(bed.sourceUrl(db)), options()),
      fingerprintDatabase(connector(bed.targetUrl(db)), options())
    ])
    differences = compareFingerprints(source, target, { privileges: 'skip' }).differences
  })

  test('every change is reported, and nothing else', () => {
    expect(unexpected(differences)).toEqual([
      { kind: 'missing', object: 'index app.orders_placed_idx' },
      { kind: 'missing', object: 'view app.big_spenders' },
      { kind: 'definition', object: 'column app.cache.v' },
      { kind: 'rows', object: 'app.log' },
      { kind: 'rows', object: 'app.orders' },
      { kind: 'checksum', object: 'app.customers' },
      { kind: 'checksum', object: 'app.events_other' },
      { kind: 'checksum', object: 'app.tenants_rest' },
      { kind: 'sequence', object: 'app.counter' },
      { kind: 'large-objects', object: 'large objects' },
      { kind: 'query', object: 'SELECT * FROM app.big_spenders;' }
    ])
    expect(differences).toContainEqual(
      expect.objectContaining({
        kind: 'rows',
        object: 'app.orders',
        source: 3000,
        target: 2999,
        table: { schema: 'app', name: 'orders' }
      })
    )
    expect(differences).toContainEqual(expect.objectContaining({ kind: 'sequence', source: '55', target: '60' }))
    expect(differences).toContainEqual(
      expect.objectContaining({
        kind: 'definition',
        source: 'text',
        target: 'character varying(100)'
      })
    )
    expect(differences.find((difference) => difference.kind === 'query')?.detail).toMatch(
      /failed on the target: relation "app.big_spenders" does not exist/
    )
  })

  test.each([
    ['app.orders', {}, ['10']],
    ['app.customers', {}, ['3']],
    ['app.events_other', {}, ['(2000, 2026-01-05 08:00:00+00)']],
    ['app.tenants_rest', {}, ['(b, 50)', '(b, 51)']],
    // One row per leaf: every split of the bisection runs.
    ['app.orders', { leafRows: 1 }, ['10']],
    ['app.customers', { leafRows: 1 }, ['3']],
    ['app.log', {}, []]
  ])('locateDifferingRows(%s, %j) names %j', async (name, extra, keys) => {
    const located = await locateDifferingRows(
      connector(bed.sourceUrl(db)),
      connector(bed.targetUrl(db)),
      tableOf(source, name),
      extra
    )
    expect(located).toEqual(keys)
  })

  test('a limit caps the keys', async () => {
    await withClient(bed.targetUrl(db), (client) =>
      client.query("UPDATE app.events SET kind = kind || '!' WHERE id BETWEEN 100 AND 120")
    )
    const table = tableOf(source, 'app.events_2024')
    const located = await locateDifferingRows(connector(bed.sourceUrl(db)), connector(bed.targetUrl(db)), table, {
      limit: 3,
      leafRows: 4
    })
    expect(located).toEqual([
      '(100, 2024-06-30 04:00:00+00)',
      '(101, 2024-06-30 11:00:00+00)',
      '(102, 2024-06-30 18:00:00+00)'
    ])
  })
})

describe('the checksum', () => {
  const db = uniqueName('fp_checksum')
  const fingerprintOf = async (): Promise<Fingerprint> =>
    fingerprintDatabase(connector(bed.sourceUrl(db)), options({ validationQueries: [], jobs: 1 }))
  const checksum = (fingerprint: Fingerprint): string | null => tableOf(fingerprint, 'public.t').checksum
  const change = (sql: string) => withClient(bed.sourceUrl(db), (client) => client.query(sql))

  beforeAll(async () => {
    await bed.createSource(db, "CREATE TABLE t (a int, b text); INSERT INTO t VALUES (1, 'x'), (2, 'y'), (2, 'y')")
  })

  test('changes with a value, a deleted row, a duplicated row, values swapped between rows', async () => {
    const seen = [checksum(await fingerprintOf())]
    for (const sql of [
      "UPDATE t SET b = 'z' WHERE a = 1",
      'DELETE FROM t WHERE a = 1',
      "INSERT INTO t VALUES (2, 'y')", // a third copy: xor of the hashes would be back where it was
      "INSERT INTO t VALUES (3, 'q'), (4, 'p')",
      "UPDATE t SET b = CASE b WHEN 'q' THEN 'p' ELSE 'q' END WHERE a IN (3, 4)"
    ]) {
      await change(sql)
      seen.push(checksum(await fingerprintOf()))
    }
    expect(new Set(seen).size).toBe(seen.length)
  })

  test('does not depend on the session: other DateStyle, TimeZone, float digits, bytea output set for the role', async () => {
    await change(`
      CREATE TABLE s (at timestamptz, f float8, b bytea, i interval);
      INSERT INTO s VALUES ('2024-01-01 12:00:00+00', 0.1, '\\x0102', '1 day 2 hours')`)
    const before = tableOf(await fingerprintOf(), 'public.s').checksum
    await change(`ALTER DATABASE ${quoteIdent(db)} SET DateStyle = 'German'; ALTER DATABASE ${quoteIdent(db)} SET TimeZone = 'Asia/Kolkata';
      ALTER DATABASE ${quoteIdent(db)} SET extra_float_digits = -3; ALTER DATABASE ${quoteIdent(db)} SET bytea_output = 'escape';
      ALTER DATABASE ${quoteIdent(db)} SET IntervalStyle = 'sql_standard'`)
    const { rows } = await change('SELECT at::text, f::text FROM s')
    expect(rows).toEqual([{ at: '01.01.2024 17:30:00 IST', f: '0.1' }])
    expect(tableOf(await fingerprintOf(), 'public.s').checksum).toBe(before)
  })
})

describe('a table split across sessions by block range', () => {
  const db = uniqueName('fp_split')
  beforeAll(async () => {
    await bed.createSource(
      db,
      `CREATE TABLE plain (id int, note text);
       INSERT INTO plain SELECT i, md5(i::text) FROM generate_series(1, 20000) i;
       CREATE TABLE typed (id int, mood text[]);
       INSERT INTO typed SELECT i, ARRAY[md5(i::text)] FROM generate_series(1, 20000) i;
       DELETE FROM plain WHERE id % 7 = 0`
    )
  })

  test('adds up to the whole table: rows and checksum, record and text method alike', async () => {
    const whole = await fingerprintDatabase(connector(bed.sourceUrl(db)), options({ validationQueries: [], jobs: 1 }))
    const split = await fingerprintDatabase(
      connector(bed.sourceUrl(db)),
      options({ validationQueries: [], jobs: 3, splitMinBytes: 1 })
    )
    expect(tableOf(whole, 'public.plain').hash).toBe('record-by-name')
    expect(tableOf(whole, 'public.typed').hash).toBe('text-by-name')
    expect(tableOf(whole, 'public.plain').rows).toBe(20000 - 2857)
    expect(split.tables).toEqual(whole.tables)
  })
})

describe('validation queries', () => {
  const db = uniqueName('fp_queries')
  beforeAll(async () => {
    await bed.createSource(db, 'CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 10)')
  })

  test('run read-only, one statement each, with a timeout; failures are recorded, not thrown', async () => {
    const fingerprint = await fingerprintDatabase(
      connector(bed.sourceUrl(db)),
      options({
        validationQueries: [
          'SELECT a FROM t WHERE a > 5',
          'DELETE FROM t RETURNING a',
          'SELECT 1; DELETE FROM t',
          'SELECT pg_sleep(5)',
          'SELECT count(*) FROM t'
        ],
        queryTimeoutMs: 300
      })
    )
    const [selected, deleted, twoStatements, slow, counted] = fingerprint.queries
    expect(selected).toMatchObject({ columns: ['a'], rowCount: 5 })
    expect(selected.error).toBeUndefined()
    expect(deleted.error).toMatch(/read-only transaction/)
    expect(twoStatements.error).toMatch(/multiple commands/)
    expect(slow.error).toMatch(/statement timeout/)
    expect(counted).toMatchObject({ rowCount: 1, columns: ['count'] })
    expect(counted.error).toBeUndefined()
  })
})

describe('inside an exported snapshot', () => {
  const db = uniqueName('fp_snapshot')
  beforeAll(async () => {
    await bed.createSource(
      db,
      'CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t (v) SELECT g::text FROM generate_series(1, 100) g'
    )
  })

  test('every connection sees the data as of the snapshot, not the rows inserted since', async () => {
    const holder = await connector(bed.sourceUrl(db))()
    try {
      await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
      const { rows } = await holder.query<{ id: string }>('SELECT pg_export_snapshot() AS id')
      await withClient(bed.sourceUrl(db), (client) =>
        client.query("INSERT INTO t (v) SELECT 'late' FROM generate_series(1, 25)")
      )
      const [inSnapshot, now] = await Promise.all([
        fingerprintDatabase(
          connector(bed.sourceUrl(db)),
          options({ snapshot: rows[0].id, jobs: 3, validationQueries: ['SELECT count(*) FROM t'] })
        ),
        fingerprintDatabase(connector(bed.sourceUrl(db)), options({ validationQueries: ['SELECT count(*) FROM t'] }))
      ])
      expect(inSnapshot.snapshot).toBe(rows[0].id)
      expect(tableOf(inSnapshot, 'public.t').rows).toBe(100)
      expect(tableOf(now, 'public.t').rows).toBe(125)
      expect(inSnapshot.queries[0].checksum).not.toBe(now.queries[0].checksum)
      // Sequences are not transactional: the snapshot does not hold them back.
      expect(inSnapshot.sequences).toEqual(now.sequences)
    } finally {
      await holder.query('ROLLBACK')
      await holder.end()
    }
  })
})
