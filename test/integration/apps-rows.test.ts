import { fillRows } from '../../scripts/corpus/apps-rows.js'
import { loadTestbed, tableDigests, uniqueName, withClient } from '../support/testbed.js'

// The application corpus's row generator: rows that satisfy a schema's constraints (the corpus wants a
// faithful copy of valid data), in every table, the same on every run.
const testbed = loadTestbed()

const SCHEMA = `
  CREATE SCHEMA shop;
  CREATE TYPE shop.mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN shop.percent AS int CHECK (VALUE BETWEEN 0 AND 100);
  CREATE TABLE shop.customer (id serial PRIMARY KEY, email varchar(40) NOT NULL UNIQUE, mood shop.mood NOT NULL,
    referrer int REFERENCES shop.customer, discount shop.percent, digest bytea NOT NULL CHECK (length(digest) = 20));
  CREATE TABLE shop.orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES shop.customer,
    status varchar(20) NOT NULL CHECK (status IN ('new', 'paid', 'shipped')), code char(1) CHECK (code IN ('A', 'B')),
    total numeric(8, 2) NOT NULL, placed timestamptz NOT NULL DEFAULT now(), tags text[], doc jsonb, UNIQUE (customer_id, id));
  CREATE TABLE shop.line (order_id bigint NOT NULL, customer_id int NOT NULL, n int2 NOT NULL, sku uuid NOT NULL,
    PRIMARY KEY (order_id, n), FOREIGN KEY (customer_id, order_id) REFERENCES shop.orders (customer_id, id));
  CREATE TABLE shop.queue (name text PRIMARY KEY);
  INSERT INTO shop.queue VALUES ('email'), ('billing');
  CREATE TABLE shop.job (id int GENERATED ALWAYS AS IDENTITY, name text NOT NULL, at date) PARTITION BY LIST (name);
  CREATE TABLE shop.job_rest PARTITION OF shop.job (CONSTRAINT q_fkey FOREIGN KEY (name) REFERENCES shop.queue) DEFAULT;
  CREATE TABLE shop.counter (id serial PRIMARY KEY);
  CREATE FUNCTION shop.no_sad() RETURNS trigger LANGUAGE plpgsql AS
    $$BEGIN IF NEW.mood = 'sad' THEN RAISE EXCEPTION 'no sad customers'; END IF; RETURN NEW; END$$;
  CREATE TRIGGER no_sad BEFORE INSERT ON shop.customer FOR EACH ROW EXECUTE FUNCTION shop.no_sad();
`

const ROWS = 60
const [first, second] = [uniqueName('approws'), uniqueName('approws')]
let filled: { tables: number; rows: number; emptyTables: string[] }

beforeAll(async () => {
  for (const db of [first, second]) await testbed.createSourceDatabase(db, SCHEMA)
  filled = await withClient(testbed.sourceUrl(first), (client) =>
    fillRows(client, { rowsPerTable: ROWS, seed: 'shop' })
  )
  await withClient(testbed.sourceUrl(second), (client) => fillRows(client, { rowsPerTable: ROWS, seed: 'shop' }))
})

afterAll(async () => {
  for (const db of [first, second]) await testbed.query('source', 'postgres', `DROP DATABASE IF EXISTS ${db}`)
})

test('every table gets rows, up to the number asked, rows a constraint or trigger rejects left out', async () => {
  expect(filled.emptyTables).toEqual([])
  const counts = await testbed.query(
    'source',
    first,
    `SELECT (SELECT count(*) FROM shop.customer) AS customer, (SELECT count(*) FROM shop.orders) AS orders,
            (SELECT count(*) FROM shop.line) AS line, (SELECT count(*) FROM shop.job) AS job,
            (SELECT count(*) FROM shop.counter) AS counter, (SELECT count(*) FROM shop.customer WHERE mood = 'sad') AS sad`
  )
  const row = counts.rows[0]
  for (const table of ['customer', 'orders', 'line', 'job']) {
    expect(Number(row[table])).toBeGreaterThan(ROWS / 4)
    expect(Number(row[table])).toBeLessThanOrEqual(ROWS)
  }
  expect(Number(row.counter)).toBe(ROWS)
  expect(Number(row.sad)).toBe(0)
})

test("values come from the CHECK's list, the enum's labels and the referenced rows", async () => {
  const { rows } = await testbed.query(
    'source',
    first,
    `SELECT array_agg(DISTINCT status ORDER BY status) AS statuses, count(DISTINCT customer_id) > 1 AS spread
       FROM shop.orders`
  )
  expect(rows[0].statuses).toEqual(['new', 'paid', 'shipped'])
  expect(rows[0].spread).toBe(true)
  const referrers = await testbed.query(
    'source',
    first,
    'SELECT count(*) AS n FROM shop.customer WHERE referrer IS NOT NULL'
  )
  expect(Number(referrers.rows[0].n)).toBeGreaterThan(0)
})

test('the same seed gives the same rows', async () => {
  expect(await tableDigests(testbed.sourceUrl(second))).toEqual(await tableDigests(testbed.sourceUrl(first)))
})
