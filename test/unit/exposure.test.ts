import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseAgeKey } from '../../src/artifact/encryption.js'
import { withoutRowValues } from '../../src/base/redact.js'
import { repositoryVisibility } from '../../src/artifact/visibility.js'
import { artifactExposure } from '../../src/plan/exposure.js'

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exposure-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

function payload(name: string, event: unknown): NodeJS.ProcessEnv {
  const file = path.join(dir, name)
  fs.writeFileSync(file, typeof event === 'string' ? event : JSON.stringify(event))
  return { GITHUB_EVENT_PATH: file }
}

test('the visibility comes from the event payload, and is unknown where it cannot be read', () => {
  expect(repositoryVisibility(payload('pub', { repository: { private: false, visibility: 'public' } }))).toBe('public')
  expect(repositoryVisibility(payload('int', { repository: { private: true, visibility: 'internal' } }))).toBe(
    'internal'
  )
  // Payloads of older servers carry only `private`.
  expect(repositoryVisibility(payload('old', { repository: { private: false } }))).toBe('public')
  expect(repositoryVisibility(payload('priv', { repository: { private: true } }))).toBe('private')
  expect(repositoryVisibility(payload('none', { action: 'x' }))).toBe('unknown')
  expect(repositoryVisibility(payload('bad', '{not json'))).toBe('unknown')
  expect(repositoryVisibility({})).toBe('unknown')
})

test('a plain upload is a blocker in a public repository and a warning in an internal one', () => {
  const plain = { uploads: true, encrypted: false }
  expect(artifactExposure('public', plain)).toMatchObject({
    id: 'public-artifact',
    severity: 'blocker',
    hint: expect.stringMatching(/artifact-encryption-key.*upload-artifact: false/)
  })
  expect(artifactExposure('internal', plain)).toMatchObject({
    severity: 'warning',
    message: expect.stringContaining('every member of the enterprise')
  })
  expect(artifactExposure('private', plain)).toBeUndefined()
  expect(artifactExposure('public', { uploads: true, encrypted: true })).toBeUndefined()
  expect(artifactExposure('public', { uploads: false, encrypted: false })).toBeUndefined()
})

test('an age key is read from the key itself or from the whole file age-keygen writes', () => {
  const secret = 'AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSGZ9X6R'
  const recipient = 'age1lqzq2uks48xndeweakuj47et2a6zv3r2gq0etspjfhyqvux359zqt3r7dt'
  expect(parseAgeKey(secret)).toEqual({ identity: secret })
  expect(parseAgeKey(`# created: 2026-12-07\n# public key: ${recipient}\n${secret}\n`)).toEqual({ identity: secret })
  expect(parseAgeKey(recipient)).toEqual({ recipient })
  expect(parseAgeKey('correct horse battery staple')).toBeUndefined()
  expect(parseAgeKey(`${secret}\n${secret}`)).toBeUndefined()
})

test("PostgreSQL's quotes of row values are cut from text anyone may read; names stay", () => {
  const cases: [string, string][] = [
    [
      'ERROR: duplicate key value violates unique constraint "users_pkey" DETAIL: Key (id, email)=(42, bob@example.com) already exists.',
      'ERROR: duplicate key value violates unique constraint "users_pkey" DETAIL: Key (id, email)=(…) already exists.'
    ],
    [
      'DETAIL: Key (customer_id)=(7) is not present in table "customers".',
      'DETAIL: Key (customer_id)=(…) is not present in table "customers".'
    ],
    ['DETAIL: Failing row contains (1, null, (2,3)).', 'DETAIL: Failing row contains (…).'],
    ['CONTEXT: COPY orders, line 3, column note: "secret text"', 'CONTEXT: COPY orders, line 3, column note: …'],
    ['CONTEXT: COPY orders, line 3: "1\tbob"', 'CONTEXT: COPY orders, line 3: …'],
    ['invalid input syntax for type integer: "bob"', 'invalid input syntax for type integer: "…"'],
    ['value "99999999999" is out of range for type integer', 'value "…" is out of range for type integer'],
    ['table public.customers: 3 rows differ', 'table public.customers: 3 rows differ']
  ]
  for (const [text, shown] of cases) expect(withoutRowValues(text)).toBe(shown)
})
