// Migrating part of a database: each filter input alone and together, through the real flows
// in-process (real servers, real pg_dump and pg_restore), checked on the target by the test's own
// queries; patterns that match nothing and a foreign key to a table left out stop the run before
// anything is written; a restore restores and verifies exactly the scope its dump recorded.
import fs from 'node:fs'
import path from 'node:path'
import { runInProcess, type InProcessRun } from '../support/in-process.js'
import { loadTestbed, uniqueName, withClient } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'

const testbed = loadTestbed()
const scratch = scratchFolder('scope-')
const source = uniqueName('scoped')

const SHOP = `
  CREATE EXTENSION citext;
  CREATE SCHEMA app; CREATE SCHEMA audit;
  CREATE TABLE app.customers (id serial PRIMARY KEY, email citext);
  CREATE TABLE app.orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id int REFERENCES app.customers, total numeric(10, 2));
  CREATE TABLE app.events (id bigserial PRIMARY KEY, payload text);
  CREATE TABLE app.scratch (x int);
  CREATE VIEW app.big_orders AS SELECT * FROM app.orders WHERE total > 100;
  CREATE FUNCTION app.tax(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 0.2';
  CREATE TABLE audit.log (id bigserial PRIMARY KEY, what text);
  CREATE TABLE public.settings (k text PRIMARY KEY, v text);
  INSERT INTO app.customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 200) g;
  INSERT INTO app.orders (customer_id, total) SELECT 1 + g % 200, g FROM generate_series(1, 2000) g;
  INSERT INTO app.events (payload) SELECT md5(g::text) FROM generate_series(1, 3000) g;
  INSERT INTO app.scratch SELECT generate_series(1, 10);
  INSERT INTO audit.log (what) SELECT 'did ' || g FROM generate_series(1, 500) g;
  INSERT INTO public.settings VALUES ('a', 'b');
  SELECT lo_create(0);`

beforeAll(() => testbed.createSourceDatabase(source, SHOP))

const env = { PGBIN: testbed.clientBinDir }

function migrate(target: string, extra: Record<string, string>): Record<string, string> {
  return {
    'source-url': testbed.sourceUrl(source),
    'target-url': testbed.targetUrl(target),
    jobs: '2',
    'upload-artifact': 'false',
    'dump-path': path.join(scratch, uniqueName('dump')),
    ...extra
  }
}

/** The target's relations with their row counts (tables) or kind, by the test's own reading. */
async function relations(database: string): Promise<Record<string, string>> {
  return withClient(testbed.targetSuperUrl(database), async (client) => {
    const { rows } = await client.query<{ name: string; kind: string }>(
      `SELECT n.nspname || '.' || c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'v', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
        ORDER BY 1`
    )
    const found: Record<string, string> = {}
    for (const { name, kind } of rows) {
      if (kind !== 'r') found[name] = kind === 'v' ? 'view' : 'sequence'
      else found[name] = String((await client.query(`SELECT count(*)::int AS n FROM ${name}`)).rows[0].n)
    }
    return found
  })
}

async function functionsAndSchemas(database: string): Promise<string[]> {
  const { rows } = await testbed.query(
    'target',
    database,
    `SELECT 'schema ' || nspname AS o FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
     UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'app'
     UNION ALL SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql'
     UNION ALL SELECT 'large objects ' || count(*) FROM pg_largeobject_metadata
     ORDER BY 1`
  )
  return rows.map((row: { o: string }) => row.o)
}

