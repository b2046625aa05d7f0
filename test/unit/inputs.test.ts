import { jest } from '@jest/globals'
import { getInputs, parseValidationQueries } from '../../src/action/inputs.js'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const SOURCE = 'postgresql://app:s3cret@db.example.test:5432/app'
const TARGET = 'postgresql://civo:t0psecret@10.0.0.1:5432/app?sslmode=require'

function setInputs(inputs: Record<string, string>): void {
  for (const key of Object.keys(process.env)) if (key.startsWith('INPUT_')) delete process.env[key]
  for (const [name, value] of Object.entries(inputs)) process.env[`INPUT_${name.toUpperCase()}`] = value
}

let written = ''
beforeEach(() => {
  written = ''
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written += chunk.toString()
    return true
  })
})
afterEach(() => jest.restoreAllMocks())

test('defaults for a plain migration', () => {
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET })
  const inputs = getInputs()
  expect(inputs).toMatchObject({
    mode: 'migrate',
    privileges: 'skip',
    roles: 'fail',
    ifTargetNotEmpty: 'fail',
    verify: 'full',
    failOnMismatch: true,
    uploadArtifact: true,
    compression: 'auto',
    databases: []
  })
  expect(inputs.jobs).toBeGreaterThanOrEqual(1)
  expect(inputs.source).toMatchObject({ host: 'db.example.test', port: 5432, user: 'app', database: 'app' })
  expect(inputs.target).toMatchObject({ sslmode: 'require', database: 'app' })
})

test('passwords are masked', () => {
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET })
  getInputs()
  expect(written).toContain('::add-mask::s3cret')
  expect(written).toContain('::add-mask::t0psecret')
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
  [{ 'postgres-version': 'latest' }, 'postgres-version is "latest"'],
  [{ 'fail-on-mismatch': 'maybe' }, 'fail-on-mismatch is "maybe" — use true or false'],
  [{ 'target-url': '' }, 'target-url is empty; mode migrate needs a target']
])('bad input %j is refused naming the input', (override, message) => {
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET, ...override })
  let error: (Error & { hint?: string }) | undefined
  try {
    getInputs()
  } catch (caught) {
    error = caught as Error & { hint?: string }
  }
  expect(error).toBeDefined()
  expect(`${error?.message}${error?.hint ? ` — ${error.hint}` : ''}`).toContain(message)
  expect(error?.message).not.toContain('s3cret')
  expect(error?.message).not.toContain('t0psecret')
})

test('dump mode needs no target, restore mode no source', () => {
  setInputs({ mode: 'dump', 'source-url': SOURCE })
  expect(getInputs().target).toBeUndefined()
  setInputs({ mode: 'restore', 'target-url': TARGET })
  expect(getInputs().source).toBeUndefined()
})

test('databases: a list or all', () => {
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET, databases: 'app, billing\nreports' })
  expect(getInputs().databases).toEqual(['app', 'billing', 'reports'])
  setInputs({ 'source-url': SOURCE, 'target-url': TARGET, databases: 'all' })
  expect(getInputs().databases).toBe('all')
})

describe('parseValidationQueries', () => {
  test('inline statements split at line-ending semicolons, comments dropped', () => {
    expect(parseValidationQueries("-- totals\nSELECT count(*) FROM a;\nSELECT ';' AS x;\n")).toEqual([
      'SELECT count(*) FROM a',
      "SELECT ';' AS x"
    ])
  })

  test('a .sql path is read', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'q-')), 'checks.sql')
    fs.writeFileSync(file, 'SELECT 1;\nSELECT 2;\n')
    expect(parseValidationQueries(file)).toEqual(['SELECT 1', 'SELECT 2'])
  })

  test('a missing .sql path is refused', () => {
    expect(() => parseValidationQueries('nope/checks.sql')).toThrow(
      'validation-queries names nope/checks.sql, which does not exist'
    )
  })
})
