// What a hostile source can put in front of the runner: names that would be workflow commands or
// paths out of dump-path, a secret in a database setting; and what a dead run leaves behind. Also
// the validation queries' lock timeout and error text, and a port that answers but is no PostgreSQL.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { safeFileName } from '../../src/base/files.js'
import { runValidationQueries, VALIDATION_LOCK_TIMEOUT_MS } from '../../src/verify/fingerprint/queries.js'
import { killProcessesWith } from '../support/faults.js'
import { type ActionRun, errorLines, outcome, PASSED } from '../support/run-action.js'
import { loadTestbed, quoteIdent, quoteLiteral, uniqueName, withClient } from '../support/testbed.js'

const testbed = loadTestbed()
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-io-'))
const toolCache = path.join(scratch, 'tool-cache')
const run = testbed.runner(toolCache)

afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true })
})

/**
 * Lines the runner would take for the error command the name tries to forge. `::debug::::error::…`
 * is not one: the runner reads a debug command whose text happens to hold `::error::`.
 */
function forgedCommands(stdout: string, marker: string): string[] {
  return stdout.split(/\r?\n|\r/).filter((line) => new RegExp(`^\\s*(::|##\\[)error(::|\\])${marker}`).test(line))
}

/** Every file under `dir` whose bytes hold `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => fs.readFileSync(file).includes(Buffer.from(needle)))
}

describe('a hostile source: names and settings', () => {
  const marker = `forged${randomBytes(4).toString('hex')}`
  const table = `big\n::error::${marker}`
  const secret = `jwt-${randomBytes(12).toString('hex')}`
  const plain = uniqueName('hostile')
  const escapeName = `x_${plain}/../../../escape_${plain}`
  const dumpPath = path.join(scratch, 'deep', 'a', 'b', 'dump')
  let dumped: ActionRun

  beforeAll(async () => {
    const setup = `CREATE TABLE ${quoteIdent(table)} (id int PRIMARY KEY); INSERT INTO ${quoteIdent(table)} VALUES (1), (2);`
    await testbed.createSourceDatabase(plain, setup)
    await testbed.query(
      'source',
      plain,
      `ALTER DATABASE ${quoteIdent(plain)} SET app.jwt_secret = ${quoteLiteral(secret)}`
    )
    // A URL cannot name it (pg-connection-string leaves %2F encoded): connect by parts.
    await testbed.query('source', 'postgres', `CREATE DATABASE ${quoteIdent(escapeName)}`)
    const { host, port, superuser } = testbed.source
    const client = new pg.Client({
      host,
      port,
      user: superuser.user,
      password: superuser.password,
      database: escapeName
    })
    await client.connect()
    await client.query(setup).finally(() => client.end())
    dumped = await run(
      {
        mode: 'dump',
        'source-url': testbed.sourceUrl('postgres'),
        databases: `${plain}\n${escapeName}`,
        'dump-path': dumpPath,
        'postgres-version': '17'
      },
      { workDir: fs.mkdtempSync(path.join(scratch, 'dump-run-')) }
    )
  }, 170_000)

  test('a database named x/../../../escape is dumped inside dump-path, under its encoded name', () => {
    expect(outcome(dumped)).toEqual(PASSED)
    expect(fs.readdirSync(dumpPath).sort()).toEqual([plain, safeFileName(escapeName)].sort())
    expect(safeFileName(escapeName)).not.toContain('/')
    expect(fs.existsSync(path.join(dumpPath, safeFileName(escapeName), 'manifest.json'))).toBe(true)
    expect(fs.readdirSync(path.join(scratch, 'deep'))).toEqual(['a'])
    expect(fs.readdirSync(path.join(scratch, 'deep', 'a'))).toEqual(['b'])
  })

  test('a table named with a newline and ::error:: forges no workflow command; its text reaches the log as debug only', () => {
    expect(forgedCommands(dumped.stdout, marker)).toEqual([])
    expect(errorLines(dumped.stdout)).toEqual([])
    // The name did reach the log (pg_dump's verbose lines, cut at its newline), each part behind ::debug::.
    const holding = dumped.stdout.split(/\r?\n|\r/).filter((line) => line.includes(marker))
    expect(holding.length).toBeGreaterThan(0)
    expect(holding.filter((line) => !line.startsWith('::debug::'))).toEqual([])
  })

  test('a custom setting holding a secret is not in the manifest, the report or the log, in the clear', () => {
    // pg_dump itself keeps the database's settings in a whole-database archive (its DATABASE
    // PROPERTIES entry, restored only with --create): that copy is pg_dump's, named in the docs.
    expect(filesHolding(dumpPath, secret).map((file) => path.basename(file))).toEqual(['toc.dat'])
    expect(JSON.stringify(dumped.report)).not.toContain(secret)
    expect(dumped.stdout).not.toContain(secret)
    const manifest = JSON.parse(fs.readFileSync(path.join(dumpPath, plain, 'manifest.json'), 'utf8'))
    expect(manifest.sourceFingerprint.databaseSettings.settings).toContainEqual({
      role: null,
      name: 'app.jwt_secret',
      value: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      hashed: true
    })
  })

  test('the restore job says it cannot carry the hashed setting, and the run passes', async () => {
    const target = uniqueName('hostile_restore')
    const restored = await run({
      mode: 'restore',
      'target-url': testbed.targetUrl(target),
      'dump-path': path.join(dumpPath, plain)
    })
    expect(outcome(restored)).toEqual(PASSED)
    expect(forgedCommands(restored.stdout, marker)).toEqual([])
    expect(restored.stdout).toContain(
      `::warning::not carried to ${target}: ALTER DATABASE SET app.jwt_secret — the dump's manifest keeps a custom setting's value out`
    )
    expect(JSON.stringify(restored.report)).not.toContain(secret)
    const differences = restored.report.databases[0].comparison.differences
    expect(differences).toContainEqual(
      expect.objectContaining({ object: 'ALTER DATABASE SET app.jwt_secret', kind: 'missing', expected: true })
    )
  })
})

test('a passfile left by a run killed outright is removed by the next run in the same RUNNER_TEMP', async () => {
  const workDir = fs.mkdtempSync(path.join(scratch, 'killed-'))
  const runnerTemp = path.join(workDir, 'temp')
  const passfiles = () =>
    fs.existsSync(runnerTemp) ? fs.readdirSync(runnerTemp).filter((name) => name.startsWith('pg-migrate-pass-')) : []
  const killed = await run(
    { mode: 'plan', 'source-url': testbed.sourceUrl('postgres'), 'target-url': testbed.targetUrl('postgres') },
    {
      workDir,
      // The passfile is made before the first line is printed.
      onStdout: () => killProcessesWith(runnerTemp)
    }
  )
  expect(killed.exitCode).toBeNull()
  const left = passfiles()
  expect(left).toHaveLength(1)
  // Another run's passfile, still alive (this test's own process): kept.
  const alive = path.join(runnerTemp, `pg-migrate-pass-${process.pid}-alive`)
  fs.mkdirSync(alive)
  const next = await run({ mode: 'plan', 'source-url': 'postgresql://nobody@127.0.0.1:abc/app' }, { workDir })
  expect(next.exitCode).toBe(1)
  expect(passfiles()).toEqual([path.basename(alive)])
})

test('a port that accepts and hangs up is named as unreachable, in one line', async () => {
  const server = net.createServer((socket) => socket.destroy())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  try {
    const result = await run({
      mode: 'plan',
      'source-url': `postgresql://app:pw@127.0.0.1:${port}/app`,
      'target-url': testbed.targetUrl('postgres')
    })
    expect({ exitCode: result.exitCode, lines: errorLines(result.stdout) }).toEqual({
      exitCode: 1,
      lines: [
        `::error::source-url (127.0.0.1:${port}/app): cannot reach a PostgreSQL server: the connection to 127.0.0.1:${port} closed before the server answered — check the host and port in source-url; a managed database's firewall must admit this runner's IP address`
      ]
    })
  } finally {
    server.close()
  }
})

describe('validation queries in the verify session', () => {
  const db = uniqueName('vq')

  beforeAll(() => testbed.createSourceDatabase(db, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)'))

  test('a query waiting on a lock gives up after the lock timeout, not the statement timeout', async () => {
    await withClient(testbed.sourceUrl(db), async (holder) => {
      await holder.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE')
      await withClient(testbed.sourceUrl(db), async (client) => {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        const started = performance.now()
        const [result] = await runValidationQueries(client, ['SELECT count(*) FROM t'], 120_000)
        const seconds = (performance.now() - started) / 1000
        expect(result.error).toBe('canceling statement due to lock timeout')
        expect(seconds).toBeGreaterThanOrEqual(VALIDATION_LOCK_TIMEOUT_MS / 1000 - 1)
        expect(seconds).toBeLessThan(VALIDATION_LOCK_TIMEOUT_MS / 1000 + 20)
        await client.query('ROLLBACK')
      })
      await holder.query('ROLLBACK')
    })
  }, 60_000)

  test("a failed query's error keeps its first line, not the value it choked on", async () => {
    const value = `secret-${randomBytes(6).toString('hex')}`
    await withClient(testbed.sourceUrl(db), async (client: pg.Client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      const [cast, missing] = await runValidationQueries(client, [
        `SELECT ${quoteLiteral(value)}::int`,
        'SELECT * FROM no_such_table'
      ])
      await client.query('ROLLBACK')
      expect(cast.error).toBe('invalid input syntax for type integer')
      expect(missing.error).toBe('relation "no_such_table" does not exist')
    })
  })
})