async function targetExists(name: string): Promise<boolean> {
  const { rowCount } = await testbed.query('target', 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${name}'`)
  return Boolean(rowCount)
}

function passed(run: InProcessRun) {
  return {
    failed: run.failed,
    result: run.report.result,
    errors: run.errors,
    verified: run.report.databases[0]?.comparison?.passed
  }
}
const PASSED = { failed: undefined, result: 'passed', errors: [], verified: true }

const APP = {
  'app.big_orders': 'view',
  'app.customers': '200',
  'app.customers_id_seq': 'sequence',
  'app.events': '3000',
  'app.events_id_seq': 'sequence',
  'app.orders': '2000',
  'app.orders_id_seq': 'sequence',
  'app.scratch': '10'
}

describe('each filter moves what pg_dump would, and the verify compares just that', () => {
  test('schemas: one schema, its objects, and the extension its tables use (made first on the target)', async () => {
    const target = uniqueName('schemas')
    const run = await runInProcess(migrate(target, { schemas: 'app' }), { env })
    expect(passed(run)).toEqual(PASSED)
    expect(await relations(target)).toEqual(APP)
    expect(await functionsAndSchemas(target)).toEqual([
      'extension citext',
      'function tax',
      'large objects 0',
      'schema app',
      'schema public'
    ])
    expect(run.summary).toContain('**Scope:** only what these filters select moved (schemas: app).')
    expect(run.summary).toMatch(/schema audit \| not in schemas/)
    expect(run.summary).toMatch(/large objects, the database settings and objects outside schemas .* schemas given/)
    expect(run.summary).toContain(
      'Created on the target before the restore, as the moving objects need them: extension citext.'
    )
    expect(run.report.databases[0].scope?.prerequisites.extensions).toEqual([{ name: 'citext', schema: 'public' }])
  })

  test('exclude-schemas: the rest moves, with what a whole dump carries (extensions, large objects)', async () => {
    const target = uniqueName('noaudit')
    const run = await runInProcess(migrate(target, { 'exclude-schemas': 'audit' }), { env })
    expect(passed(run)).toEqual(PASSED)
    expect(await relations(target)).toEqual({ ...APP, 'public.settings': '1' })
    expect(await functionsAndSchemas(target)).toEqual([
      'extension citext',
      'function tax',
      'large objects 1',
      'schema app',
      'schema public'
    ])
    expect(run.summary).toMatch(/schema audit \| exclude-schemas: audit/)
  })

  test('tables: the tables and their sequences, in their schema made for them; no view, function or other table', async () => {
    const target = uniqueName('tables')
    const run = await runInProcess(migrate(target, { tables: 'app.customers, app.orders' }), { env })
    expect(passed(run)).toEqual(PASSED)
    expect(await relations(target)).toEqual({
      'app.customers': '200',
      'app.customers_id_seq': 'sequence',
      'app.orders': '2000',
      'app.orders_id_seq': 'sequence'
    })
    expect(await functionsAndSchemas(target)).toEqual([
      'extension citext',
      'large objects 0',
      'schema app',
      'schema public'
    ])
    expect(run.summary).toMatch(/every other table, and all functions, types, domains and statistics \| tables given/)
  })

  test('exclude-tables: the table is left out, the rest of its schema moves', async () => {
    const target = uniqueName('noscratch')
    const run = await runInProcess(migrate(target, { 'exclude-tables': 'app.scratch' }), { env })
    expect(passed(run)).toEqual(PASSED)
    const { 'app.scratch': left, ...moved } = {
      ...APP,
      'public.settings': '1',
      'audit.log': '500',
      'audit.log_id_seq': 'sequence'
    }
    expect(left).toBe('10')
    expect(await relations(target)).toEqual(moved)
    expect(run.summary).toMatch(/table app.scratch \| exclude-tables: app.scratch/)
  })

  test('exclude-table-data: the table moves empty and is compared by its definition, not its rows', async () => {
    const target = uniqueName('nodata')
    const run = await runInProcess(migrate(target, { 'exclude-table-data': 'app.events' }), { env })
    expect(passed(run)).toEqual(PASSED)
    expect((await relations(target))['app.events']).toBe('0')
    const database = run.report.databases[0]
    expect(database.targetFingerprint?.tables.map((t) => `${t.schema}.${t.name}`)).not.toContain('app.events')
    expect(database.targetFingerprint?.inventory.some((o) => o.name === 'app.events' && o.kind === 'table')).toBe(true)
    expect(run.summary).toMatch(
      /the rows of table app.events \| exclude-table-data: app.events \(its definition moves and is compared, its rows not\)/
    )
  })

  test('all together, comma and newline separated', async () => {
    const target = uniqueName('together')
    const run = await runInProcess(
      migrate(target, {
        schemas: 'app\naudit',
        'exclude-tables': 'app.scratch',
        'exclude-table-data': 'app.events, audit.*'
      }),
      { env }
    )
    expect(passed(run)).toEqual(PASSED)
    const moved: Record<string, string> = { ...APP }
    delete moved['app.scratch']
    expect(await relations(target)).toEqual({
      ...moved,
      'app.events': '0',
      'audit.log': '0',
      'audit.log_id_seq': 'sequence'
    })
  })

  test('validate compares only what the filters select', async () => {
    const target = uniqueName('validated')
    expect(passed(await runInProcess(migrate(target, { schemas: 'app' }), { env }))).toEqual(PASSED)
    const inputs = {
      mode: 'validate',
      'source-url': testbed.sourceUrl(source),
      'target-url': testbed.targetUrl(target)
    }
    expect(passed(await runInProcess({ ...inputs, schemas: 'app' }, { env }))).toEqual(PASSED)
    const whole = await runInProcess(inputs, { env })
    expect(whole.report.databases[0].comparison?.differences.filter((d) => !d.expected).map((d) => d.object)).toEqual(
      expect.arrayContaining(['schema audit', 'table audit.log'])
    )
  })
})

describe('filters that cannot work stop the run before anything is written', () => {
  test.each([
    [
      'tables',
      'app.ordrs',
      /^tables pattern "app.ordrs" matches no table, view, sequence or foreign table in database scoped_/
    ],
    ['exclude-tables', 'app.nothing', /^exclude-tables pattern "app.nothing" matches no table/],
    ['schemas', 'ap', /^schemas pattern "ap" matches no schema/],
    ['exclude-table-data', 'a.b.c.d', /^exclude-table-data pattern "a.b.c.d" has too many dotted names/]
  ])('%s: %s', async (input, pattern, line) => {
    const target = uniqueName('never')
    const run = await runInProcess(migrate(target, { [input]: pattern }), { env })
    expect({ result: run.report.result, errors: run.errors }).toEqual({
      result: 'failed',
      // One error line: the blocker with its fix.
      errors: [expect.stringMatching(new RegExp(`${line.source.replace(/^\^/, '')}.* — correct or remove it in `))]
    })
    expect(await targetExists(target)).toBe(false)
  })

  test('a foreign key to a table that does not move is a blocker naming both tables', async () => {
    const target = uniqueName('never')
    const run = await runInProcess(migrate(target, { tables: 'app.orders' }), { env })
    expect(run.report.result).toBe('failed')
    expect(run.failed).toBe(
      '1 foreign key of moving tables references a table that does not move: foreign key orders_customer_id_fkey on app.orders references app.customers, which does not move — add the referenced tables to what moves, or leave the referencing tables out too: pg_dump would dump the foreign key and the restore would fail on it'
    )
    expect(await targetExists(target)).toBe(false)
  })

  test('a view on a table left out is a blocker naming both', async () => {
    const target = uniqueName('never')
    const run = await runInProcess(migrate(target, { 'exclude-tables': 'app.orders' }), { env })
    expect(run.report.result).toBe('failed')
    const blockers = run.report.databases[0].findings.filter((f) => f.severity === 'blocker')
    expect(blockers.map((f) => [f.id, f.objects])).toEqual([
      ['scope-dependency', ['view app.big_orders needs table app.orders, which does not move']]
    ])
    expect(await targetExists(target)).toBe(false)
  })
})

describe('a dump made with filters', () => {
  test('is restored and verified exactly as its manifest records; restore refuses filters of its own', async () => {
    const dumpPath = path.join(scratch, uniqueName('dump'))
    const dumped = await runInProcess(
      {
        mode: 'dump',
        'source-url': testbed.sourceUrl(source),
        'dump-path': dumpPath,
        'upload-artifact': 'false',
        'postgres-version': '17',
        schemas: 'app',
        'exclude-table-data': 'app.events'
      },
      { env }
    )
    expect(dumped.report.result).toBe('passed')
    const manifest = JSON.parse(fs.readFileSync(path.join(dumpPath, 'manifest.json'), 'utf8'))
    expect({ format: manifest.format, schemas: manifest.scope.schemas, data: manifest.scope.dataExcluded }).toEqual({
      format: 3,
      schemas: ['app'],
      data: [['app', 'events']]
    })
    const target = uniqueName('restored')
    const restore = { mode: 'restore', 'target-url': testbed.targetUrl(target), 'dump-path': dumpPath }
    const refused = await runInProcess({ ...restore, tables: 'app.orders' }, { env })
    expect(refused.errors).toEqual([
      expect.stringMatching(/^tables is set in restore mode — a restore restores exactly the dump's scope/)
    ])
    const restored = await runInProcess(restore, { env })
    expect(passed(restored)).toEqual(PASSED)
    expect(await relations(target)).toEqual({ ...APP, 'app.events': '0' })
    expect(restored.summary).toContain(
      '**Scope:** only what these filters select moved (schemas: app; exclude-table-data: app.events).'
    )
  })
})
