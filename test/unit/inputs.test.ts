import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { getInputs, parseValidationQueries } from '../../src/action/parse-inputs.js'
import type { ActionRunner } from '../../src/action/runner.js'
import { hintFor } from '../../src/action/hints.js'
import type { MigrationError } from '../../src/base/errors.js'
import { PATTERN_INPUTS } from '../../src/scope/types.js'
import { inputsRunner, recordingLog } from '../support/in-process.js'

const SOURCE = 'postgresql://app:s3cret@db.example.test:5432/app'
const TARGET = 'postgresql://civo:t0psecret@10.0.0.1:5432/app?sslmode=require'

let given: Record<string, string> = {}
let masked: string[] = []

function setInputs(inputs: Record<string, string>): void {
  given = inputs
}

/** A runner that answers with the inputs given and remembers what it was asked to mask. */
function runner(): ActionRunner {
  const { log } = recordingLog()
  masked = []
  return inputsRunner(given, { ...log, mask: (secret) => void masked.push(secret) })
}

/** The inputs, or the line the run would refuse them with. */
function parse() {
  return getInputs(runner())
}

test('defaults for a plain migration', () => {
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET })
  const inputs = parse()
  if (inputs.mode !== 'migrate') throw new Error('expected migrate')
  expect(inputs).toMatchObject({
    mode: 'migrate',
    privileges: 'skip',
    roles: 'fail',
    ifTargetNotEmpty: 'fail',
    verify: 'full',
    failOnMismatch: true,
    uploadArtifact: true,
    compression: 'auto',
    copyMethod: 'auto',
    databases: []
  })
  expect(inputs.jobs).toBeGreaterThanOrEqual(1)
  expect(inputs.source).toMatchObject({ host: 'db.example.test', port: 5432, user: 'app', database: 'app' })
  expect(inputs.target).toMatchObject({ url: { sslmode: 'require', database: 'app' } })
})

test('passwords are masked', () => {
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET })
  parse()
  expect(masked).toEqual(expect.arrayContaining(['s3cret', 't0psecret']))
})

test.each([
  [{ mode: 'copy' }, 'mode is "copy" — use one of: migrate, plan, validate, dump, restore'],
  [{ privileges: 'all' }, 'privileges is "all" — use one of: skip, keep'],
  [{ verify: 'fast' }, 'verify is "fast" — use one of: full, counts, none'],
  [{ jobs: 'four' }, 'jobs is "four" — give a whole number of at least 1'],
  [{ jobs: '0' }, 'jobs is "0" — give a whole number of at least 1'],
  [{ 'source-url': 'mysql://x@h/db' }, 'source-url is not a postgresql:// URL'],
  [{ 'target-url': 'postgresql://u:p@host:5432' }, 'target-url names no database'],
  [{ 'target-url': 'postgresql://u:p@host/db?sslmode=sometimes' }, 'target-url has an unknown sslmode "sometimes"'],
  [
    { 'target-url': 'postgresql://u:p@host/db?sslmode=verify-ca' },
    'target-url has sslmode=verify-ca without sslrootcert — add sslrootcert=<path of the CA certificate> to the URL, or use sslmode=verify-full'
  ],
  [{ 'postgres-version': 'latest' }, 'postgres-version is "latest"'],
  [{ 'fail-on-mismatch': 'maybe' }, 'fail-on-mismatch is "maybe" — use true or false'],
  [{ 'target-url': '' }, 'target-url is empty; mode migrate needs a target'],
  [{ 'source-url': 'postgresql://u:p@host:99999/db' }, 'source-url has an invalid port "99999" — use a port between'],
  [{ 'source-url': 'postgresql://u:p@host:abc/db' }, 'source-url has an invalid port "abc" — use a port between'],
  [{ 'target-url': 'postgresql://u:p@[::1]:0/db' }, 'target-url has an invalid port "0"'],
  [{ 'source-url': 'postgresql://u:pa/s3cret@host:5432/db' }, 'source-url could not be parsed as a URL'],
  [{ 'retention-days': '99999' }, 'retention-days is 99999 — give 1 to 90 days (up to 400 in a private repository'],
  [{ 'artifact-name': 'a/b' }, 'artifact-name "a/b" holds "/" — artifact names may not hold any of'],
  [
    { 'report-path': '../../outside.json' },
    'report-path "../../outside.json" leads outside the workspace and RUNNER_TEMP'
  ],
  [
    { 'dump-path': '../../dump' },
    'dump-path "../../dump" leads outside the workspace and RUNNER_TEMP — give a path inside'
  ],
  [{ 'report-path': os.tmpdir() }, `report-path ${os.tmpdir()} is a directory — give the path of a JSON file`],
  [{ 'report-path': '/proc/self/status' }, 'report-path /proc/self/status is on a kernel file system'],
  [{ 'validation-queries': '/etc/passwd' }, 'validation-queries "/etc/passwd" looks like a path, not SQL'],
  [
    { 'validation-queries': 'SELECT count(*) FROM a;\nSELECT pg_terminate_backend(pid) FROM pg_stat_activity;' },
    'validation-queries: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity" is refused: it calls pg_terminate_backend, which acts on the server even in a read-only transaction — keep validation queries to reads'
  ],
  [{ 'validation-queries': '/etc/checks.sql' }, 'validation-queries names /etc/checks.sql, which does not exist']
])('bad input %j is refused naming the input', (override, message) => {
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET, ...override })
  let error: MigrationError | undefined
  try {
    parse()
  } catch (caught) {
    error = caught as MigrationError
  }
  expect(error).toBeDefined()
  const hint = error && hintFor(error)
  expect(`${error?.message}${hint ? ` — ${hint}` : ''}`).toContain(message)
  expect(error?.message).not.toContain('s3cret')
  expect(error?.message).not.toContain('t0psecret')
})

