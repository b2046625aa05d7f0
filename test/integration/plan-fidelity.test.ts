// The plan against the real restore (see plan-oracle.ts): what any role may create must restore as
// the 17 target's managed-style admin with no blocker, and the warnings must describe what the
// restore really does. The blockers are in plan-blockers.test.ts.
import { admin, errors, judge, plan, sourceDatabase, targetDatabase } from '../support/plan-oracle.js'
import { restoreAsAdmin } from '../support/restore-as-admin.js'
import { serverUrl, withClient } from '../support/servers.js'
import { loadTestbedState } from '../support/testbed.js'

const { source, target } = loadTestbedState()

describe('no false blockers: what any role may create restores as the admin, and the plan agrees', () => {
  test('user-defined aggregates with a plain state (their prolang is internal)', async () => {
    const verdict = await judge(`
      CREATE AGGREGATE my_sum(int) (SFUNC = int4pl, STYPE = int);
      CREATE AGGREGATE my_msum(int) (SFUNC = int4pl, STYPE = int, MSFUNC = int4pl, MINVFUNC = int4mi, MSTYPE = int);
      CREATE FUNCTION add_text(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1 || $2';
      CREATE AGGREGATE concat_all(text) (SFUNC = add_text, STYPE = text, INITCOND = '');
      CREATE FUNCTION greater_of(anyelement, anyelement) RETURNS anyelement LANGUAGE sql AS 'SELECT greatest($1, $2)';
      CREATE AGGREGATE my_max(anyelement) (SFUNC = greater_of, STYPE = anyelement);
      CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2);
      CREATE VIEW totals AS SELECT my_sum(n), concat_all(n::text), my_max(n) FROM t;
      CREATE VIEW running AS SELECT my_msum(n) OVER (ORDER BY n) FROM t;`)
    expect(verdict.blockers).toEqual({})
    expect(errors(verdict)).toEqual([])
  })

  test('a range type, its multirange and the constructor functions CREATE TYPE makes for both', async () => {
    const verdict = await judge(`
      CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
      CREATE TABLE readings (span floatrange, spans floatmultirange);
      INSERT INTO readings VALUES (floatrange(1, 2), floatmultirange(floatrange(1, 2), floatrange(3, 4)));`)
    expect(verdict.blockers).toEqual({})
    expect(errors(verdict)).toEqual([])
  })

  test('everything else a database owner may create, implicit companions included', async () => {
    const verdict = await judge(`
      CREATE EXTENSION citext;
      CREATE SCHEMA app;
      CREATE TYPE app.mood AS ENUM ('sad', 'happy');
      CREATE TYPE app.pair AS (a int, b text);
      CREATE DOMAIN app.positive AS int CHECK (VALUE > 0);
      CREATE TABLE app.people (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, serial_no serial UNIQUE, name citext,
        mood app.mood, pair app.pair, moods app.mood[], score app.positive, note text,
        EXCLUDE USING btree (note WITH =));
      INSERT INTO app.people (name, mood, pair, moods, score, note)
        VALUES ('Ann', 'happy', (1, 'x'), '{sad}', 3, repeat('long text ', 1000));
      CREATE TABLE app.events (at date, person int REFERENCES app.people) PARTITION BY RANGE (at);
      CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      CREATE INDEX ON app.events (person);
      CREATE TABLE app.orders (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE app.orders_2026 PARTITION OF app.orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      CREATE TABLE app.lines (order_id int, at date, FOREIGN KEY (order_id, at) REFERENCES app.orders) PARTITION BY RANGE (at);
      CREATE TABLE app.lines_2026 PARTITION OF app.lines FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      INSERT INTO app.orders VALUES (1, '2026-05-01'); INSERT INTO app.lines VALUES (1, '2026-05-01');
      CREATE TABLE app.base (id int CHECK (id > 0)); CREATE TABLE app.derived (extra int) INHERITS (app.base);
      CREATE FUNCTION app.mood_to_int(app.mood) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1';
      CREATE CAST (app.mood AS int) WITH FUNCTION app.mood_to_int(app.mood);
      CREATE CAST (app.pair AS text) WITH INOUT;
      CREATE OPERATOR app.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq);
      CREATE COLLATION app.c_coll (provider = libc, locale = 'C');
      CREATE CONVERSION app.latin_utf8 FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8;
      CREATE TEXT SEARCH DICTIONARY app.simple_dict (TEMPLATE = simple);
      CREATE TEXT SEARCH CONFIGURATION app.cfg (COPY = english);
      CREATE STATISTICS app.people_stats ON mood, score FROM app.people;
      CREATE MATERIALIZED VIEW app.moods AS SELECT mood, count(*) FROM app.people GROUP BY mood;
      CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS 'begin return new; end';
      CREATE TRIGGER touch BEFORE INSERT ON app.events FOR EACH ROW EXECUTE FUNCTION app.touch();
      CREATE FUNCTION app.slow() RETURNS int LANGUAGE sql SET work_mem = '64MB' AS 'SELECT 1';
      CREATE PROCEDURE app.noop() LANGUAGE sql AS 'SELECT 1';
      CREATE RULE keep AS ON DELETE TO app.base DO INSTEAD NOTHING;
      ALTER TABLE app.people ENABLE ROW LEVEL SECURITY;
      CREATE POLICY everyone ON app.people USING (true);
      SELECT lo_from_bytea(0, 'large object');`)
    expect(verdict.blockers).toEqual({})
    expect(errors(verdict)).toEqual([])
  })

  test('a search-path-dependent function that the restore does not evaluate: a check on an empty table, an unpopulated view', async () => {
    const verdict = await judge(`
      CREATE FUNCTION helper(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n + 1';
      CREATE FUNCTION wrap(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT helper(n)';
      CREATE TABLE empty (a int CHECK (wrap(a) > 0));
      CREATE DOMAIN checked AS int CHECK (wrap(VALUE) > 0);
      CREATE TABLE also_empty (c checked);
      CREATE MATERIALIZED VIEW later AS SELECT wrap(a) FROM empty WITH NO DATA;`)
    expect(verdict.blockers).toEqual({})
    expect(verdict.warnings['function-search-path-unverified']).toEqual([
      expect.stringMatching(
        /^public\.wrap\(n integer\) \(sql: function helper\(integer\) does not exist\).*does not evaluate/
      )
    ])
    expect(errors(verdict)).toEqual([])
  })
})

