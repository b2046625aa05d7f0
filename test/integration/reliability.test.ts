// Bad input and hostile names, end to end: every mistake a user can make gives one clear line (what
// is wrong, which input, how to fix), a nonzero exit, the outputs and the summary, and an untouched
// target.
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { canMountTmpfs, mountTmpfs, startBlackhole } from '../support/faults.js'
import { type ActionRun, errorLines, outcome, PASSED } from '../support/run-action.js'
import { freePort, serverUrl } from '../support/servers.js'
import { loadTestbed, quoteIdent, quoteLiteral, uniqueName, withClient } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'

const testbed = loadTestbed()
const scratch = scratchFolder('reliability-')
// One tool cache for the file: the client is downloaded and checked once, not per run.
const toolCache = path.join(scratch, 'tool-cache')

const run = testbed.runner(toolCache)

/**
 * What every refused run must show: a nonzero exit, result=failed, the summary written with the
 * reason, and one error line carrying each fragment (what is wrong, the input, the fix).
 */
function expectRefused(result: ActionRun, ...fragments: string[]): string {
  const lines = errorLines(result.stdout)
  const line = lines.find((l) => fragments.every((f) => l.includes(f)))
  expect({ exitCode: result.exitCode, result: result.outputs.result, line: line ?? lines.join('\n') }).toEqual({
    exitCode: 1,
    result: 'failed',
    line: expect.stringContaining(fragments[0])
  })
  expect(line).toBeDefined()
  expect(result.summary).toContain('pg-migrate')
  expect(result.summary).toContain('failed')
  expect(result.report.result).toBe('failed')
  expect(result.report.error.message).toBeTruthy()
  return (line as string).replace(/^::error::/, '')
}

async function targetDatabaseExists(name: string): Promise<boolean> {
  const { rowCount } = await testbed.query(
    'target',
    'postgres',
    `SELECT 1 FROM pg_database WHERE datname = ${quoteLiteral(name)}`
  )
  return Boolean(rowCount)
}

/**
 * A superuser session on one side. A config object, not a URL: pg decodes a URL's database with
 * decodeURI, so a name with ; or = would not survive the round trip.
 */
