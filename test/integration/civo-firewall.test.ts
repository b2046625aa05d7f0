import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { civoDatabase, startCivoApi } from '../support/civo-api.js'
import { firewallLogins, startTlsServer } from '../support/civo-target.js'
import { errorLines, outcome, PASSED, runAction, type ActionRun } from '../support/run-action.js'
import { stopServer, type ServerInfo } from '../support/servers.js'
import { loadTestbed, uniqueName } from '../support/testbed.js'

// A Civo database whose firewall is real: a PostgreSQL 17 of this file's own (TLS on, as Civo serves
// it) admits its managed login only while a rule of the API double covers the address the double's
// IP echo answers (127.0.0.1) and the database port. The action runs as a workflow step would.

const API_KEY = `civo-key-${randomBytes(8).toString('hex')}`
const READ_ONLY_KEY = `civo-readonly-${randomBytes(8).toString('hex')}`
const FIREWALL = 'fw-e2e'

const testbed = loadTestbed()
const db = uniqueName('civofw')
let baseDir: string
let toolCache: string
let server: ServerInfo
let firewall: Awaited<ReturnType<typeof firewallLogins>>
let api: Awaited<ReturnType<typeof startCivoApi>>

beforeAll(async () => {
  baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'civo-fw-'))
  toolCache = path.join(baseDir, 'tool-cache')
  server = await startTlsServer(baseDir)
  firewall = await firewallLogins(server, '127.0.0.1')
  const admin = server.admin as { user: string; password: string }
  api = await startCivoApi({
    apiKey: API_KEY,
    readOnlyKey: READ_ONLY_KEY,
    databases: [
      civoDatabase({
        id: 'db-e2e',
        name: 'e2e-target',
        public_ipv4: server.host,
        port: server.port,
        firewall_id: FIREWALL,
        database_user_info: [{ username: admin.user, password: admin.password, port: server.port }]
      })
    ],
    onRulesChange: (id, rules) => firewall.onRulesChange(id, rules),
    // civo-create makes a database on this same server, behind the same firewall.
    created: () => ({
      public_ipv4: server.host,
      port: server.port,
      firewall_id: FIREWALL,
      database_user_info: [{ username: admin.user, password: admin.password, port: server.port }]
    })
  })
  await testbed.createSourceDatabase(
    db,
    'CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g'
  )
}, 120_000)
afterAll(async () => {
  await api?.close()
  if (server) await stopServer(server)
  if (baseDir) fs.rmSync(baseDir, { recursive: true, force: true })
})
beforeEach(async () => {
  api.requests.length = 0
  await api.setRules(FIREWALL, [])
})

/** A step of run `runId`, attempt `attempt`, migrating into a new database on the Civo server. */
function step(inputs: Record<string, string>, run: { id: string; attempt?: number }, options = {}): Promise<ActionRun> {
  return runAction(
    {
      'source-url': testbed.sourceUrl(db),
      'target-database': uniqueName('civofw_target'),
      'civo-api-key': API_KEY,
      'civo-database': 'e2e-target',
      'civo-region': 'LON1',
      'civo-api-url': api.url,
      'ip-echo-url': `${api.url}/ip`,
      'client-download-url': testbed.clientTemplate,
      'upload-artifact': 'false',
      jobs: '2',
      ...inputs
    },
    {
      toolCache,
      env: { GITHUB_RUN_ID: run.id, GITHUB_RUN_ATTEMPT: String(run.attempt ?? 1), GITHUB_JOB: 'migrate' },
      ...options
    }
  )
}

/** Neither the API key nor the database password appears in the log, save in the lines that mask them. */
function expectNoSecrets(run: ActionRun): void {
  const admin = server.admin as { password: string }
  for (const secret of [API_KEY, READ_ONLY_KEY, admin.password]) {
    const log = (run.stdout + run.stderr).replaceAll(`::add-mask::${secret}`, '')
    expect(log).not.toContain(secret)
  }
  expect(run.summary).not.toContain(admin.password)
}

