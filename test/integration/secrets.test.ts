// Secrets and TLS: passwords reach child processes through a private passfile only, are masked in
// the log and appear nowhere else; sslmode reaches pg and the client tools alike.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { makeCertificate, watchProcesses } from '../support/faults.js'
import { type ActionRun, errorLines, outcome, PASSED } from '../support/run-action.js'
import { defaultBaseDir, serverUrl, startServer, stopServer } from '../support/servers.js'
import { loadTestbed, quoteIdent, quoteLiteral, uniqueName, withClient } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'

const testbed = loadTestbed()
const scratch = scratchFolder('secrets-')
const toolCache = path.join(scratch, 'tool-cache')

const run = testbed.runner(toolCache)

/** Every file under `dir` that holds one of `needles`, with the needle found. */
function filesHolding(dir: string, needles: string[]): string[] {
  const found: string[] = []
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    const bytes = fs.readFileSync(file)
    for (const needle of needles) if (bytes.includes(Buffer.from(needle))) found.push(`${file}: ${needle}`)
  }
  return found
}

describe('passwords never leave the environment and the passfile', () => {
  // Characters that need escaping in a URL, a passfile line, SQL and a shell.
  const sourcePassword = `s:r\\c "p'w@/?#%;$(x)${randomBytes(6).toString('hex')}`
  const targetPassword = `t:r\\g *p'w@/?#%&=${randomBytes(6).toString('hex')}`
  const sourceLogin = { user: uniqueName('migrator'), password: sourcePassword }
  const targetLogin = { user: uniqueName('manager'), password: targetPassword }
  const db = uniqueName('secret')

  beforeAll(async () => {
    await testbed.query(
      'source',
      'postgres',
      `CREATE ROLE ${quoteIdent(sourceLogin.user)} LOGIN SUPERUSER PASSWORD ${quoteLiteral(sourcePassword)}`
    )
    await testbed.query(
      'target',
      'postgres',
      `CREATE ROLE ${quoteIdent(targetLogin.user)} LOGIN CREATEDB CREATEROLE PASSWORD ${quoteLiteral(targetPassword)}`
    )
    await testbed.createSourceDatabase(
      db,
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g;'
    )
  })

  test('a full migration: no password in argv, files, outputs, summary or report; the passfile is private and removed', async () => {
    const workDir = fs.mkdtempSync(path.join(scratch, 'run-'))
    const runnerTemp = path.join(workDir, 'temp')
    const sourceUrl = serverUrl(testbed.source, db, sourceLogin)
    const targetUrl = serverUrl(testbed.target, db, targetLogin)
    // The raw passwords, their URL-encoded forms and the whole URLs: none may show.
    const needles = [
      sourcePassword,
      targetPassword,
      encodeURIComponent(sourcePassword),
      encodeURIComponent(targetPassword),
      sourceUrl,
      targetUrl
    ]
    const watcher = watchProcesses({ marker: runnerTemp, needles })
    // The passfile as the children see it: its mode, while the run goes on.
    const passfiles = new Map<string, number>()
    const passfilePoll = setInterval(() => {
      for (const entry of fs.existsSync(runnerTemp) ? fs.readdirSync(runnerTemp) : []) {
        const file = path.join(runnerTemp, entry, 'pgpass')
        if (fs.existsSync(file)) passfiles.set(file, fs.statSync(file).mode & 0o777)
      }
    }, 50)
    let result: ActionRun
    try {
      result = await run({ 'source-url': sourceUrl, 'target-url': targetUrl }, { workDir })
    } finally {
      clearInterval(passfilePoll)
    }
    const { commands, processes, offending } = watcher.stop()
    expect(outcome(result)).toEqual(PASSED)

    // The watcher saw the children it was meant to see, and no command line held a secret.
    expect(commands.some((c) => /pg_dump .*--snapshot=/.test(c))).toBe(true)
    expect(commands.some((c) => /pg_restore .*--dbname=/.test(c))).toBe(true)
    expect(offending).toEqual([])
    expect(commands.filter((c) => needles.some((n) => c.includes(n)))).toEqual([])
    // The children's environment holds connection settings and the passfile's path, not the
    // step's inputs (INPUT_SOURCE-URL holds a password).
    const children = processes.filter((p) => !p.args.includes('dist/index.js'))
    expect(children.length).toBeGreaterThan(2)
    for (const child of children) {
      const holding = Object.entries(child.env).filter(([, value]) => needles.some((n) => value.includes(n)))
      expect({ child: child.args, holding }).toEqual({ child: child.args, holding: [] })
      expect(child.env.PGPASSWORD).toBeUndefined()
    }
    for (const child of children.filter((p) => /pg_dump .*--snapshot=|pg_restore .*--dbname=/.test(p.args))) {
      expect(child.env.PGPASSFILE).toMatch(new RegExp(`^${runnerTemp}/pg-migrate-pass-\\d+-\\w+/pgpass$`))
    }

    // Masked for the runner, and nowhere else in what the step prints or writes.
    const masks = result.stdout.split('\n').filter((line) => line.startsWith('::add-mask::'))
    // Workflow commands escape % as %25; the runner unescapes before masking.
    const escape = (value: string) => value.replaceAll('%', '%25')
    expect(masks).toEqual(
      expect.arrayContaining([`::add-mask::${escape(sourcePassword)}`, `::add-mask::${escape(targetPassword)}`])
    )
    const visible = result.stdout
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n')
    for (const needle of needles) {
      expect(visible).not.toContain(needle)
      expect(result.stderr).not.toContain(needle)
      expect(result.summary).not.toContain(needle)
      expect(JSON.stringify(result.report)).not.toContain(needle)
      expect(JSON.stringify(result.outputs)).not.toContain(needle)
    }
    // Every file the run left (report, outputs, summary, dump, tool cache is elsewhere) is clean.
    expect(filesHolding(workDir, needles)).toEqual([])

    // The passfile existed while the children ran, readable by its owner only, and is gone now.
    expect(passfiles.size).toBeGreaterThan(0)
    for (const [file, mode] of passfiles) {
      expect({ file, mode: mode.toString(8) }).toEqual({ file, mode: '600' })
      expect(fs.existsSync(path.dirname(file))).toBe(false)
    }
  })
})