async function onServer<T>(
  side: 'source' | 'target',
  database: string,
  work: (client: pg.Client) => Promise<T>
): Promise<T> {
  const info = side === 'source' ? testbed.source : testbed.target
  const client = new pg.Client({
    host: info.host,
    port: info.port,
    user: info.superuser.user,
    password: info.superuser.password,
    database
  })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

describe('bad input values, through the real action process', () => {
  const source = uniqueName('inputs')
  const target = uniqueName('inputs_target')

  beforeAll(async () => {
    await testbed.createSourceDatabase(source, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);')
  })

  test.each([
    [{ mode: 'copy' }, ['mode is "copy"', 'use one of: migrate, plan, validate, dump, restore']],
    [{ compression: 'brotli' }, ['compression is "brotli"', 'use one of: auto, zstd, lz4, gzip, none']],
    [{ jobs: 'four' }, ['jobs is "four"', 'give a whole number of at least 1']],
    [{ jobs: '0' }, ['jobs is "0"', 'give a whole number of at least 1']],
    [
      { 'target-url': 'postgres:/localhost/db' },
      ['target-url is not a postgresql:// URL', 'postgresql://user:password@host:5432/database']
    ],
    [
      { 'target-url': 'postgresql://admin:secret@127.0.0.1:5432x/db' },
      ['target-url has an invalid port "5432x"', 'use a port between 1 and 65535']
    ],
    [
      { 'target-url': 'postgresql://admin:secret@127.0.0.1:5432/d%ZZb' },
      ['target-url has a malformed percent-escape in the database name', 'percent-encode']
    ],
    [
      { 'target-url': 'postgresql://admin:secret@127.0.0.1:5432' },
      ['target-url names no database', 'end the URL with the database name']
    ],
    [
      { 'target-url': 'postgresql://admin:secret@127.0.0.1:5432/x?sslmode=sometimes' },
      [
        'target-url has an unknown sslmode "sometimes"',
        'use one of disable, allow, prefer, require, verify-ca, verify-full'
      ]
    ]
  ])('%j is refused with one line naming the input and the fix', async (override, fragments) => {
    const result = await run({
      'source-url': testbed.sourceUrl(source),
      'target-url': testbed.targetUrl(target),
      ...override
    })
    const line = expectRefused(result, ...fragments)
    expect(line).not.toMatch(/secret@/)
    expect(await targetDatabaseExists(target)).toBe(false)
  })
})

describe('servers that cannot be reached or refuse the login', () => {
  const source = uniqueName('reach')
  const target = uniqueName('reach_target')

  beforeAll(async () => {
    await testbed.createSourceDatabase(source, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);')
  })

  test('a wrong password names the input and the user, never the password', async () => {
    const wrong = { user: testbed.target.admin?.user as string, password: 'not-the-password-0xC0FFEE' }
    const result = await run({
      'source-url': testbed.sourceUrl(source),
      'target-url': serverUrl(testbed.target, target, wrong)
    })
    const line = expectRefused(
      result,
      'target-url (127.0.0.1:',
      'password authentication failed for user "admin"',
      'check the user name and password in target-url'
    )
    expect(line).not.toContain('not-the-password-0xC0FFEE')
    expect(
      result.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n')
    ).not.toContain('not-the-password-0xC0FFEE')
    expect(await targetDatabaseExists(target)).toBe(false)
  })

  test('an unknown user reads the same as a wrong password (the server does not tell them apart)', async () => {
    const stranger = { user: 'nobody_here', password: 'whatever' }
    const result = await run({
      'source-url': serverUrl(testbed.source, source, stranger),
      'target-url': testbed.targetUrl(target)
    })
    expectRefused(
      result,
      'source-url (127.0.0.1:',
      'password authentication failed for user "nobody_here"',
      'check the user name and password in source-url'
    )
    expect(await targetDatabaseExists(target)).toBe(false)
  })

  test('a missing source database', async () => {
    const result = await run({
      'source-url': testbed.sourceUrl('no_such_database'),
      'target-url': testbed.targetUrl(target)
    })
    expectRefused(
      result,
      'source-url (127.0.0.1:',
      'database "no_such_database" does not exist',
      'fix the database name in source-url'
    )
    expect(await targetDatabaseExists(target)).toBe(false)
  })

  test('a closed port: refused, retried a few times, then one line with the firewall hint', async () => {
    const port = await freePort()
    const closed = { ...testbed.source, port }
    const started = Date.now()
    const result = await run({ 'source-url': serverUrl(closed, source), 'target-url': testbed.targetUrl(target) })
    const line = expectRefused(
      result,
      `source-url (127.0.0.1:${port}/${source}): cannot reach the server (ECONNREFUSED)`,
      'firewall must admit this runner'
    )
    expect(line).toContain('check the host and port in source-url')
    expect(result.stdout).toMatch(/retrying in 1s \(1\/2\)/)
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(await targetDatabaseExists(target)).toBe(false)
  })

  test('a host that accepts TCP and never answers: bounded by connect-timeout, with the firewall hint', async () => {
    const blackhole = await startBlackhole()
    try {
      const silent = { ...testbed.target, port: blackhole.port }
      const started = Date.now()
      const result = await run({
        'source-url': testbed.sourceUrl(source),
        'target-url': serverUrl(silent, target, testbed.target.admin),
        'connect-timeout': '2'
      })
      const seconds = (Date.now() - started) / 1000
      expectRefused(
        result,
        `target-url (127.0.0.1:${blackhole.port}/${target}): no answer within 2s`,
        'firewall must admit this runner',
        'raise connect-timeout'
      )
      expect(blackhole.connections()).toBeGreaterThan(0)
      expect(seconds).toBeLessThan(15)
    } finally {
      await blackhole.close()
    }
  })
})

describe('server versions', () => {
  test('a downgrade (17 source, 14 target) is refused before anything is written', async () => {
    const db = uniqueName('downgrade')
    await withClient(testbed.targetSuperUrl('postgres'), (client) => client.query(`CREATE DATABASE ${quoteIdent(db)}`))
    await withClient(testbed.targetSuperUrl(db), (client) => client.query('CREATE TABLE t (id int PRIMARY KEY)'))
    const result = await run({ 'source-url': testbed.targetSuperUrl(db), 'target-url': testbed.sourceUrl(db) })
    expectRefused(
      result,
      "the target runs PostgreSQL 14, older than the source's 17: a downgrade",
      'pick a target running PostgreSQL 17 or newer'
    )
    const { rowCount } = await testbed.query('source', 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${db}'`)
    expect(rowCount).toBe(0)
  })

  test('postgres-version below the source major', async () => {
    const db = uniqueName('old_client')
    await testbed.createSourceDatabase(db, 'CREATE TABLE t (id int)')
    const result = await run({
      'source-url': testbed.sourceUrl(db),
      'target-url': testbed.targetUrl(db),
      'postgres-version': '13'
    })
    expectRefused(
      result,
      "the requested client version 13 is older than the source's major 14",
      'set postgres-version to 17 or newer: pg_dump must be at least the source'
    )
    expect(await targetDatabaseExists(db)).toBe(false)
  })
})

describe('an object only a superuser may create', () => {
  test('an event trigger on the source: the plan lists it, the migration leaves it out and passes', async () => {
    const db = uniqueName('evt')
    const trigger = uniqueName('audit_ddl')
    await testbed.createSourceDatabase(
      db,
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, g::text FROM generate_series(1, 100) g;
       CREATE FUNCTION log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'ddl'; END $$;
       CREATE EVENT TRIGGER ${trigger} ON ddl_command_end EXECUTE FUNCTION log_ddl();`
    )
    const result = await run({ 'source-url': testbed.sourceUrl(db), 'target-url': testbed.targetUrl(db) })
    const finding = result.report.databases[0].findings.find(
      (f: { id: string }) => f.id === 'event-triggers-not-migrated'
    )
    expect(finding).toMatchObject({ severity: 'warning', objects: [`event trigger ${trigger}`] })
    expect(result.stdout).toMatch(new RegExp(`::warning::.*1 event trigger will not be migrated.*${trigger}`))
    expect({ exitCode: result.exitCode, result: result.outputs.result, errors: errorLines(result.stdout) }).toEqual({
      exitCode: 0,
      result: 'passed',
      errors: []
    })
    expect(result.summary).toContain(`event trigger ${trigger}`)
    const { rows } = await testbed.query('target', db, 'SELECT count(*)::int AS n FROM t')
    expect(rows[0].n).toBe(100)
  })
})

describe('names with quotes, spaces, unicode, semicolons and shell syntax', () => {
  // Each name would break a query, a command line or a connection string that pasted it in.
  const marker = path.join(scratch, 'injected')
  const db = `we"ird; db ✓ x=1 $(touch ${path.basename(marker)})_${uniqueName('n').slice(2)}`
  const schema = `Sch ema; DROP TABLE x; --`
  const table = `ta"ble' \`touch ${marker}\``
  const column = 'co;l'
  const role = `ro"le; ✓ $(id)`
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`

  beforeAll(async () => {
    await onServer('source', 'postgres', async (c) => {
      await c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}; CREATE ROLE ${quoteIdent(role)}`)
      await c.query(`CREATE DATABASE ${quoteIdent(db)}`)
    })
    await onServer('source', db, (c) =>
      c.query(
        `CREATE SCHEMA ${quoteIdent(schema)};
         CREATE TABLE ${qualified} (id int PRIMARY KEY, ${quoteIdent(column)} text, "ü ber" jsonb);
         INSERT INTO ${qualified} SELECT g, 'v;' || g || '"', jsonb_build_object('k', g) FROM generate_series(1, 50) g;
         CREATE INDEX ${quoteIdent('in"dex; ✓')} ON ${qualified} (${quoteIdent(column)});
         CREATE SEQUENCE ${quoteIdent(schema)}.${quoteIdent('se"q;')} START 77;
         SELECT nextval('${quoteIdent(schema).replaceAll("'", "''")}.${quoteIdent('se"q;')}');
         ALTER TABLE ${qualified} ENABLE ROW LEVEL SECURITY;
         CREATE POLICY ${quoteIdent('po"licy;')} ON ${qualified} TO ${quoteIdent(role)} USING (id > 0);`
      )
    )
  })

  afterAll(async () => {
    await onServer('target', 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`)).catch(
      () => undefined
    )
    await onServer('target', 'postgres', (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`)).catch(
      () => undefined
    )
  })

  test('migrate and verify; the role is created; nothing is injected', async () => {
    expect(Buffer.byteLength(db)).toBeLessThan(64)
    const result = await run({
      'source-url': testbed.sourceUrl(db),
      'target-url': testbed.targetUrl(db),
      roles: 'create-missing',
      'validation-queries': `SELECT ${quoteIdent(column)}, count(*) FROM ${qualified} GROUP BY 1 ORDER BY 1;`
    })
    expect(outcome(result)).toEqual(PASSED)
    expect(result.report.databases[0]).toMatchObject({ name: db, target: db, createdRoles: [role] })
    expect(result.report.databases[0].comparison.passed).toBe(true)
    const copy = await onServer('target', db, async (client) => {
      const data = await client.query(`SELECT count(*)::int AS n, max(${quoteIdent(column)}) AS top FROM ${qualified}`)
      const sequence = await client.query(
        `SELECT last_value::int AS v FROM ${quoteIdent(schema)}.${quoteIdent('se"q;')}`
      )
      const policy = await client.query(`SELECT polname, polroles::regrole[]::text[] AS roles FROM pg_policy`)
      const index = await client.query(`SELECT 1 FROM pg_class WHERE relname = 'in"dex; ✓'`)
      const tables = await client.query(
        `SELECT relnamespace::regnamespace::text AS schema, relname FROM pg_class WHERE relkind = 'r' AND relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema')`
      )
      return {
        n: data.rows[0].n,
        top: data.rows[0].top,
        sequence: sequence.rows[0].v,
        policy: policy.rows,
        index: index.rowCount,
        tables: tables.rows
      }
    })
    expect(copy).toEqual({
      n: 50,
      top: 'v;9"',
      sequence: 77,
      policy: [{ polname: 'po"licy;', roles: [quoteIdent(role)] }],
      index: 1,
      tables: [{ schema: quoteIdent(schema), relname: table }]
    })
    expect(fs.existsSync(marker)).toBe(false)
    expect(fs.existsSync(path.basename(marker))).toBe(false)
  })
})