test('the firewall is real: with civo-firewall off the login is refused', async () => {
  const run = await step({ mode: 'plan', 'civo-firewall': 'off' }, { id: '400' })
  expect(run.exitCode).toBe(1)
  expect(run.stdout).toMatch(/no pg_hba\.conf entry for host "127\.0\.0\.1"/)
  expect(api.requests.filter((r) => r.path.startsWith('/v2/firewalls'))).toEqual([])
  expectNoSecrets(run)
})

test('a migrate opens the firewall for the runner only, passes, and leaves no rule', async () => {
  const run = await step({}, { id: '401' })
  expect(outcome(run)).toEqual(PASSED)
  const posted = api.requests.filter((r) => r.method === 'POST' && r.path === `/v2/firewalls/${FIREWALL}/rules`)
  expect(posted.map((r) => r.body)).toEqual([
    {
      region: 'LON1',
      protocol: 'tcp',
      start_port: String(server.port),
      end_port: String(server.port),
      cidr: ['127.0.0.1/32'],
      direction: 'ingress',
      action: 'allow',
      label: expect.stringMatching(/^pg-migrate-action run 401\.1 migrate until \d{4}-\d\d-\d\dT\d\d:\d\dZ$/)
    }
  ])
  expect(api.rules(FIREWALL)).toEqual([])
  expect(await firewall.admitted()).toBe(false)
  expect(run.stdout).toContain(`Civo firewall ${FIREWALL}: opening tcp ${server.port} to 127.0.0.1/32 for this run`)
  expect(run.stdout).toMatch(
    new RegExp(`Civo firewall ${FIREWALL}: removed the rule for 127\\.0\\.0\\.1/32 after \\d+ s`)
  )
  expect(run.summary).toMatch(
    new RegExp(
      `Firewall ${FIREWALL} admitted this runner's address 127\\.0\\.0\\.1/32 to port ${server.port} for \\d+ s, then removed the rule\\.`
    )
  )
  expect(run.outputs['civo-database-id']).toBe('db-e2e')
  expect(run.report.civo.firewall).toMatchObject({ cidr: '127.0.0.1/32', removed: true })
  expectNoSecrets(run)
})

test('a cancelled run removes its rule', async () => {
  let signalled = false
  const run = await step(
    {},
    { id: '402' },
    {
      onChild: (child: ChildProcess) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          // Past the firewall: the rule is in place.
          if (!signalled && chunk.toString().includes('::group::Plan')) {
            signalled = true
            child.kill('SIGINT')
          }
        })
      }
    }
  )
  expect(signalled).toBe(true)
  expect(run.exitCode).toBe(1)
  expect(run.report.cancelled).toBe('SIGINT')
  expect(api.rules(FIREWALL)).toEqual([])
  expect(api.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1)
  expect(await firewall.admitted()).toBe(false)
  expectNoSecrets(run)
})

test('a run killed outright leaves its rule; the next attempt removes it and says so, and leaves live rules alone', async () => {
  let killed = false
  const dead = await step(
    {},
    { id: '403' },
    {
      onChild: (child: ChildProcess) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          if (!killed && chunk.toString().includes('::group::Plan')) {
            killed = true
            child.kill('SIGKILL')
          }
        })
      }
    }
  )
  expect(dead.exitCode).toBe(null)
  const left = api.rules(FIREWALL)
  expect(left.map((rule) => rule.label)).toEqual([
    expect.stringMatching(/^pg-migrate-action run 403\.1 migrate until /)
  ])
  // Beside it: a rule whose 6 hours are over, one of another run that may still be going, and a person's.
  const others = [
    { label: 'pg-migrate-action run 77.1 migrate until 2026-01-01T00:00Z', cidr: ['198.51.100.4/32'] },
    { label: 'pg-migrate-action run 78.1 migrate until 2999-01-01T00:00Z', cidr: ['198.51.100.5/32'] },
    { label: 'office', cidr: ['192.0.2.0/24'] }
  ]
  await api.setRules(FIREWALL, [...left, ...others])

  const next = await step({ mode: 'plan' }, { id: '403', attempt: 2 })
  expect([next.exitCode, next.outputs.result]).toEqual([0, 'planned'])
  expect(next.stdout).toContain(
    `removed firewall rule "${left[0].label}" (127.0.0.1/32) that a stopped runner left: attempt 1 of this run has ended`
  )
  expect(next.stdout).toContain(
    'removed firewall rule "pg-migrate-action run 77.1 migrate until 2026-01-01T00:00Z" (198.51.100.4/32) that a stopped runner left: its 6 hours ended at 2026-01-01T00:00Z'
  )
  expect(next.stdout).toContain(
    'leaving firewall rule "pg-migrate-action run 78.1 migrate until 2999-01-01T00:00Z" (198.51.100.5/32): its run may still be using it'
  )
  expect(api.rules(FIREWALL).map((rule) => rule.label)).toEqual([others[1].label, 'office'])
  expect(next.summary).toContain('Removed 2 rules that stopped runners left')
  expectNoSecrets(next)
})

