// A hostile source against every mode: the database (test/support/hostile.ts) shadows the functions,
// operators and catalogs the action's SQL names, and every shadow writes a line to the server's log
// when it runs. Each mode runs in-process as a superuser would run it, with every query the action's
// sessions send recorded: the test asserts that each session pinned its search_path before anything
// else, that plan and validate sessions were read only, and that no shadow ran on either server;
// and that the run wrote nothing outside dump-path and RUNNER_TEMP, and forged no workflow command.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { SECURE_SEARCH_PATH } from '../../src/pg/connection.js'
import { runInProcess, type InProcessOptions, type InProcessRun } from '../support/in-process.js'
import {
  forgedCommands,
  realFs,
  recordingTools,
  recordWrites,
  stopRecordingWrites,
  touched
} from '../support/run-watch.js'
import { hostileDatabaseSql, hostileMarker, HOSTILE_NAMES, SHADOWS } from '../support/hostile.js'
import { serverUrl } from '../support/servers.js'
import { loadTestbed, quoteIdent, uniqueName, withClient } from '../support/testbed.js'

const testbed = loadTestbed()
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-'))
const token = randomBytes(6).toString('hex')
const owner = { user: uniqueName('hostile_owner'), password: randomBytes(12).toString('hex') }
const db = uniqueName('hostile')
const withClientOnPath: InProcessOptions = { env: { PGBIN: testbed.clientBinDir } }

const serverLog = (side: 'source' | 'target'): string => path.join(path.dirname(testbed[side].dataDir), 'server.log')

/** The lines this test's shadows wrote to both servers' logs since `from` (byte offsets per server). */
function hostileLines(from: Record<'source' | 'target', number>): string[] {
  return (['source', 'target'] as const).flatMap((side) => {
    const log = fs.readFileSync(serverLog(side))
    return log
      .subarray(from[side])
      .toString('utf8')
      .split('\n')
      .filter((line) => line.includes(hostileMarker(token)))
      .map((line) => `${side}: ${line.slice(line.indexOf(hostileMarker(token)))}`)
  })
}

const logEnds = (): Record<'source' | 'target', number> => ({
  source: fs.statSync(serverLog('source')).size,
  target: fs.statSync(serverLog('target')).size
})