test('no false blocker: a foreign server on an installed wrapper the admin was granted USAGE on', async () => {
  const verdict = await judge(
    `CREATE EXTENSION postgres_fdw; CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw;`,
    'CREATE EXTENSION postgres_fdw; GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO admin'
  )
  expect(verdict.blockers).toEqual({})
  expect(errors(verdict)).toEqual([])
})

describe('warnings that describe the restore', () => {
  /** Every user table's columns in physical order, as `table: a, b`. */
  async function columnOrders(url: string): Promise<Record<string, string>> {
    const { rows } = await withClient(url, (c) =>
      c.query<{ name: string; columns: string }>(
        `SELECT format('%I.%I', n.nspname, c.relname) AS name, string_agg(a.attname, ', ' ORDER BY a.attnum) AS columns
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' GROUP BY 1 ORDER BY 1`
      )
    )
    return Object.fromEntries(rows.map((row) => [row.name, row.columns]))
  }

  test('inheritance children whose column order pg_dump cannot keep: the plan names them and predicts the restored order', async () => {
    const db = await sourceDatabase(`
      CREATE TABLE parent (a int, b int); CREATE TABLE child (c int) INHERITS (parent);
      ALTER TABLE parent ADD COLUMN d int;
      CREATE TABLE p2 (x int, y int); CREATE TABLE c2 (y int, z int, x int) INHERITS (p2);
      CREATE TABLE p3 (a int, b int); CREATE TABLE c3 (b int, a int, extra int); ALTER TABLE c3 INHERIT p3;
      CREATE TABLE ma (m1 int, shared int); CREATE TABLE mb (m2 int, shared int);
      CREATE TABLE mc (own int) INHERITS (ma, mb); ALTER TABLE ma ADD COLUMN m3 int;
      CREATE TABLE g1 (a int); CREATE TABLE g2 (b int) INHERITS (g1); CREATE TABLE g3 (c int) INHERITS (g2);
      ALTER TABLE g1 ADD COLUMN z int;
      CREATE TABLE p4 (a int, gone int, b int); CREATE TABLE c4 () INHERITS (p4); ALTER TABLE p4 DROP COLUMN gone;
      CREATE TABLE pt (k int, v text) PARTITION BY RANGE (k);
      CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (0) TO (10);
      ALTER TABLE pt ADD COLUMN w int;
      CREATE TABLE pt2 (v text, w int, k int); ALTER TABLE pt ATTACH PARTITION pt2 FOR VALUES FROM (10) TO (20);
      INSERT INTO child VALUES (1, 2, 3, 4);`)
    const targetDb = await targetDatabase()
    const findings = await plan(db, targetDb)
    const warning = findings.find((f) => f.id === 'inheritance-column-order')
    expect(warning).toMatchObject({
      severity: 'warning',
      objects: [
        'public.c3 (b, a, extra → a, b, extra)',
        'public.child (a, b, c, d → a, b, d, c)',
        'public.g2 (a, b, z → a, z, b)',
        'public.g3 (a, b, c, z → a, z, b, c)',
        'public.mc (m1, shared, m2, own, m3 → m1, shared, m3, m2, own)'
      ]
    })
    expect(warning?.hint).toContain('positional INSERT … VALUES')
    expect(warning?.hint).toContain('SELECT *')

    const { failures } = await restoreAsAdmin(db, targetDb)
    expect(failures).toEqual([])
    const [before, after] = await Promise.all([
      columnOrders(serverUrl(source, db)),
      columnOrders(serverUrl(target, targetDb, admin))
    ])
    const predicted = { ...before }
    for (const object of warning?.objects ?? []) {
      const [, table, from, to] = /^(\S+) \((.*) → (.*)\)$/.exec(object) ?? []
      expect(before[table]).toBe(from)
      predicted[table] = to
    }
    // Every table, named or not, is where the plan said: partitions and the others keep their order.
    expect(after).toEqual(predicted)
    const moved = await withClient(serverUrl(target, targetDb, admin), (c) => c.query('SELECT * FROM child'))
    expect(moved.fields.map((f) => f.name)).toEqual(['a', 'b', 'd', 'c'])
  })
})

test("an extension's own comment changed on the source is named as lost: the restore leaves COMMENT ON EXTENSION out", async () => {
  const changed = await judge(`CREATE EXTENSION citext; COMMENT ON EXTENSION citext IS 'case-blind names, see wiki'`)
  expect(changed.warnings['extension-comment-not-migrated']).toEqual(['citext'])
  expect(errors(changed)).toEqual([])
  const { rows } = await withClient(serverUrl(target, changed.targetDb, admin), (c) =>
    c.query(`SELECT obj_description(oid, 'pg_extension') AS comment FROM pg_extension WHERE extname = 'citext'`)
  )
  expect(rows[0].comment).toBe('data type for case-insensitive character strings')
  const unchanged = await judge('CREATE EXTENSION citext')
  expect(unchanged.warnings['extension-comment-not-migrated']).toBeUndefined()
})
