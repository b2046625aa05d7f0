// The scope's reading of pg_dump's patterns, proven against pg_dump itself: for each set of filters
// the real pg_dump 17 dumps a source full of awkward names, and what its table of contents holds
// (schemas, tables, views, sequences, their data, functions, types, statistics, extensions, large
// objects) must be exactly what the resolved scope says moves. The translation of one pattern into
// regular expressions is also compared with psql's, which shares pg_dump's code (psql -E prints it).
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { patternToRegex, splitPatterns } from '../../src/scope/patterns.js'
import { resolveScope, type ScopeResolution } from '../../src/scope/resolve.js'
import { scopeSql } from '../../src/scope/sql.js'
import { NO_PATTERNS, pgDumpFilters, type ScopePatterns } from '../../src/scope/types.js'
import { serverUrl, withClient } from '../support/servers.js'
import { loadTestbedState, quoteIdent, uniqueName } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'

const { source, clientBinDir } = loadTestbedState()
const database = uniqueName('patterns')
const scratch = scratchFolder('scope-patterns-')

// Names pg_dump's patterns find hard: case, dots, spaces, regular-expression characters, a
// non-ASCII letter, quotes; a table name in two schemas, one hidden by the search_path.
const FIXTURE = `
  CREATE SCHEMA app; CREATE SCHEMA audit; CREATE SCHEMA "Mixed Case"; CREATE SCHEMA "dots.in.name";
  CREATE SCHEMA "UPPER"; CREATE SCHEMA upper; CREATE SCHEMA "quote""d";
  CREATE TYPE app.mood AS ENUM ('calm', 'loud');
  CREATE DOMAIN app.positive AS int CHECK (VALUE > 0);
  CREATE TABLE app.orders (id serial PRIMARY KEY, mood app.mood, amount app.positive);
  CREATE TABLE app.items (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id int REFERENCES app.orders, v text);
  CREATE INDEX ON app.items (v);
  CREATE STATISTICS app.items_stats ON id, v FROM app.items;
  CREATE SEQUENCE app.free_seq;
  CREATE VIEW app.recent AS SELECT * FROM app.orders;
  CREATE MATERIALIZED VIEW app.totals AS SELECT count(*) AS n FROM app.orders;
  CREATE FUNCTION app.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
  CREATE TABLE audit.log (id bigserial PRIMARY KEY, t text);
  CREATE TABLE audit.orders (id int);
  CREATE TABLE public.orders (id int);
  CREATE TABLE "Mixed Case"."Weird.Name" (x int);
  CREATE TABLE "dots.in.name"."a+b" (x int);
  CREATE TABLE public."t$1" (x int);
  CREATE TABLE public."x[]" (x int);
  CREATE TABLE public."café" (x int);
  CREATE TABLE "UPPER"."T" (x int); CREATE TABLE upper.t (x int);
  CREATE TABLE "quote""d"."it's" (x int); CREATE TABLE public."a,b" (x int);
  CREATE TABLE public.p (id int) PARTITION BY RANGE (id);
  CREATE TABLE public.p1 PARTITION OF public.p FOR VALUES FROM (0) TO (10);
  CREATE TABLE public.parent (id int); CREATE TABLE public.child () INHERITS (public.parent);
  CREATE FOREIGN DATA WRAPPER dummy; CREATE SERVER elsewhere FOREIGN DATA WRAPPER dummy;
  CREATE FOREIGN TABLE app.remote (x int) SERVER elsewhere;
  CREATE EXTENSION citext SCHEMA public;
  INSERT INTO app.orders (mood, amount) VALUES ('calm', 1); INSERT INTO app.items (order_id, v) VALUES (1, 'x');
  INSERT INTO audit.log (t) VALUES ('x'); INSERT INTO public.p VALUES (1);
  SELECT lo_create(0);`

let pool: pg.Client

beforeAll(async () => {
  await withClient(serverUrl(source, 'postgres'), async (c) => {
    await c.query(`CREATE DATABASE ${quoteIdent(database)}`)
    // One-part table patterns match what the login's default search_path shows: app before public.
    await c.query(`ALTER DATABASE ${quoteIdent(database)} SET search_path = app, public`)
  })
  await withClient(serverUrl(source, database), (c) => c.query(FIXTURE))
  pool = new pg.Client({ connectionString: serverUrl(source, database) })
  await pool.connect()
}, 60_000)

