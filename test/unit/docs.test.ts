import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const SCRIPT = path.resolve('scripts', 'docs.js')

function docs(...args: string[]): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' })
  return { status: run.status, out: run.stdout + run.stderr }
}

const made: string[] = []
afterAll(() => made.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })))

/** Copies of README.md and action.yml to tamper with. */
function copies(edit: { readme?: (text: string) => string; action?: (text: string) => string } = {}): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-check-'))
  made.push(dir)
  const readme = path.join(dir, 'README.md')
  const action = path.join(dir, 'action.yml')
  fs.writeFileSync(readme, (edit.readme ?? ((t) => t))(fs.readFileSync('README.md', 'utf8')))
  fs.writeFileSync(action, (edit.action ?? ((t) => t))(fs.readFileSync('action.yml', 'utf8')))
  return ['--readme', readme, '--action', action]
}

test("README's inputs and outputs tables match action.yml", () => {
  expect(docs('--check')).toEqual({ status: 0, out: 'README.md matches action.yml\n' })
})

test('a new input in action.yml is drift, named; writing the tables fixes it', () => {
  const files = copies({
    action: (text) =>
      text.replace('\noutputs:\n', "  new-input:\n    description: 'Something new.'\n    default: 'x'\n\noutputs:\n")
  })
  const check = docs('--check', ...files)
  expect(check.status).toBe(1)
  expect(check.out).toContain('README.md: the inputs table differs from action.yml')
  expect(check.out).toContain('+ `new-input` | `x` | Something new.')
  expect(check.out).not.toContain('outputs table')
  expect(docs(...files).status).toBe(0)
  expect(docs('--check', ...files).status).toBe(0)
})

test('an edited description in README is drift, named', () => {
  const files = copies({ readme: (text) => text.replace('Civo region of the database, e.g. LON1.', 'Region.') })
  const check = docs('--check', ...files)
  expect(check.status).toBe(1)
  expect(check.out).toContain('- `civo-region` |  | Region.')
  expect(check.out).toContain('+ `civo-region` |  | Civo region of the database, e.g. LON1.')
})

test('a removed output is drift, named', () => {
  const files = copies({ action: (text) => text.replace(/ {2}databases-json:\n {4}description: .*\n/, '') })
  const check = docs('--check', ...files)
  expect(check.status).toBe(1)
  expect(check.out).toContain('the outputs table differs')
  expect(check.out).toContain('- `databases-json`')
})

test('padding is not drift: a compact table with the same cells passes', () => {
  const files = copies({ readme: (text) => text.replace(/ {2,}\|/g, ' |').replace(/\| -+ /g, '| --- ') })
  expect(docs('--check', ...files).status).toBe(0)
})

test('missing markers are named, and the tables are not written anywhere else', () => {
  const files = copies({ readme: (text) => text.replace('<!-- outputs:start -->', '') })
  const before = fs.readFileSync(files[1], 'utf8')
  const write = docs(...files)
  expect(write.status).toBe(1)
  expect(write.out).toContain('the markers <!-- outputs:start --> and <!-- outputs:end -->')
  expect(fs.readFileSync(files[1], 'utf8')).toBe(before)
})