test('a key that may not manage the firewall: the run stops before the plan, in one line', async () => {
  const run = await step({ mode: 'plan', 'civo-api-key': READ_ONLY_KEY }, { id: '404' })
  expect(run.exitCode).toBe(1)
  expect(errorLines(run.stdout)).toEqual([
    `::error::the Civo API key may not manage firewall ${FIREWALL} of database "e2e-target" (HTTP 403): permission_denied: this key may not manage firewalls (***) — use a civo-api-key that may manage firewalls, or set civo-firewall: off and admit this runner's address yourself`
  ])
  expect(api.rules(FIREWALL)).toEqual([])
  expectNoSecrets(run)
})

test('civo-create: a missing database is created, waited for, admitted to, and migrated into; its id is an output', async () => {
  const run = await step({ 'civo-database': 'rehearsal', 'civo-create': 'true' }, { id: '405' })
  expect(outcome(run)).toEqual(PASSED)
  const id = run.outputs['civo-database-id']
  expect(id).toMatch(/^db-new-\d+$/)
  expect(run.stdout).toContain('creating Civo database "rehearsal" in LON1: PostgreSQL 17, size g3.db.small, 1 node')
  expect(run.stdout).toMatch(/Civo database "rehearsal" is Ready after \d+ s/)
  expect(run.summary).toContain(`**Civo:** database rehearsal (${id}), created by this run.`)
  expect(api.rules(FIREWALL)).toEqual([])
  expectNoSecrets(run)
})

test("split jobs each open for themselves: a restore job admits its own runner and leaves another job's rule alone", async () => {
  const dumpDir = path.join(baseDir, `split-${db}`)
  const dump = await runAction(
    {
      mode: 'dump',
      'source-url': testbed.sourceUrl(db),
      'postgres-version': '17',
      'client-download-url': testbed.clientTemplate,
      'upload-artifact': 'false',
      'dump-path': dumpDir
    },
    { toolCache }
  )
  expect(outcome(dump)).toEqual(PASSED)
  // Another job of the same run and attempt (a leg still going) holds a rule of its own.
  const otherJob = { label: 'pg-migrate-action run 406.1 plan until 2999-01-01T00:00Z', cidr: ['198.51.100.6/32'] }
  await api.setRules(FIREWALL, [otherJob])

  const restore = await step(
    { mode: 'restore', 'source-url': '', 'dump-path': dumpDir },
    { id: '406' },
    { env: { GITHUB_RUN_ID: '406', GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'restore' } }
  )
  expect(outcome(restore)).toEqual(PASSED)
  const posted = api.requests.filter((r) => r.method === 'POST' && r.path === `/v2/firewalls/${FIREWALL}/rules`)
  expect(posted.map((r) => r.body.label)).toEqual([
    expect.stringMatching(/^pg-migrate-action run 406\.1 restore until /)
  ])
  expect(restore.stdout).toContain(
    `leaving firewall rule "${otherJob.label}" (198.51.100.6/32): its run may still be using it`
  )
  expect(api.rules(FIREWALL).map((rule) => rule.label)).toEqual([otherJob.label])
  expect(restore.summary).toMatch(
    /Firewall fw-e2e admitted this runner's address 127\.0\.0\.1\/32 to port \d+ for \d+ s/
  )
  expectNoSecrets(restore)
})