afterAll(async () => {
  await pool?.end()
  fs.rmSync(scratch, { recursive: true, force: true })
})

const clientEnv = {
  ...process.env,
  PGHOST: source.host,
  PGPORT: String(source.port),
  PGUSER: source.superuser.user,
  PGPASSWORD: source.superuser.password,
  PGDATABASE: database
}

/** pg_dump's table of contents for these filters, or its error. */
function dumpToc(patterns: ScopePatterns): { lines: string[] } | { error: string } {
  const file = path.join(scratch, 'dump')
  const run = spawnSync(
    path.join(clientBinDir, 'pg_dump'),
    ['--format=custom', `--file=${file}`, ...pgDumpFilters(patterns)],
    { encoding: 'utf8', env: clientEnv }
  )
  if (run.status !== 0) return { error: run.stderr }
  const toc = execFileSync(path.join(clientBinDir, 'pg_restore'), ['--list', file], { encoding: 'utf8' })
  fs.rmSync(file)
  return { lines: toc.split('\n').filter((line) => /^\d+;/.test(line)) }
}

/** OIDs of TOC entries of these descriptions, by the catalog OID pg_restore prints. */
function tocOids(lines: string[], catalog: number | 0, descs: string[]): string[] {
  const pattern = new RegExp(`^\\d+; ${catalog} (\\d+) (${descs.join('|')}) `)
  return lines.flatMap((line) => pattern.exec(line)?.[1] ?? []).sort()
}

const USER_SCHEMA = `n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`
const NOT_MEMBER = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`

/** What the resolved scope says moves, read through its own SQL conditions on the source. */
async function scopeSays(resolution: ScopeResolution) {
  const sql = scopeSql(resolution.scope)
  const oids = async (query: string) => (await pool.query<{ oid: string }>(query)).rows.map((r) => r.oid).sort()
  const relations = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMA} AND ${NOT_MEMBER('pg_class', 'c.oid')}`
  return {
    schemas: await oids(`SELECT n.oid::text FROM pg_namespace n WHERE ${USER_SCHEMA} AND ${sql.schema('n.oid')}`),
    relations: await oids(
      `SELECT c.oid::text ${relations} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${sql.relation('c.oid')}`
    ),
    tableData: await oids(`SELECT c.oid::text ${relations} AND c.relkind = 'r' AND ${sql.data('c.oid')}`),
    sequenceValues: (
      await pool.query<{ name: string }>(
        `SELECT n.nspname || ' ' || c.relname AS name ${relations} AND c.relkind = 'S' AND ${sql.data('c.oid')}`
      )
    ).rows
      .map((r) => r.name)
      .sort(),
    functions: await oids(
      `SELECT p.oid::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE ${USER_SCHEMA} AND ${NOT_MEMBER('pg_proc', 'p.oid')} AND ${sql.inSchema('p.pronamespace')}`
    ),
    types: await oids(
      `SELECT t.oid::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE ${USER_SCHEMA} AND t.typtype IN ('e', 'd') AND ${NOT_MEMBER('pg_type', 't.oid')} AND ${sql.inSchema('t.typnamespace')}`
    ),
    // pg_dump (15 and later) dumps extended statistics with their table only, as well as by schema.
    statistics: await oids(
      `SELECT s.oid::text FROM pg_statistic_ext s WHERE ${sql.inSchema('s.stxnamespace')} AND ${sql.relation('s.stxrelid')}`
    ),
    extensions: await oids(`SELECT e.oid::text FROM pg_extension e WHERE e.oid >= 16384 AND ${sql.global}`),
    servers: await oids(`SELECT s.oid::text FROM pg_foreign_server s WHERE ${sql.global}`),
    largeObjects: sql.global === 'true'
  }
}

function tocSays(lines: string[]) {
  return {
    schemas: tocOids(lines, 2615, ['SCHEMA']),
    relations: tocOids(lines, 1259, ['TABLE', 'SEQUENCE', 'VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE']),
    tableData: tocOids(lines, 0, ['TABLE DATA']),
    sequenceValues: lines.flatMap((line) => /^\d+; 0 0 SEQUENCE SET (.+) postgres$/.exec(line)?.[1] ?? []).sort(),
    functions: tocOids(lines, 1255, ['FUNCTION']),
    types: tocOids(lines, 1247, ['TYPE', 'DOMAIN']),
    statistics: tocOids(lines, 3381, ['STATISTICS']),
    extensions: tocOids(lines, 3079, ['EXTENSION']),
    servers: tocOids(lines, 1417, ['SERVER']),
    largeObjects: lines.some((line) => / BLOB METADATA /.test(line))
  }
}