describe('the Civo inputs', () => {
  const CIVO = { 'source-url': SOURCE, 'civo-api-key': 'k-123', 'civo-database': 'app-db', 'civo-region': 'LON1' }

  test('by default the action opens the firewall for the run, asking api.ipify.org, and creates nothing', () => {
    setInputs(CIVO)
    expect(parse()).toMatchObject({
      target: {
        civo: { apiKey: 'k-123', database: 'app-db', region: 'LON1', apiUrl: 'https://api.civo.com' },
        firewall: { runnerIp: undefined, ipEchoUrl: 'https://api.ipify.org' },
        create: undefined
      }
    })
    expect(masked).toContain('k-123')
  })

  test('civo-firewall off, a given runner-ip, civo-create with its size and version', () => {
    setInputs({
      ...CIVO,
      'civo-firewall': 'off',
      'civo-create': 'true',
      'civo-size': 'g3.db.medium',
      'civo-pg-version': '17'
    })
    expect(parse()).toMatchObject({ target: { firewall: undefined, create: { size: 'g3.db.medium', version: '17' } } })
    setInputs({ ...CIVO, 'runner-ip': '203.0.113.7' })
    expect(parse()).toMatchObject({ target: { firewall: { runnerIp: '203.0.113.7' } } })
  })

  test('plain http is refused unless it stays on this machine: the key, and the address to admit, travel over it', () => {
    setInputs({ ...CIVO, 'civo-api-url': 'http://127.0.0.1:8080', 'ip-echo-url': 'http://localhost:9/ip' })
    expect(parse()).toMatchObject({ target: { civo: { apiUrl: 'http://127.0.0.1:8080' } } })
  })

  test.each([
    [
      { 'civo-api-url': 'http://api.civo.com' },
      'civo-api-url is plain http to another machine: the API key would travel in clear — use its https:// address, or leave it empty for https://api.civo.com'
    ],
    [{ 'ip-echo-url': 'http://api.ipify.org' }, 'ip-echo-url is not an https:// URL'],
    [{ 'runner-ip': '2001:db8::1' }, 'runner-ip is "2001:db8::1" — give an IPv4 address'],
    [{ 'runner-ip': '300.1.1.1' }, 'runner-ip is "300.1.1.1"'],
    [{ 'civo-firewall': 'closed' }, 'civo-firewall is "closed" — use one of: open, off'],
    [{ 'civo-create': 'true', 'civo-pg-version': 'latest' }, 'civo-pg-version is "latest"']
  ])('%j is refused in one line naming the input', (override, message) => {
    setInputs({ ...CIVO, ...override })
    let error: MigrationError | undefined
    try {
      parse()
    } catch (caught) {
      error = caught as MigrationError
    }
    expect(`${error?.message} — ${error && hintFor(error)}`).toContain(message)
    expect(error?.message).not.toContain('k-123')
  })
})