describe('validation queries', () => {
  // validate mode compares two live databases, so each side can be made to differ on purpose.
  const db = uniqueName('vq')
  const setup = `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, g::text FROM generate_series(1, 20) g;
                 CREATE SEQUENCE s;`

  beforeAll(async () => {
    await testbed.createSourceDatabase(
      db,
      `${setup} CREATE VIEW shape AS SELECT 1 AS a, 2 AS b; CREATE TABLE only_source (id int);`
    )
    await testbed.createTargetDatabase(db)
    await withClient(testbed.targetUrl(db), (client) =>
      client.query(`${setup} CREATE VIEW shape AS SELECT 1 AS a, 2 AS c;`)
    )
  })

  function validate(queries: string): Promise<ActionRun> {
    return run({
      mode: 'validate',
      'source-url': testbed.sourceUrl(db),
      'target-url': testbed.targetUrl(db),
      'validation-queries': queries
    })
  }

  function queryDifferences(result: ActionRun): Record<string, string> {
    const differences = result.report.databases[0].comparison.differences as {
      kind: string
      object: string
      detail: string
    }[]
    return Object.fromEntries(differences.filter((d) => d.kind === 'query').map((d) => [d.object, d.detail]))
  }

  test('a query that fails on one side and one whose columns differ are reported as differences', async () => {
    const result = await validate('SELECT count(*) FROM only_source;\nSELECT * FROM shape;\nSELECT count(*) FROM t;')
    expect({ exitCode: result.exitCode, result: result.outputs.result }).toEqual({ exitCode: 1, result: 'failed' })
    expect(queryDifferences(result)).toEqual({
      'SELECT count(*) FROM only_source': expect.stringMatching(
        /^the query failed on the target: relation "only_source" does not exist/
      ),
      'SELECT * FROM shape': 'other columns: (a, b) on the source, (a, c) on the target'
    })
    expect(result.stdout).toMatch(/^\S+: query differs for SELECT \* FROM shape: other columns/m)
    expect(errorLines(result.stdout)).toEqual([
      expect.stringMatching(/^::error::\d+ differences between source and target — each difference is listed/)
    ])
    expect(result.summary).toContain('SELECT * FROM shape')
  })

  test('a statement other than a read is refused as input, before anything runs', async () => {
    const result = await validate('SELECT count(*) FROM t;\nINSERT INTO t VALUES (100, $$x$$);')
    expect({ exitCode: result.exitCode, lines: errorLines(result.stdout) }).toEqual({
      exitCode: 1,
      lines: [
        expect.stringMatching(
          /^::error::validation-queries: "INSERT INTO t VALUES \(100, \$\$x\$\$\)" is refused: it starts with INSERT; validation queries are SELECT, WITH, VALUES or TABLE statements/
        )
      ]
    })
  })

  test('reads that would write are refused by the read-only transaction; the data stays as it was', async () => {
    const writes = [
      'WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone',
      'SELECT nextval($$s$$)',
      'SELECT 1; DELETE FROM t'
    ]
    const result = await validate(writes.map((sql) => `${sql};`).join('\n'))
    expect({ exitCode: result.exitCode, result: result.outputs.result }).toEqual({ exitCode: 1, result: 'failed' })
    const differences = queryDifferences(result)
    expect(differences[writes[0]]).toMatch(
      /^the query failed on both sides: cannot execute \w+ in a read-only transaction/
    )
    expect(differences['SELECT nextval($$s$$)']).toMatch(/cannot execute nextval\(\) in a read-only transaction/)
    expect(differences['SELECT 1; DELETE FROM t']).toMatch(/cannot insert multiple commands into a prepared statement/)
    for (const side of ['source', 'target'] as const) {
      const { rows } = await testbed.query(
        side,
        db,
        `SELECT count(*)::int AS n, count(v)::int AS v, (SELECT last_value::int FROM s) AS s, to_regclass('planted') AS planted FROM t`
      )
      expect(rows[0]).toEqual({ n: 20, v: 20, s: 1, planted: null })
    }
  })
})