const scope = (patterns: Partial<ScopePatterns>): ScopePatterns => ({ ...NO_PATTERNS, ...patterns })

describe("the resolved scope moves exactly what pg_dump's filters dump", () => {
  const cases: [string, Partial<ScopePatterns>][] = [
    ['one schema', { schemas: ['app'] }],
    ['a schema pattern folds unquoted letters', { schemas: ['APP'] }],
    ['a quoted schema keeps its case and space', { schemas: ['"Mixed Case"'] }],
    ['quoted and unquoted upper case differ', { schemas: ['"UPPER"'] }],
    ['a doubled quote inside quotes', { schemas: ['"quote""d"'] }],
    ['wildcards with an excluded schema', { schemas: ['?pp', 'up*'], excludeSchemas: ['upper'] }],
    ['excluded schemas only', { excludeSchemas: ['app', '"Mixed Case"'] }],
    ['one table, with its identity sequence', { tables: ['app.items'] }],
    ['an unqualified table follows the search_path', { tables: ['orders'] }],
    ['a wildcard over tables, views, sequences, less one table', { tables: ['app.*'], excludeTables: ['app.items'] }],
    ['a quoted dot is part of the name', { tables: ['"Mixed Case"."Weird.Name"'] }],
    ['a dollar is literal', { tables: ['*.t$1'] }],
    ['a regular expression outside quotes', { tables: ['app.(orders|items)'] }],
    ['quoted regular-expression characters are literal', { tables: ['"dots.in.name"."a+b"'] }],
    ['[] is literal', { tables: ['x[]'] }],
    ['? is one character', { tables: ['app.i?ems'] }],
    ['only ASCII letters fold', { tables: ['Café'] }],
    ['three parts name this database', { tables: [`${database}.app.orders`] }],
    ['a partitioned table without its partitions', { tables: ['public.p'] }],
    ['a partitioned table and its partitions', { tables: ['public.p*'] }],
    ['schemas has no effect beside tables', { tables: ['app.orders'], schemas: ['audit'] }],
    [
      'an excluded table keeps its serial sequence, not its identity one',
      { excludeTables: ['app.orders', 'app.items'] }
    ],
    ['excluded data of a table and a sequence', { excludeTableData: ['app.orders', 'app.free_seq'] }],
    [
      'all filters at once',
      { schemas: ['app', 'audit'], excludeTables: ['audit.orders'], excludeTableData: ['app.items', 'audit.*'] }
    ],
    [
      'quoted names with a comma and a quote, from the list input',
      { tables: splitPatterns('"a,b",\n"quote""d"."it\'s"') }
    ]
  ]

  test.each(cases)('%s', async (_title, patterns) => {
    const full = scope(patterns)
    const dumped = dumpToc(full)
    if ('error' in dumped) throw new Error(`pg_dump refused ${JSON.stringify(full)}: ${dumped.error}`)
    const resolution = await resolveScope(pool, full)
    expect(resolution.problems).toEqual([])
    expect(await scopeSays(resolution)).toEqual(tocSays(dumped.lines))
  })
})