test('dump mode needs no target, restore mode no source', () => {
  setInputs({ mode: 'dump', 'source-url': SOURCE })
  expect('target' in parse()).toBe(false)
  setInputs({ mode: 'restore', 'target-url': TARGET })
  expect('source' in parse()).toBe(false)
})

test('validate compares: verify none is refused there', () => {
  setInputs({ mode: 'validate', 'source-url': SOURCE, 'target-url': TARGET, verify: 'none' })
  expect(() => parse()).toThrow('verify is "none"')
  setInputs({ mode: 'validate', 'source-url': SOURCE, 'target-url': TARGET })
  expect(parse()).toMatchObject({ mode: 'validate', verify: 'full' })
})

test('databases: a list or all', () => {
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET, databases: 'app, billing\nreports' })
  expect(parse()).toMatchObject({ databases: ['app', 'billing', 'reports'] })
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET, databases: 'all' })
  expect(parse()).toMatchObject({ databases: 'all' })
})

test('jobs beyond 64 is capped, with the reason in one warning', () => {
  const { log, lines } = recordingLog()
  const inputs = getInputs(inputsRunner({ 'source-url': SOURCE, 'target-url': TARGET, jobs: '99999' }, log))
  expect(inputs.jobs).toBe(64)
  expect(lines.filter((line) => line.startsWith('::warning::'))).toEqual([
    '::warning::jobs is 99999; using 64: each job holds a connection on both servers, and more would exhaust max_connections before going faster'
  ])
})

test('a relative dump-path or report-path inside the workspace or an absolute one is taken', () => {
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET, 'dump-path': 'out/dump', 'report-path': '/srv/report.json' })
  expect(parse()).toMatchObject({ dumpPath: path.resolve('out/dump'), reportPath: '/srv/report.json' })
})

test('sslmode=disable is taken with one warning', () => {
  const { log, lines } = recordingLog()
  getInputs(inputsRunner({ 'source-url': `${SOURCE}?sslmode=disable`, 'target-url': TARGET }, log))
  expect(lines.filter((line) => line.startsWith('::warning::'))).toEqual([
    '::warning::source-url has sslmode=disable: rows and checksums cross the network unencrypted; drop it to use TLS when the server offers it'
  ])
})

describe('parseValidationQueries', () => {
  const roots = { workspace: process.cwd(), temp: os.tmpdir() }

  test('inline statements split at line-ending semicolons, comments dropped', () => {
    expect(parseValidationQueries("-- totals\nSELECT count(*) FROM a;\nSELECT ';' AS x;\n", roots)).toEqual([
      'SELECT count(*) FROM a',
      "SELECT ';' AS x"
    ])
  })

  test('a .sql path is read', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'q-'))
    try {
      const file = path.join(dir, 'checks.sql')
      fs.writeFileSync(file, 'SELECT 1;\nSELECT 2;\n')
      expect(parseValidationQueries(file, roots)).toEqual(['SELECT 1', 'SELECT 2'])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a .sql file outside the workspace and RUNNER_TEMP is refused, also through a link', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'q-'))
    try {
      const file = path.join(dir, 'checks.sql')
      fs.writeFileSync(file, 'SELECT 1;\n')
      const elsewhere = { workspace: path.join(dir, 'workspace'), temp: path.join(dir, 'temp') }
      fs.mkdirSync(elsewhere.workspace)
      expect(() => parseValidationQueries(file, elsewhere)).toThrow(
        `validation-queries names ${file}, which is outside the workspace and RUNNER_TEMP`
      )
      fs.symlinkSync(file, path.join(elsewhere.workspace, 'link.sql'))
      expect(() => parseValidationQueries('link.sql', elsewhere)).toThrow('which is outside the workspace')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a missing .sql path is refused', () => {
    expect(() => parseValidationQueries('nope/checks.sql', roots)).toThrow(
      'validation-queries names nope/checks.sql, which does not exist'
    )
  })
})

