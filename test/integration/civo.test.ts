import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { hintFor } from '../../src/action/hints.js'
import { Cancellation } from '../../src/base/cancellation.js'
import { MigrationError } from '../../src/base/errors.js'
import { Connector, explainConnectError } from '../../src/pg/connection.js'
import {
  civoFirewallCommand,
  resolveCivoTarget as resolve,
  type CivoTarget,
  type ResolveCivoOptions
} from '../../src/targets/civo.js'
import { recordingLog, type RecordedLog } from '../support/in-process.js'
import { civoDatabase, startCivoApi } from '../support/civo-api.js'
import { startTlsServer } from '../support/civo-target.js'
import { runAction } from '../support/run-action.js'
import { freePort, stopServer, type ServerInfo } from '../support/servers.js'
import { loadTestbed, uniqueName } from '../support/testbed.js'

const API_KEY = `civo-key-${randomBytes(8).toString('hex')}`

// Two per page, as the double pages them: page 1 MySQL and Building, page 2 the target and an old
// one, page 3 two of the same name. NYC1 holds a same-named database that must never be picked.
const DATABASES = [
  civoDatabase({ id: 'db-mysql', name: 'shop-mysql', software: 'MySQL', software_version: '8.0' }),
  civoDatabase({ id: 'db-building', name: 'staging', status: 'Building' }),
  civoDatabase({
    id: 'db-app',
    name: 'app-db',
    public_ipv4: '203.0.113.20',
    database_user_info: [{ username: 'civo', password: 'app-db-password-7f3a', port: 6543 }]
  }),
  civoDatabase({ id: 'db-old', name: 'legacy', software_version: '13' }),
  civoDatabase({ id: 'db-dup-1', name: 'twin' }),
  civoDatabase({ id: 'db-dup-2', name: 'twin' }),
  civoDatabase({ id: 'db-nyc', name: 'app-db', region: 'NYC1', public_ipv4: '198.51.100.9' })
]

let api: Awaited<ReturnType<typeof startCivoApi>>
let recorded: RecordedLog

beforeAll(async () => {
  api = await startCivoApi({ apiKey: API_KEY, databases: DATABASES })
})
afterAll(async () => {
  await api.close()
})
beforeEach(() => {
  recorded = recordingLog()
  api.requests.length = 0
  api.setDatabases(DATABASES)
  api.failWith(undefined)
})

/** What the action does with the civo-* inputs, logging to the recorded log. */
function resolveCivoTarget(civo: CivoTarget, options: Omit<ResolveCivoOptions, 'input'>) {
  return resolve(civo, { input: 'civo-database', ...options }, recorded.log)
}

function civo(database: string, extra: Partial<CivoTarget> = {}): CivoTarget {
  return { apiKey: API_KEY, database, region: 'LON1', apiUrl: api.url, ...extra }
}

/** The rejection as the user sees it: message and hint. */
async function failure(promise: Promise<unknown>): Promise<{ message: string; hint?: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(MigrationError)
  return { message: (error as MigrationError).message, hint: hintFor(error as MigrationError) }
}

