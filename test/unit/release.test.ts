import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const SCRIPT = path.resolve('scripts', 'release-notes.js')
const CHANGELOG = `# Changelog

## [Unreleased]

- Something new.

## [1.2.0] - 2026-12-01

### Added

- Progress lines.

## [1.1.0] - 2026-11-01

- Older.
`

let dir = ''
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'release-notes-'))
  fs.writeFileSync(path.join(dir, 'CHANGELOG.md'), CHANGELOG)
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

function notes(tag: string, packageVersion: string): { status: number | null; stdout: string; stderr: string } {
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ version: packageVersion }))
  const files = ['--changelog', path.join(dir, 'CHANGELOG.md'), '--package', path.join(dir, 'package.json')]
  const run = spawnSync(process.execPath, [SCRIPT, tag, ...files], { encoding: 'utf8' })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

test("a tag's notes are its CHANGELOG section, up to the next version", () => {
  expect(notes('v1.2.0', '1.2.0')).toEqual({ status: 0, stdout: '### Added\n\n- Progress lines.\n', stderr: '' })
})

test('a tag that does not match package.json is refused in one line', () => {
  expect(notes('v1.3.0', '1.2.0')).toEqual({
    status: 1,
    stdout: '',
    stderr: 'tag v1.3.0 does not match package.json\'s version 1.2.0: set "version": "1.3.0"\n'
  })
})

test('a version without a CHANGELOG section is refused', () => {
  expect(notes('v1.3.0', '1.3.0').stderr).toBe(
    'CHANGELOG.md has no section "## [1.3.0]": move the Unreleased entries into one\n'
  )
})

test('only vX.Y.Z tags are releases', () => {
  expect(notes('v1.2', '1.2.0').stderr).toBe('tag v1.2 is not vX.Y.Z: release tags look like v1.2.3\n')
})

test("the repository's own CHANGELOG has the package's version", () => {
  const version = JSON.parse(fs.readFileSync('package.json', 'utf8')).version
  const run = spawnSync(process.execPath, [SCRIPT, `v${version}`], { encoding: 'utf8' })
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)
})