describe('TLS', () => {
  const baseDir = defaultBaseDir('pg-migrate-tls')
  let tls: Awaited<ReturnType<typeof startServer>>
  let certificate: { cert: string; key: string }
  let stranger: { cert: string; key: string }

  beforeAll(async () => {
    fs.mkdirSync(baseDir, { recursive: true, mode: 0o755 })
    certificate = makeCertificate(path.join(baseDir, 'certs'))
    stranger = makeCertificate(path.join(baseDir, 'certs'), 'stranger')
    tls = await startServer({
      major: 17,
      baseDir,
      target: true,
      settings: ['ssl=on', `ssl_cert_file=${certificate.cert}`, `ssl_key_file=${certificate.key}`, 'log_connections=on']
    })
  }, 60_000)

  afterAll(async () => {
    if (tls) await stopServer(tls, 'immediate')
    fs.rmSync(baseDir, { recursive: true, force: true })
  })

  function serverLog(): string {
    return fs.readFileSync(path.join(path.dirname(tls.dataDir), 'server.log'), 'utf8')
  }

  test('sslmode=verify-full: pg and the client tools all connect over TLS, the certificate checked', async () => {
    const db = uniqueName('tls')
    await testbed.createSourceDatabase(
      db,
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g;'
    )
    const logStart = serverLog().length
    const target = `${serverUrl(tls, db, tls.admin)}?sslmode=verify-full&sslrootcert=${encodeURIComponent(certificate.cert)}`
    const workDir = fs.mkdtempSync(path.join(scratch, 'tls-'))
    const watcher = watchProcesses({ marker: path.join(workDir, 'temp') })
    const result = await run({ 'source-url': testbed.sourceUrl(db), 'target-url': target }, { workDir })
    const restores = watcher.stop().processes.filter((p) => /pg_restore .*--dbname=/.test(p.args))
    // The tools get the same TLS settings as pg: libpq's own default (prefer) would also encrypt,
    // but would not check the certificate.
    expect(restores.length).toBeGreaterThan(0)
    for (const restore of restores)
      expect(restore.env).toMatchObject({
        PGSSLMODE: 'verify-full',
        PGSSLROOTCERT: certificate.cert,
        PGHOST: '127.0.0.1'
      })
    expect(outcome(result)).toEqual(PASSED)
    // Only the action logs in as the admin on this server: every one of its sessions, pg's and
    // pg_restore's alike, was encrypted.
    const sessions = serverLog()
      .slice(logStart)
      .split('\n')
      .filter((line) => line.includes(`connection authorized: user=${tls.admin?.user} `))
    expect(sessions.length).toBeGreaterThanOrEqual(4)
    expect(sessions.filter((line) => !/SSL enabled \(protocol=TLS/.test(line))).toEqual([])
    expect(sessions.some((line) => line.includes('application_name=pg-migrate-action'))).toBe(true)
    expect(
      sessions.every(
        (line) => !line.includes('application_name=') || line.includes('application_name=pg-migrate-action')
      )
    ).toBe(true)
    await withClient(serverUrl(tls, db), async (client) => {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM t')
      expect(rows[0].n).toBe(2000)
    })
  })

  test('no sslmode in the URL: every session of the run is encrypted, as libpq (prefer) would have it', async () => {
    const db = uniqueName('tls_prefer')
    await testbed.createSourceDatabase(
      db,
      'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)'
    )
    const logStart = serverLog().length
    // The source has no TLS: prefer falls back to a plain connection there, as libpq does.
    const result = await run({ 'source-url': testbed.sourceUrl(db), 'target-url': serverUrl(tls, db, tls.admin) })
    expect(outcome(result)).toEqual(PASSED)
    // log_connections writes one line per session as it is authorized, with its TLS state: a
    // record of every session, where sampling pg_stat_ssl during the run could miss short ones.
    const sessions = serverLog()
      .slice(logStart)
      .split('\n')
      .filter((line) => line.includes(`connection authorized: user=${tls.admin?.user} `))
    expect(
      sessions.filter((line) => line.includes('application_name=pg-migrate-action')).length
    ).toBeGreaterThanOrEqual(4)
    expect(sessions.filter((line) => !/SSL enabled \(protocol=TLS/.test(line))).toEqual([])
  })

  /** The authorized sessions of `user` in the server's log past `from`, each with its TLS state. */
  function sessionsOf(server: Awaited<ReturnType<typeof startServer>>, user: string, from = 0): string[] {
    return fs
      .readFileSync(path.join(path.dirname(server.dataDir), 'server.log'), 'utf8')
      .slice(from)
      .split('\n')
      .filter((line) => line.includes(`connection authorized: user=${user} `))
  }

  test("no sslmode, TLS on both servers: the stream's COPY sessions, the sync's replication session and the verify's are all encrypted", async () => {
    // A 14 source with TLS and logical decoding; the action logs in as a role of its own there, so
    // every session of that role in the log is the action's, its pg_dump's or its replication's.
    const source = await startServer({
      major: 14,
      baseDir,
      settings: [
        'ssl=on',
        `ssl_cert_file=${certificate.cert}`,
        `ssl_key_file=${certificate.key}`,
        'log_connections=on',
        'wal_level=logical'
      ]
    })
    try {
      const login = { user: uniqueName('tls_migrator'), password: randomBytes(12).toString('hex') }
      const db = uniqueName('tls_both')
      await withClient(serverUrl(source, 'postgres'), async (client) => {
        await client.query(
          `CREATE ROLE ${quoteIdent(login.user)} LOGIN SUPERUSER PASSWORD ${quoteLiteral(login.password)}`
        )
        await client.query(`CREATE DATABASE ${quoteIdent(db)}`)
      })
      await withClient(serverUrl(source, db), (client) =>
        client.query(
          'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 3000) g'
        )
      )
      const inputs = (target: string, extra: Record<string, string>) => ({
        'source-url': serverUrl(source, db, login),
        'target-url': serverUrl(tls, target, tls.admin),
        'upload-artifact': 'false',
        ...extra
      })
      const targetFrom = serverLog().length
      const streamed = await run(inputs(`${db}_streamed`, { 'copy-method': 'stream' }))
      expect(outcome(streamed)).toEqual(PASSED)
      expect(streamed.report.databases[0].stream?.tables).toBe(1)
      const synced = await run(inputs(`${db}_synced`, { sync: 'logical', 'cutover-idle-seconds': '1' }))
      expect(outcome(synced)).toEqual(PASSED)
      expect(synced.report.databases[0].sync?.applied).toBeDefined()

      const onSource = sessionsOf(source, login.user)
      const onTarget = sessionsOf(tls, tls.admin?.user ?? '', targetFrom)
      // What the runs opened (the client tools name themselves as the action does): pg's sessions
      // on both sides, the stream's pairs among them, pg_dump's on the source with the sync's
      // replication session, pg_restore's on the target.
      expect(onSource.filter((line) => line.includes('replication connection authorized'))).toHaveLength(1)
      expect(onSource.length).toBeGreaterThanOrEqual(8)
      expect(onTarget.length).toBeGreaterThanOrEqual(8)
      expect([...onSource, ...onTarget].filter((line) => !/SSL enabled \(protocol=TLS/.test(line))).toEqual([])
    } finally {
      await stopServer(source, 'immediate')
    }
  }, 240_000)

  test('a certificate signed by someone else is refused with verify-full, in one line', async () => {
    const db = uniqueName('tls_wrong_ca')
    const target = `${serverUrl(tls, db, tls.admin)}?sslmode=verify-full&sslrootcert=${encodeURIComponent(stranger.cert)}`
    const result = await run({ 'source-url': testbed.sourceUrl('postgres'), 'target-url': target, mode: 'plan' })
    const lines = errorLines(result.stdout)
    expect({ exitCode: result.exitCode, result: result.outputs.result, lines }).toEqual({
      exitCode: 1,
      result: 'failed',
      lines: [
        expect.stringMatching(
          /^::error::target-url \(127\.0\.0\.1:\d+\/tls_wrong_ca_\w+\): the server's TLS certificate was refused \(sslmode=verify-full\): .* — set sslrootcert in target-url to the CA certificate/
        )
      ]
    })
  })

  test('sslmode=require against a server without TLS fails in one line, not in plain text', async () => {
    const result = await run({
      'source-url': `${testbed.sourceUrl('postgres')}?sslmode=require`,
      'target-url': testbed.targetUrl('postgres'),
      mode: 'plan'
    })
    const lines = errorLines(result.stdout)
    expect({ exitCode: result.exitCode, result: result.outputs.result, lines }).toEqual({
      exitCode: 1,
      result: 'failed',
      lines: [
        expect.stringMatching(
          /^::error::source-url \(127\.0\.0\.1:\d+\/postgres\): the server does not support SSL \(TLS\) connections, and sslmode=require requires them — turn TLS on/
        )
      ]
    })
  })
})