describe('patterns pg_dump refuses, and patterns that match nothing', () => {
  const cases: [string, Partial<ScopePatterns>, RegExp | undefined, RegExp][] = [
    [
      'another database',
      { tables: ['elsewhere.app.orders'] },
      /cross-database references are not implemented/,
      /^tables pattern "elsewhere.app.orders" names another database/
    ],
    [
      'too many dotted names',
      { tables: ['a.b.c.d'] },
      /improper relation name \(too many dotted names\)/,
      /^tables pattern "a.b.c.d" has too many dotted names/
    ],
    [
      'a dotted schema pattern',
      { schemas: [`${database}.app`] },
      /cross-database references are not implemented/,
      /names another database/
    ],
    [
      'a table pattern that matches nothing',
      { tables: ['app.ordrs'] },
      /no matching tables were found for pattern "app.ordrs"/,
      /^tables pattern "app.ordrs" matches no table/
    ],
    [
      'a schema pattern that matches nothing',
      { schemas: ['ap'] },
      /no matching schemas were found for pattern "ap"/,
      /^schemas pattern "ap" matches no schema/
    ],
    [
      'an invalid regular expression',
      { tables: ['app.(orders'] },
      /invalid regular expression/,
      /^tables pattern "app.\(orders" is not valid: invalid regular expression/
    ],
    // pg_dump dumps its own catalogs for these (a restore then fails on them); the scope refuses them.
    [
      'every schema, the catalogs included',
      { schemas: ['*'] },
      undefined,
      /^schemas pattern "\*" matches PostgreSQL's own schemas \(information_schema, pg_catalog, .*pg_toast.*\): pg_dump would dump the system catalogs/
    ],
    [
      'every visible table, pg_catalog first',
      { tables: ['*'] },
      undefined,
      /^tables pattern "\*" matches PostgreSQL's own schemas \(pg_catalog\)/
    ],
    // pg_dump takes an exclude pattern that matches nothing; the scope refuses it: a typo would
    // otherwise move what the user meant to leave behind.
    [
      'an exclude pattern that matches nothing',
      { excludeTables: ['app.itmes'] },
      undefined,
      /^exclude-tables pattern "app.itmes" matches no table/
    ],
    [
      'exclude-table-data that matches nothing',
      { excludeTableData: ['nothing'] },
      undefined,
      /^exclude-table-data pattern "nothing" matches no table/
    ],
    [
      'exclude-schemas that matches nothing',
      { excludeSchemas: ['nothing'] },
      undefined,
      /^exclude-schemas pattern "nothing" matches no schema/
    ]
  ]

  test.each(cases)('%s', async (_title, patterns, pgDumpSays, scopeSaysWhat) => {
    const full = scope(patterns)
    const dumped = dumpToc(full)
    if (pgDumpSays) expect('error' in dumped && dumped.error).toMatch(pgDumpSays)
    else expect('lines' in dumped).toBe(true)
    const resolution = await resolveScope(pool, full)
    expect(resolution.problems.map((p) => p.message)).toEqual([expect.stringMatching(scopeSaysWhat)])
  })
})

describe("one pattern's regular expressions are psql's (and so pg_dump's: the same C function)", () => {
  /** The regular expressions psql -E shows for \dt (table) or \dn (schema) with this pattern. */
  function psqlRegexes(command: '\\dt' | '\\dn', pattern: string): { schema?: string; name?: string } {
    const run = spawnSync(path.join(clientBinDir, 'psql'), ['-X', '-E', '-c', `${command} ${pattern}`], {
      encoding: 'utf8',
      env: clientEnv
    })
    const literal = (column: string): string | undefined => {
      // A literal holding a backslash is printed in the E'' form, its backslashes doubled.
      const match = new RegExp(`${column} OPERATOR\\(pg_catalog\\.~\\) (E?)'((?:[^']|'')*)'`).exec(run.stdout)
      if (!match) return undefined
      const text = match[2].replaceAll("''", "'")
      return match[1] === 'E' ? text.replaceAll('\\\\', '\\') : text
    }
    return command === '\\dn'
      ? { name: literal('n.nspname') }
      : { schema: literal('n.nspname'), name: literal('c.relname') }
  }

  const tablePatterns = [
    'orders',
    'app.orders',
    'APP.Orders',
    '"App"."Orders"',
    'app.*',
    '*.t$1',
    'a?c',
    'x[]',
    'x[0-9]',
    'app.(orders|items)',
    '"dots.in.name"."a+b"',
    '"quote""d".t',
    '"Mixed Case"."Weird.Name"',
    'Café',
    `${database}.app.items`,
    '*.*',
    'app.',
    '"a"b"c"',
    'a"."b'
  ]
  test.each(tablePatterns)('table pattern %s', (pattern) => {
    const ours = patternToRegex(pattern, 3)
    const expected = psqlRegexes('\\dt', pattern)
    // psql leaves out a condition that would match everything, as pg_dump does.
    const shown = (regex?: string) => (regex === '^(.*)$' ? undefined : regex)
    expect({ schema: shown(ours.schema), name: shown(ours.name) }).toEqual(expected)
  })

  test.each(['app', 'APP', '"Mixed Case"', '*p*', '"quote""d"', 'x$y', '(app|audit)'])(
    'schema pattern %s',
    (pattern) => {
      const ours = patternToRegex(pattern, 1)
      const shown = ours.name === '^(.*)$' ? undefined : ours.name
      expect({ name: shown }).toEqual(psqlRegexes('\\dn', pattern))
    }
  )
})
