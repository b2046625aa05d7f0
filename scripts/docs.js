// Keeps README's inputs and outputs tables equal to action.yml.
//   node scripts/docs.js            rewrite the tables between the markers
//   node scripts/docs.js --check    exit 1 and name the drift, writing nothing
// --readme FILE and --action FILE point it at other files (tests do).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import yaml from 'js-yaml'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** @typedef {{ description?: string, default?: string | number | boolean, required?: boolean }} ActionInput */
/** @typedef {{ inputs?: Record<string, ActionInput>, outputs?: Record<string, { description?: string }> }} ActionMetadata */

/** Text for one table cell: no line breaks, no stray column separators. @param {string} text */
function cell(text) {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
    .trim()
}

/**
 * A markdown table laid out the way prettier lays it out (columns padded to their widest cell), so
 * `prettier --write` leaves it alone.
 * @param {string[]} header
 * @param {string[][]} rows
 */
function table(header, rows) {
  const widths = header.map((_, column) => Math.max(3, ...[header, ...rows].map((row) => row[column].length)))
  const line = (/** @type {string[]} */ row) =>
    `| ${row.map((text, column) => text.padEnd(widths[column])).join(' | ')} |`
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n')
}

/** @param {ActionMetadata} action */
export function renderInputs(action) {
  const rows = Object.entries(action.inputs ?? {}).map(([name, input]) => [
    `\`${name}\``,
    input.default === undefined || input.default === '' ? '' : `\`${cell(String(input.default))}\``,
    cell(input.description ?? '')
  ])
  return table(['input', 'default', 'description'], rows)
}

/** @param {ActionMetadata} action */
export function renderOutputs(action) {
  const rows = Object.entries(action.outputs ?? {}).map(([name, output]) => [
    `\`${name}\``,
    cell(output.description ?? '')
  ])
  return table(['output', 'description'], rows)
}

/**
 * A table's rows as trimmed cells, without the separator row: what the table says, whatever its
 * padding.
 * @param {string} text
 */
function rowsOf(text) {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('|') && !/^\|[\s|:-]+\|$/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((text) => text.trim())
        .join(' | ')
    )
}

/**
 * README with both tables rendered from action.yml, and the blocks whose content differed (padding aside).
 * @param {string} readme
 * @param {string} actionYml
 * @returns {{ text: string, drift: { block: string, missing: string[], extra: string[] }[] }}
 */
export function syncReadme(readme, actionYml) {
  const action = /** @type {ActionMetadata} */ (yaml.load(actionYml))
  /** @type {{ block: string, missing: string[], extra: string[] }[]} */
  const drift = []
  let text = readme
  for (const [block, rendered] of /** @type {const} */ ([
    ['inputs', renderInputs(action)],
    ['outputs', renderOutputs(action)]
  ])) {
    const start = `<!-- ${block}:start -->`
    const end = `<!-- ${block}:end -->`
    const from = text.indexOf(start)
    const to = text.indexOf(end)
    if (from < 0 || to < from) {
      drift.push({ block, missing: [`the markers ${start} and ${end}`], extra: [] })
      continue
    }
    const current = text.slice(from + start.length, to)
    const wanted = `\n\n${rendered}\n\n`
    const have = rowsOf(current)
    const want = rowsOf(wanted)
    if (have.join('\n') !== want.join('\n')) {
      drift.push({
        block,
        missing: want.filter((row) => !have.includes(row)),
        extra: have.filter((row) => !want.includes(row))
      })
    }
    text = text.slice(0, from + start.length) + wanted + text.slice(to)
  }
  return { text, drift }
}

/** @param {string[]} argv */
function main(argv) {
  const check = argv.includes('--check')
  const option = (/** @type {string} */ name, /** @type {string} */ fallback) => {
    const at = argv.indexOf(name)
    return at >= 0 && argv[at + 1] ? path.resolve(argv[at + 1]) : fallback
  }
  const readmeFile = option('--readme', path.join(ROOT, 'README.md'))
  const actionFile = option('--action', path.join(ROOT, 'action.yml'))
  const readme = fs.readFileSync(readmeFile, 'utf8')
  const { text, drift } = syncReadme(readme, fs.readFileSync(actionFile, 'utf8'))
  /** @param {typeof drift} blocks */
  const report = (blocks) => {
    for (const { block, missing, extra } of blocks) {
      console.error(`${path.basename(readmeFile)}: the ${block} table differs from ${path.basename(actionFile)}`)
      for (const line of missing) console.error(`  + ${line}`)
      for (const line of extra) console.error(`  - ${line}`)
    }
  }
  if (check) {
    if (drift.length === 0) return console.log(`${path.basename(readmeFile)} matches ${path.basename(actionFile)}`)
    report(drift)
    console.error('run: node scripts/docs.js')
    process.exit(1)
  }
  const unmarked = drift.filter((d) => d.missing.some((line) => line.startsWith('the markers')))
  if (unmarked.length > 0) {
    report(unmarked)
    console.error('add the markers to README.md, then run node scripts/docs.js again')
    process.exit(1)
  }
  if (text === readme) return console.log(`${path.basename(readmeFile)} is up to date`)
  fs.writeFileSync(readmeFile, text)
  console.log(`updated ${path.basename(readmeFile)} from ${path.basename(actionFile)}`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href)
  main(process.argv.slice(2))