describe('a dump folder that cannot be written', () => {
  const db = uniqueName('dumpdir')

  beforeAll(async () => {
    await testbed.createSourceDatabase(
      db,
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;'
    )
  })

  test('a path under a regular file', async () => {
    const file = path.join(scratch, 'a-file')
    fs.writeFileSync(file, 'not a folder')
    const result = await run({
      'source-url': testbed.sourceUrl(db),
      'target-url': testbed.targetUrl(db),
      'dump-path': path.join(file, 'dump')
    })
    expectRefused(
      result,
      `${db}: Dump failed: cannot write the dump under ${file}`,
      'point dump-path at a writable folder'
    )
    expect(result.report.error.stage).toBe('Dump')
    expect(await targetDatabaseExists(db)).toBe(false)
  })

  const mountable = canMountTmpfs()
  const needsMount = mountable ? test : test.skip
  if (!mountable)
    console.log(
      'skipping read-only and full-disk dump tests: mounting a tmpfs needs root (and a kernel that allows it)'
    )

  needsMount('a read-only folder', async () => {
    const dir = path.join(scratch, 'readonly')
    const unmount = mountTmpfs(dir, { readOnly: true })
    try {
      const result = await run({
        'source-url': testbed.sourceUrl(db),
        'target-url': testbed.targetUrl(db),
        'dump-path': path.join(dir, 'dump')
      })
      expectRefused(result, `cannot write the dump under ${dir}`, 'point dump-path at a writable folder')
      expect(await targetDatabaseExists(db)).toBe(false)
    } finally {
      unmount()
    }
  })

  needsMount('a disk that fills during the dump', async () => {
    const big = uniqueName('bigdump')
    // Random bytes in base64 compress poorly (to about three quarters): about 1.6 MiB of dump for a
    // 1 MiB disk. The tables take about 3 MiB, so the plan's floor for a compressed dump (a quarter
    // of that) fits, and the disk fills during the dump itself.
    await testbed.createSourceDatabase(
      big,
      `CREATE TABLE t (id int PRIMARY KEY, v text);
      INSERT INTO t SELECT g, translate(encode(decode(md5(random()::text) || md5(random()::text)
        || md5(random()::text) || md5(random()::text), 'hex'), 'base64'), E'\\n', '') FROM generate_series(1, 25000) g;`
    )
    const dir = path.join(scratch, 'small')
    const unmount = mountTmpfs(dir, { size: '1m' })
    try {
      const result = await run({
        'source-url': testbed.sourceUrl(big),
        'target-url': testbed.targetUrl(big),
        'dump-path': path.join(dir, 'dump')
      })
      const line = expectRefused(
        result,
        `${big}: Dump failed: the disk under ${dir} filled up during the dump`,
        'point dump-path at a disk with room'
      )
      expect(line).toMatch(/pg_dump failed: .*No space left on device/)
      expect(result.report.error.stage).toBe('Dump')
      expect(fs.readdirSync(dir)).toEqual([])
      expect(await targetDatabaseExists(big)).toBe(false)
    } finally {
      unmount()
    }
  })
})