/** Every query each of the action's sessions sent, in order (the test's own clients are left out). */
const sessions = new Map<pg.Client, string[]>()
const realQuery = pg.Client.prototype.query
beforeAll(() => {
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as string | { text?: string } | undefined
    const text = typeof config === 'string' ? config : (config?.text ?? '')
    if (
      (this as unknown as { connectionParameters: { application_name?: string } }).connectionParameters
        .application_name === 'pg-migrate-action'
    ) {
      const texts = sessions.get(this) ?? []
      texts.push(text)
      sessions.set(this, texts)
    }
    return (realQuery as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof pg.Client.prototype.query
})
afterAll(() => {
  pg.Client.prototype.query = realQuery
  fs.rmSync(scratch, { recursive: true, force: true })
})

beforeAll(recordWrites)
afterAll(stopRecordingWrites)

/**
 * The action run in this process on the hostile source, RUNNER_TEMP a folder of its own: nothing it
 * writes falls outside dump-path and RUNNER_TEMP, and nothing it logs forges a workflow command.
 */
async function hostileRun(inputs: Record<string, string>): Promise<InProcessRun> {
  const runnerTemp = realFs.mkdtempSync(path.join(scratch, 'temp-'))
  touched.length = 0
  const run = await runInProcess(inputs, {
    env: { ...withClientOnPath.env, RUNNER_TEMP: runnerTemp },
    tools: recordingTools
  })
  const inside = [runnerTemp, ...(inputs['dump-path'] ? [path.resolve(inputs['dump-path'])] : [])]
  // The harness's own step folder, made before the run and unused, as RUNNER_TEMP is given; the
  // folders above dump-path, made if missing.
  const harness = path.join(os.tmpdir(), 'pg-migrate-step-')
  const within = (file: string, folder: string) => file === folder || file.startsWith(folder + path.sep)
  const outside = touched.filter(
    ({ op, file }) =>
      !file.startsWith(harness) &&
      !inside.some((folder) => within(file, folder) || (op === 'mkdir' && within(folder, file)))
  )
  expect(outside).toEqual([])
  expect(touched.length).toBeGreaterThan(0)
  expect(forgedCommands(run.lines)).toEqual([])
  return run
}

/** What a session may send about search_path after its pin: each keeps user schemas out, or is undone before the action's own SQL goes on. */
const SEARCH_PATH_STATEMENTS = [
  /^SET LOCAL search_path = pg_catalog, pg_temp$/, // the plan's function-body probe, rolled back
  /^SET LOCAL search_path TO DEFAULT$/, // a validation query of the user's, in a savepoint rolled back after it
  /SET search_path = ''/, // loads and the sync's apply, as pg_restore sets it
  /SET search_path = 'pg_catalog'/, // the verify's sessions
  /^RESET search_path$/ // the scope's pattern queries, as pg_dump runs them; pinned again after (below)
]

/** A statement that changes this session's search_path (ALTER DATABASE … SET, carrying a setting, does not). */
const CHANGES_SEARCH_PATH = /(^|;\s*)(SET|RESET)\b[^;]*search_path|set_config\(\s*'search_path'/i

/** Words written like a call, `word (`, that name no function. */
const NOT_CALLS = new Set([
  'OPERATOR',
  'ANY',
  'ALL',
  'IN',
  'VALUES',
  'EXISTS',
  'AND',
  'OR',
  'NOT',
  'ON',
  'USING',
  'FROM',
  'JOIN',
  'WHERE',
  'SELECT',
  'AS'
])

/**
 * The names a statement resolves through the search_path: calls, casts, collations and operators
 * not written as pg_catalog's. On the pinned (empty) search_path each resolves in pg_catalog alone;
 * on any other, any of them may resolve to an object of the database's own.
 */
function unqualifiedReferences(sql: string): string[] {
  const bare = sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""')
  const found: string[] = []
  const qualified = (schema: string | undefined) => schema?.toLowerCase() === 'pg_catalog'
  for (const [, schema, name] of bare.matchAll(/(?:(\w+|"")\s*\.\s*)?(\w+|"")\s*\(/g))
    if (!qualified(schema) && !(schema === undefined && NOT_CALLS.has(name.toUpperCase()))) found.push(`${name}(`)
  for (const [, schema, name] of bare.matchAll(/(?:::|\bCOLLATE\s)\s*(?:(\w+|"")\s*\.\s*)?(\w+|"")/gi))
    if (!qualified(schema)) found.push(`::${name}`)
  const operands = bare.replace(/\bOPERATOR\s*\(\s*pg_catalog\s*\.\s*[^)\s]+\s*\)/gi, ' ').replace(/::|\(\*\)/g, ' ')
  for (const [operator] of operands.matchAll(/[-+*/<>=~!@#%^&|`?]+|\b(?:I?LIKE|SIMILAR|BETWEEN|IN|DISTINCT)\b/gi))
    found.push(operator)
  return found
}

const READ_ONLY_PIN = `${SECURE_SEARCH_PATH}, pg_catalog.set_config('default_transaction_read_only', 'on', false)`

/** Checks what the sessions opened since the last call sent; returns how many there were. */
function checkSessions(readOnly: boolean): number {
  const opened = [...sessions.values()]
  sessions.clear()
  for (const texts of opened) {
    // The plan's sessions are read only in every mode; all of them in plan and validate.
    expect([SECURE_SEARCH_PATH, READ_ONLY_PIN]).toContain(texts[0])
    if (readOnly) expect(texts[0]).toBe(READ_ONLY_PIN)
    let unpinned = false
    for (const text of texts.slice(1)) {
      if (text.startsWith(SECURE_SEARCH_PATH)) unpinned = false
      else if (CHANGES_SEARCH_PATH.test(text)) {
        expect(SEARCH_PATH_STATEMENTS.some((allowed) => allowed.test(text)) ? 'allowed' : text).toBe('allowed')
        if (/RESET/.test(text)) unpinned = true
      } else if (unpinned) expect({ text, unqualified: unqualifiedReferences(text) }).toEqual({ text, unqualified: [] })
    }
    expect(unpinned).toBe(false)
  }
  return opened.length
}

const source = (database = db) => serverUrl(testbed.source, database)

function migrate(target: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'source-url': source(),
    'target-url': testbed.targetUrl(target),
    jobs: '2',
    'upload-artifact': 'false',
    'dump-path': path.join(scratch, uniqueName('dump')),
    'validation-queries': 'SELECT id, label FROM plain ORDER BY id',
    ...extra
  }
}

let from: Record<'source' | 'target', number>

beforeAll(async () => {
  await testbed.query('source', 'postgres', `CREATE ROLE ${owner.user} LOGIN PASSWORD '${owner.password}'`)
  await testbed.query('source', 'postgres', `CREATE DATABASE ${db} OWNER ${owner.user}`)
  await withClient(serverUrl(testbed.source, db, owner), (client) => client.query(hostileDatabaseSql(db, token)))
  // The detector works: on the database's own search_path, each shadow answers the call it is made for.
  const before = logEnds()
  await withClient(serverUrl(testbed.source, db, owner), async (client) => {
    for (const shadow of SHADOWS)
      await expect(client.query(shadow.probe)).rejects.toThrow(`${hostileMarker(token)}: ${shadow.name}`)
  })
  const caught = hostileLines(before).join('\n')
  for (const shadow of SHADOWS) expect(caught).toContain(`: ${shadow.name} in ${db}`)
  from = logEnds()
})

afterEach(() => {
  expect(hostileLines(from)).toEqual([])
  sessions.clear()
})

test('plan: read-only sessions, nothing of the source runs', async () => {
  const run = await hostileRun({ ...migrate(`${db}_plan`), mode: 'plan' })
  expect({ result: run.report.result, failed: run.failed }).toEqual({ result: 'planned', failed: undefined })
  expect(checkSessions(true)).toBeGreaterThanOrEqual(3)
  // A one-part table pattern is resolved on the login's own search_path, as pg_dump does, and the
  // session pinned again after: the statements between qualify every name.
  const scoped = await hostileRun({ ...migrate(`${db}_plan`), mode: 'plan', tables: 'plain' })
  expect({ result: scoped.report.result, failed: scoped.failed }).toEqual({ result: 'planned', failed: undefined })
  expect(scoped.report.databases[0].scope?.patterns.tables).toEqual(['plain'])
  const resets = [...sessions.values()].filter((texts) => texts.includes('RESET search_path'))
  expect(resets.length).toBeGreaterThanOrEqual(1)
  expect(checkSessions(true)).toBeGreaterThanOrEqual(3)
})

test('migrate over the stream: the hostile names arrive, and nothing ran', async () => {
  const run = await hostileRun(migrate(`${db}_streamed`, { 'copy-method': 'stream' }))
  expect({ result: run.report.result, failed: run.failed, errors: run.errors }).toEqual({
    result: 'passed',
    failed: undefined,
    errors: []
  })
  expect(run.report.databases[0].stream).toMatchObject({ hashedInFlight: 1, hashedByValue: expect.any(Number) })
  expect(run.report.databases[0].stream?.hashedByValue).toBeGreaterThan(0)
  expect(checkSessions(false)).toBeGreaterThanOrEqual(6)
})

test('migrate, then validate: the hostile names arrive, loaded while dumped, and nothing ran', async () => {
  const target = `${db}_copy`
  const run = await hostileRun(migrate(target, { 'copy-method': 'dump' }))
  expect({ result: run.report.result, failed: run.failed, errors: run.errors }).toEqual({
    result: 'passed',
    failed: undefined,
    errors: []
  })
  // The name reached the log (pg_dump's and pg_restore's verbose lines): forgedCommands saw it printed.
  expect(run.lines.filter((line) => line.includes('::error::forged')).length).toBeGreaterThan(0)
  expect(run.report.databases[0].restore?.followed).toEqual([
    `${quoteIdent(HOSTILE_NAMES.schema)}.${quoteIdent(HOSTILE_NAMES.newline)}`
  ])
  // The user's query names its table unqualified: it runs on the database's own search_path.
  for (const side of ['sourceFingerprint', 'targetFingerprint'] as const)
    expect(run.report.databases[0][side]?.queries).toEqual([
      {
        sql: 'SELECT id, label FROM plain ORDER BY id',
        columns: ['id', 'label'],
        rowCount: 100,
        checksum: expect.any(String)
      }
    ])
  expect(checkSessions(false)).toBeGreaterThanOrEqual(6)

  const validated = await hostileRun({ ...migrate(target), mode: 'validate' })
  expect({ result: validated.report.result, failed: validated.failed }).toEqual({ result: 'passed', failed: undefined })
  expect(checkSessions(true)).toBeGreaterThanOrEqual(4)
})

test('dump, then restore', async () => {
  const dumpPath = path.join(scratch, uniqueName('split'))
  const dumped = await hostileRun({
    'source-url': source(),
    mode: 'dump',
    'dump-path': dumpPath,
    jobs: '2',
    'upload-artifact': 'false',
    'postgres-version': '17'
  })
  expect({ result: dumped.report.result, failed: dumped.failed }).toEqual({ result: 'passed', failed: undefined })
  const restored = await hostileRun({
    'target-url': testbed.targetUrl(`${db}_restored`),
    mode: 'restore',
    'dump-path': dumpPath,
    jobs: '2'
  })
  expect({ result: restored.report.result, failed: restored.failed }).toEqual({ result: 'passed', failed: undefined })
  expect(checkSessions(false)).toBeGreaterThanOrEqual(4)
})

test('sync: the replication connection is pinned too', async () => {
  const run = await hostileRun(migrate(`${db}_synced`, { sync: 'logical', 'cutover-idle-seconds': '1' }))
  expect({ result: run.report.result, failed: run.failed }).toEqual({ result: 'passed', failed: undefined })
  const replication = [...sessions.values()].filter((texts) =>
    texts.some((text) => text.startsWith('CREATE_REPLICATION_SLOT'))
  )
  expect(replication).toHaveLength(1)
  expect(checkSessions(false)).toBeGreaterThanOrEqual(6)
})
