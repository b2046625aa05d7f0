// The release notes for a tag: the CHANGELOG.md section of its version, checked against package.json.
//   node scripts/release-notes.js v1.2.3 > notes.md
// --changelog FILE and --package FILE point it at other files (tests do). A refusal is one line on stderr, exit 1.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * The body of the `## [version]` section (up to the next `## ` heading), trimmed.
 * @param {string} changelog
 * @param {string} version
 * @returns {string | undefined}
 */
export function changelogSection(changelog, version) {
  const lines = changelog.split('\n')
  const heading = new RegExp(`^## \\[?${version.replace(/\./g, '\\.')}\\]?(\\s|$)`)
  const start = lines.findIndex((line) => heading.test(line))
  if (start < 0) return undefined
  const rest = lines.slice(start + 1)
  const end = rest.findIndex((line) => line.startsWith('## '))
  const body = (end < 0 ? rest : rest.slice(0, end)).join('\n').trim()
  return body === '' ? undefined : body
}

/**
 * @param {string} tag
 * @param {{ changelog: string, packageJson: string }} files
 * @returns {string} the notes
 */
export function releaseNotes(tag, files) {
  const version = /^v(\d+\.\d+\.\d+)$/.exec(tag)?.[1]
  if (!version) throw new Error(`tag ${tag} is not vX.Y.Z: release tags look like v1.2.3`)
  const packageVersion = JSON.parse(fs.readFileSync(files.packageJson, 'utf8')).version
  if (packageVersion !== version) {
    throw new Error(`tag ${tag} does not match package.json's version ${packageVersion}: set "version": "${version}"`)
  }
  const notes = changelogSection(fs.readFileSync(files.changelog, 'utf8'), version)
  if (!notes) throw new Error(`CHANGELOG.md has no section "## [${version}]": move the Unreleased entries into one`)
  return notes
}

function main(args) {
  const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback)
  const tag = args.find((arg, index) => !arg.startsWith('--') && !args[index - 1]?.startsWith('--'))
  try {
    const files = {
      changelog: option('--changelog', path.join(ROOT, 'CHANGELOG.md')),
      packageJson: option('--package', path.join(ROOT, 'package.json'))
    }
    process.stdout.write(releaseNotes(tag ?? '', files) + '\n')
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2))