describe('restore mode with a damaged dump', () => {
  const db = uniqueName('restore_src')
  const dumpDir = path.join(scratch, 'good-dump')

  beforeAll(async () => {
    await testbed.createSourceDatabase(
      db,
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g;'
    )
    const dump = await run({
      mode: 'dump',
      'source-url': testbed.sourceUrl(db),
      'dump-path': dumpDir,
      'postgres-version': '17'
    })
    expect({ exitCode: dump.exitCode, tail: dump.exitCode ? dump.stdout.slice(-2000) : '' }).toEqual({
      exitCode: 0,
      tail: ''
    })
  })

  /** A copy of the good dump, changed by `damage`. */
  function damaged(name: string, damage: (dir: string) => void): string {
    const dir = path.join(scratch, name)
    fs.cpSync(dumpDir, dir, { recursive: true })
    damage(dir)
    return dir
  }

  function restore(dir: string, target: string): Promise<ActionRun> {
    return run({ mode: 'restore', 'target-url': testbed.targetUrl(target), 'dump-path': dir })
  }

  test('a missing dump', async () => {
    const target = uniqueName('restore_missing')
    const dir = path.join(scratch, 'nothing-here')
    const result = await restore(dir, target)
    expectRefused(
      result,
      `no dump at ${dir} (no manifest.json)`,
      'set dump-path to the downloaded dump folder, or artifact-name to download it'
    )
    expect(result.report.error.stage).toBe('Check dump')
    expect(await targetDatabaseExists(target)).toBe(false)
  })

  test('a partial dump (a data file deleted)', async () => {
    const target = uniqueName('restore_partial')
    let removed = ''
    const dir = damaged('partial', (d) => {
      removed = fs.readdirSync(d).find((f) => /^\d+\.dat/.test(f)) as string
      fs.rmSync(path.join(d, removed))
    })
    const result = await restore(dir, target)
    expectRefused(
      result,
      `the dump in ${dir} does not match its manifest (missing: ${removed})`,
      'the artifact is partial'
    )
    expect(await targetDatabaseExists(target)).toBe(false)
  })

  test('a corrupted dump (the table of contents truncated)', async () => {
    const target = uniqueName('restore_corrupt')
    const dir = damaged('corrupt', (d) => fs.truncateSync(path.join(d, 'toc.dat'), 100))
    const result = await restore(dir, target)
    expectRefused(result, `toc.dat in ${dir} does not match its sha256 in the manifest`, 'the dump is corrupted')
    expect(await targetDatabaseExists(target)).toBe(false)
  })

  test('a manifest that is not JSON', async () => {
    const target = uniqueName('restore_badjson')
    const dir = damaged('badjson', (d) => fs.writeFileSync(path.join(d, 'manifest.json'), '{"format": 1, "files": {'))
    const result = await restore(dir, target)
    expectRefused(result, 'manifest.json is not valid JSON', 'make it again with mode: dump')
    expect(await targetDatabaseExists(target)).toBe(false)
  })

  test('a manifest from an unknown format version', async () => {
    const target = uniqueName('restore_format')
    const dir = damaged('format', (d) => {
      const file = path.join(d, 'manifest.json')
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), format: 99 }))
    })
    const result = await restore(dir, target)
    expectRefused(
      result,
      'has format 99; this action reads formats 2 and 3',
      'restore with the action version that made the dump'
    )
    expect(await targetDatabaseExists(target)).toBe(false)
  })

  test('the good dump restores and verifies (the damaged ones differ only by the damage)', async () => {
    const target = uniqueName('restore_ok')
    const result = await restore(dumpDir, target)
    expect(outcome(result)).toEqual(PASSED)
  })
})