describe('what moves: pg_dump filters', () => {
  test('each list splits at commas and new lines, not inside double quotes; none given, none', () => {
    setInputs({
      'source-url': SOURCE,
      'target-url': TARGET,
      schemas: 'app, "Billing, Old"\nreports',
      'exclude-tables': 'app.tmp_*',
      'exclude-table-data': ' app.events ,, '
    })
    expect(parse()).toMatchObject({
      scope: {
        schemas: ['app', '"Billing, Old"', 'reports'],
        excludeSchemas: [],
        tables: [],
        excludeTables: ['app.tmp_*'],
        excludeTableData: ['app.events']
      }
    })
    setInputs({ mode: 'dump', 'source-url': SOURCE, tables: 'app.orders' })
    expect(parse()).toMatchObject({ scope: { tables: ['app.orders'] } })
    setInputs({ mode: 'validate', 'source-url': SOURCE, 'target-url': TARGET, 'exclude-schemas': 'audit' })
    expect(parse()).toMatchObject({ scope: { excludeSchemas: ['audit'] } })
  })

  test('a restore restores what its dump holds: filters there are refused, naming the input', () => {
    setInputs({ mode: 'restore', 'target-url': TARGET, 'exclude-table-data': 'app.events' })
    expect(() => parse()).toThrow('exclude-table-data is set in restore mode')
  })

  test('sync: logical moves the whole database from its own snapshot: filters and resume are refused with it', () => {
    setInputs({ 'source-url': SOURCE, 'target-url': TARGET, sync: 'logical', 'exclude-tables': 'app.tmp_*' })
    expect(() => parse()).toThrow('sync: logical is set with exclude-tables')
    setInputs({ mode: 'plan', 'source-url': SOURCE, 'target-url': TARGET, sync: 'logical', schemas: 'app' })
    expect(() => parse()).toThrow('sync: logical is set with schemas')
    setInputs({ 'source-url': SOURCE, 'target-url': TARGET, sync: 'logical', 'if-target-not-empty': 'resume' })
    expect(() => parse()).toThrow('sync: logical is set with if-target-not-empty: resume')
    setInputs({ 'source-url': SOURCE, 'target-url': TARGET, sync: 'none', schemas: 'app' })
    expect(parse()).toMatchObject({ sync: 'none', scope: { schemas: ['app'] } })
  })

  test('if-target-not-empty: resume, in migrate and restore', () => {
    setInputs({ 'source-url': SOURCE, 'target-url': TARGET, 'if-target-not-empty': 'resume' })
    expect(parse()).toMatchObject({ ifTargetNotEmpty: 'resume' })
    setInputs({ mode: 'restore', 'target-url': TARGET, 'if-target-not-empty': 'resume' })
    expect(parse()).toMatchObject({ ifTargetNotEmpty: 'resume' })
    setInputs({ 'source-url': SOURCE, 'target-url': TARGET, 'if-target-not-empty': 'continue' })
    expect(() => parse()).toThrow('if-target-not-empty is "continue"')
  })

  test('the names in messages are the inputs action.yml declares', () => {
    const declared = fs.readFileSync('action.yml', 'utf8')
    for (const input of Object.values(PATTERN_INPUTS)) expect(declared).toContain(`\n  ${input}:\n`)
  })
})