describe('resolveCivoTarget against the Civo API double', () => {
  test('finds a database by name on page 2, sending the key as a bearer token', async () => {
    const endpoint = await resolveCivoTarget(civo('app-db'), { connectTimeout: 7 })
    expect(endpoint).toEqual({
      input: 'civo-database',
      host: '203.0.113.20',
      port: 6543,
      user: 'civo',
      password: 'app-db-password-7f3a',
      database: 'postgres',
      sslmode: 'require',
      sslFiles: {},
      connectTimeout: 7,
      civo: { id: 'db-app', name: 'app-db', region: 'LON1', firewallId: 'fw-db-app', created: false }
    })
    expect(api.requests.map((r) => [r.path, r.region, r.page])).toEqual([
      ['/v2/databases', 'LON1', '1'],
      ['/v2/databases', 'LON1', '2'],
      ['/v2/databases', 'LON1', '3'],
      ['/v2/databases/versions', 'LON1', null]
    ])
    expect(recorded.lines).toContain('Civo offers PostgreSQL 17, 16, 14 (default 17)')
    expect(new Set(api.requests.map((r) => r.authorization))).toEqual(new Set([`bearer ${API_KEY}`]))
  })

  test('finds a database by id, into the target database asked for', async () => {
    const endpoint = await resolveCivoTarget(civo('db-app'), { connectTimeout: 10, targetDatabase: 'app' })
    expect(endpoint).toMatchObject({ host: '203.0.113.20', port: 6543, database: 'app', civo: { name: 'app-db' } })
  })

  test("the port falls back to the item's, then 5432", async () => {
    api.setDatabases([
      civoDatabase({ id: 'a', name: 'a', port: 25060, database_user_info: [{ username: 'civo', password: 'pa' }] }),
      civoDatabase({ id: 'b', name: 'b', port: undefined, database_user_info: [{ username: 'civo', password: 'pb' }] })
    ])
    expect((await resolveCivoTarget(civo('a'), { connectTimeout: 10 })).port).toBe(25060)
    expect((await resolveCivoTarget(civo('b'), { connectTimeout: 10 })).port).toBe(5432)
  })

  test('the password is masked the moment it is read', async () => {
    await resolveCivoTarget(civo('app-db'), { connectTimeout: 10 })
    expect(recorded.masked).toContain('app-db-password-7f3a')
    expect(recorded.lines.join('\n')).not.toContain('app-db-password-7f3a')
  })

  test('an unknown name lists the databases of that region', async () => {
    expect(await failure(resolveCivoTarget(civo('nope'), { connectTimeout: 10 }))).toEqual({
      message: 'no Civo database "nope" in LON1 (found: shop-mysql, staging, app-db, legacy, twin, twin)',
      hint: 'check civo-database and civo-region'
    })
  })

  test('two databases of one name are refused, naming their ids', async () => {
    expect(await failure(resolveCivoTarget(civo('twin'), { connectTimeout: 10 }))).toEqual({
      message: '2 Civo databases in LON1 are named "twin" (ids db-dup-1, db-dup-2)',
      hint: 'set civo-database to the id of the one to migrate into'
    })
  })

  test('a database that is not Ready is refused with its status', async () => {
    expect(await failure(resolveCivoTarget(civo('staging'), { connectTimeout: 10 }))).toEqual({
      message: 'Civo database "staging" is Building, not Ready',
      hint: 'wait until it is Ready (civo database show staging) and run again'
    })
  })

  test('a MySQL database is refused', async () => {
    expect(await failure(resolveCivoTarget(civo('shop-mysql'), { connectTimeout: 10 }))).toEqual({
      message: 'Civo database "shop-mysql" runs MySQL, not PostgreSQL',
      hint: 'set civo-database to a PostgreSQL database'
    })
  })

  test('a database older than the source is refused as a downgrade', async () => {
    expect(await failure(resolveCivoTarget(civo('legacy'), { connectTimeout: 10, sourceMajor: 14 }))).toEqual({
      message: 'Civo database "legacy" runs PostgreSQL 13, older than the source\'s 14: a downgrade',
      hint: 'create a Civo database with PostgreSQL 14 or newer (Civo offers 17, 16, 14)'
    })
    await expect(resolveCivoTarget(civo('legacy'), { connectTimeout: 10, sourceMajor: 13 })).resolves.toMatchObject({
      civo: { id: 'db-old' }
    })
  })

  test('a refused key says so, and never repeats the key the server echoed', async () => {
    const wrongKey = `wrong-${randomBytes(8).toString('hex')}`
    const { message, hint } = await failure(
      resolveCivoTarget(civo('app-db', { apiKey: wrongKey }), { connectTimeout: 10 })
    )
    expect(message).toMatch(/^the Civo API refused the API key \(HTTP 401\): authentication_invalid_key/)
    expect(hint).toBe(
      'check civo-api-key: create an API key with access to databases and firewalls in the Civo dashboard and pass it from a secret'
    )
    expect(api.requests[0].authorization).toBe(`bearer ${wrongKey}`)
    expect(`${message} ${hint}`).not.toContain(wrongKey)
    expect(recorded.lines.join('\n')).not.toContain(wrongKey)
  })

  test("another HTTP error carries Civo's code and reason, but not the key", async () => {
    api.failWith({ status: 500, body: { code: 'database_instance_list', reason: `listing failed for ${API_KEY}` } })
    const { message } = await failure(resolveCivoTarget(civo('app-db'), { connectTimeout: 10 }))
    expect(message).toBe(
      'the Civo API answered HTTP 500 to GET /v2/databases?region=LON1&page=1: database_instance_list: listing failed for ***'
    )
  })

  test('an unreachable API names civo-api-url', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`
    expect(await failure(resolveCivoTarget(civo('app-db', { apiUrl: closed }), { connectTimeout: 10 }))).toEqual({
      message: `could not reach the Civo API at ${closed} (ECONNREFUSED)`,
      hint: 'check civo-api-url and that this runner can reach it'
    })
  })

  test('a connection failure to a Civo target gets the firewall hint', async () => {
    const endpoint = await resolveCivoTarget(civo('app-db'), { connectTimeout: 10 })
    expect(civoFirewallCommand(endpoint.civo, endpoint.port)).toBe(
      'civo firewall rule create fw-db-app --startport 6543 --cidr <runner ip>/32 --region LON1'
    )
    const hint =
      "the Civo database firewall must admit this runner's IP address: set civo-firewall: open to let the action do it for the run, " +
      'or add it yourself (`civo firewall rule create fw-db-app --startport 6543 --cidr <runner ip>/32 --region LON1`)'
    const civoContext = { civo: { ref: endpoint.civo, port: endpoint.port } }
    const unreachable = explainConnectError(endpoint, { code: 'ETIMEDOUT', message: 'connect ETIMEDOUT' })
    expect(unreachable.message).toBe('civo-database (203.0.113.20:6543/postgres): cannot reach the server (ETIMEDOUT)')
    expect(hintFor(unreachable, civoContext)).toBe(hint)
    const slow = explainConnectError(endpoint, { message: 'timeout expired' })
    expect(hintFor(slow, civoContext)).toBe(`${hint} (raise connect-timeout for slow networks)`)
    const auth = explainConnectError(endpoint, { code: '28P01', message: 'password authentication failed' })
    expect(hintFor(auth, civoContext)).toBe('check the user name and password in civo-database')
    expect(hintFor(unreachable)).toMatch(/^check the host and port in civo-database/)
    // Admitted by the action and still unreachable: the address it asked for may not be the runner's own.
    expect(hintFor(unreachable, { civo: { ...civoContext.civo, firewall: true } })).toBe(
      "the action admitted this runner's address to Civo firewall fw-db-app; if the runner reaches the internet through another address, set runner-ip to it"
    )
  })
})

describe('civo-create: a fresh target for a rehearsal', () => {
  const create = { size: 'g3.db.medium', waitSeconds: 60 }

  test('a missing database is created with the version Civo marks default, and waited for until Ready', async () => {
    const endpoint = await resolveCivoTarget(civo('rehearsal'), { connectTimeout: 10, create })
    expect(endpoint.civo).toMatchObject({ name: 'rehearsal', created: true })
    const posted = api.requests.filter((r) => r.method === 'POST')
    expect(posted.map((r) => [r.path, r.body])).toEqual([
      [
        '/v2/databases',
        {
          region: 'LON1',
          name: 'rehearsal',
          size: 'g3.db.medium',
          software: 'PostgreSQL',
          software_version: '17',
          nodes: 1
        }
      ]
    ])
    const id = endpoint.civo.id
    expect(recorded.lines).toEqual(
      expect.arrayContaining([
        'creating Civo database "rehearsal" in LON1: PostgreSQL 17, size g3.db.medium, 1 node',
        `Civo database "rehearsal" is ${id}; waiting until it is Ready`,
        'Civo database "rehearsal": Pending after 0 s; next look in 2 s'
      ])
    )
    expect(recorded.lines.some((line) => /^Civo database "rehearsal" is Ready after \d+ s$/.test(line))).toBe(true)
    expect(api.requests.filter((r) => r.path === `/v2/databases/${id}`)).toHaveLength(2)
  })

  test('a same-named database of the major asked for is used, not created again', async () => {
    const endpoint = await resolveCivoTarget(civo('app-db'), { connectTimeout: 10, create })
    expect(endpoint.civo).toMatchObject({ id: 'db-app', created: false })
    expect(api.requests.filter((r) => r.method === 'POST')).toEqual([])
  })

  test('a same-named database of another major is refused, never replaced', async () => {
    expect(await failure(resolveCivoTarget(civo('legacy'), { connectTimeout: 10, create }))).toEqual({
      message: 'Civo database "legacy" exists with PostgreSQL 13, not the 17 asked to create',
      hint: "give civo-database a name no database has, or set civo-pg-version to the existing database's major; a database is never replaced"
    })
    expect(api.requests.filter((r) => r.method === 'POST')).toEqual([])
  })

  test('a version Civo does not offer is refused with those it does', async () => {
    const asked = { ...create, version: '12' }
    expect(await failure(resolveCivoTarget(civo('rehearsal-12'), { connectTimeout: 10, create: asked }))).toEqual({
      message: 'Civo offers no PostgreSQL 12 (it offers 17, 16, 14)',
      hint: "set civo-pg-version to a version Civo offers (17, 16, 14), or leave it empty for Civo's default"
    })
  })

  test('nothing older than the source is created', async () => {
    const older = { ...create, version: '14' }
    expect(
      await failure(resolveCivoTarget(civo('rehearsal-14'), { connectTimeout: 10, create: older, sourceMajor: 16 }))
    ).toEqual({
      message: "PostgreSQL 14, asked for the new Civo database, is older than the source's 16: a downgrade",
      hint: 'create it with PostgreSQL 16 or newer (Civo offers 17, 16, 14)'
    })
    expect(
      (await failure(resolveCivoTarget(civo('rehearsal-18'), { connectTimeout: 10, create, sourceMajor: 18 }))).message
    ).toBe("Civo offers no PostgreSQL version as new as the source's 18 (it offers 17, 16, 14)")
    expect(api.requests.filter((r) => r.method === 'POST')).toEqual([])
  })

  test('a database that is not Ready in time stops the run, naming it', async () => {
    const { message } = await failure(
      resolveCivoTarget(civo('slow'), { connectTimeout: 10, create: { ...create, waitSeconds: 1 } })
    )
    expect(message).toMatch(/^Civo database "slow" \(db-new-\d+\) is still Pending after 0 s$/)
  })
})

// Civo serves PostgreSQL over TLS only, and the action asks for sslmode=require. The shared test bed
// has no TLS, so this file starts its own PostgreSQL 17 with a throwaway self-signed certificate: the
// real server, the real TLS handshake, nothing relaxed in the product.
describe('the action resolves its target from Civo', () => {
  const testbed = loadTestbed()
  const db = uniqueName('civo')
  let baseDir: string
  let tlsServer: ServerInfo

  beforeAll(async () => {
    baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'civo-tls-'))
    tlsServer = await startTlsServer(baseDir)
    await testbed.createSourceDatabase(
      db,
      'CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items VALUES (1, $$one$$)'
    )
  })
  afterAll(async () => {
    if (tlsServer) await stopServer(tlsServer)
    if (baseDir) fs.rmSync(baseDir, { recursive: true, force: true })
  })

  function civoInputs(database: string): Record<string, string> {
    return {
      mode: 'plan',
      'source-url': testbed.sourceUrl(db),
      'civo-api-key': API_KEY,
      'civo-database': database,
      'civo-region': 'LON1',
      'civo-api-url': api.url,
      // The firewall the action opens has a file of its own (civo-firewall.test.ts).
      'civo-firewall': 'off',
      'client-download-url': testbed.clientTemplate
    }
  }

  test('mode plan with no target-url: the target comes from the API, over TLS, and the plan passes', async () => {
    const admin = tlsServer.admin as { user: string; password: string }
    api.setDatabases([
      ...DATABASES,
      civoDatabase({
        id: 'db-e2e',
        name: 'e2e-target',
        public_ipv4: tlsServer.host,
        port: tlsServer.port,
        database_user_info: [{ username: admin.user, password: admin.password, port: tlsServer.port }]
      })
    ])
    const run = await runAction(civoInputs('e2e-target'))
    expect({
      exitCode: run.exitCode,
      result: run.outputs.result,
      tail: run.exitCode ? (run.stdout + run.stderr).slice(-3000) : ''
    }).toEqual({
      exitCode: 0,
      result: 'planned',
      tail: ''
    })
    expect(run.outputs['target-version']).toMatch(/^17\./)
    expect(api.requests.length).toBeGreaterThan(0)
    expect(new Set(api.requests.map((r) => r.authorization))).toEqual(new Set([`bearer ${API_KEY}`]))
    // The single database goes to a same-named database, not to the maintenance database used to connect.
    expect(run.report.databases.map((d: { name: string; target: string }) => [d.name, d.target])).toEqual([[db, db]])
    // The password from the API is masked, and appears nowhere else in the log.
    expect(run.stdout).toContain(`::add-mask::${admin.password}`)
    expect(run.stdout.replaceAll(`::add-mask::${admin.password}`, '')).not.toContain(admin.password)
    expect(run.stdout.replaceAll(`::add-mask::${API_KEY}`, '')).not.toContain(API_KEY)
  })

  test('sslmode=require is real: the test bed server without TLS is refused', async () => {
    const target = testbed.target
    const admin = target.admin as { user: string; password: string }
    api.setDatabases([
      civoDatabase({
        id: 'db-plain',
        name: 'plain',
        public_ipv4: target.host,
        database_user_info: [{ username: admin.user, password: admin.password, port: target.port }]
      })
    ])
    const endpoint = await resolveCivoTarget(civo('plain'), { connectTimeout: 5 })
    const connector = new Connector({ log: recorded.log, cancellation: new Cancellation() })
    await expect(connector.connect(endpoint, { attempts: 1 })).rejects.toThrow(/does not support SSL/)
  })

  test('an unreachable Civo database fails the plan with the firewall hint', async () => {
    const closedPort = await freePort()
    api.setDatabases([
      civoDatabase({
        id: 'db-closed',
        name: 'closed-target',
        public_ipv4: '127.0.0.1',
        port: closedPort,
        database_user_info: [{ username: 'civo', password: 'closed-password-1d9e', port: closedPort }]
      })
    ])
    const run = await runAction({ ...civoInputs('closed-target'), 'connect-timeout': '2' })
    expect(run.exitCode).toBe(1)
    expect(run.outputs.result).toBe('failed')
    expect(run.stdout).toContain(
      `civo-database (127.0.0.1:${closedPort}/postgres): cannot reach the server (ECONNREFUSED)`
    )
    expect(run.stdout).toContain('set civo-firewall: open to let the action do it for the run')
    expect(run.stdout).toContain(
      `civo firewall rule create fw-db-closed --startport ${closedPort} --cidr <runner ip>/32 --region LON1`
    )
  })
})
