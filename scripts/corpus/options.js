// Command line of the corpus run. Every option has a default that runs 14 → 17 with the 15 suite.
import path from 'node:path'
import { REPO_ROOT } from '../../test/support/servers.js'

export const USAGE = `usage: npm run corpus -- [options]
  --source-major N   PostgreSQL major of the source server (default 14)
  --target-major N   PostgreSQL major of the target server (default 17); the client bundle follows it
  --suite N          regression suite's major: 15 (bookworm), 17 (trixie) or 18 (sid) (default 15)
  --jobs N           the action's jobs input (default 2)
  --phases LIST      plan,verify (default both)
  --rebuild          build the regression database again even when a cached cluster exists
  --json FILE        where to write the scorecard as JSON (default corpus-scorecard.json)
  --check            exit 1 when a number is worse than scripts/corpus/thresholds.json allows
  --keep             leave the servers' folder in place for inspection (printed at the end)
  --apps [LIST]      the application corpus (scripts/corpus/apps.json) instead, or only the apps listed
  --pairs LIST       with --apps: source-target pairs (default 14-17,16-18,17-17)
  --rows N           with --apps: rows per table (default each app's, else 200)
  --manifest FILE    with --apps: another manifest (its "local" packages: folders of one's own schema files)`

/**
 * @typedef {{ sourceMajor: number, targetMajor: number, suite: number, jobs: number, phases: string[],
 *   rebuild: boolean, json: string, check: boolean, keep: boolean, appCorpus: boolean, apps?: string[],
 *   pairs: { source: number, target: number }[], rows?: number, manifest?: string }} CorpusOptions
 */

/** @param {string[]} argv @returns {CorpusOptions} */
export function parseOptions(argv) {
  /** @type {CorpusOptions} */
  const options = {
    sourceMajor: 14,
    targetMajor: 17,
    suite: 15,
    jobs: 2,
    phases: ['plan', 'verify'],
    rebuild: false,
    json: path.join(REPO_ROOT, 'corpus-scorecard.json'),
    check: false,
    keep: false,
    appCorpus: false,
    pairs: [
      { source: 14, target: 17 },
      { source: 16, target: 18 },
      { source: 17, target: 17 }
    ]
  }
  let jsonGiven = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      const next = argv[++i]
      if (next === undefined) fail(`${arg} needs a value`)
      return next
    }
    const major = () => {
      const n = Number(value())
      if (!Number.isInteger(n) || n < 12 || n > 18) fail(`${arg} must be a PostgreSQL major from 12 to 18`)
      return n
    }
    if (arg === '--source-major') options.sourceMajor = major()
    else if (arg === '--target-major') options.targetMajor = major()
    else if (arg === '--suite') options.suite = major()
    else if (arg === '--jobs') options.jobs = Math.max(1, Number(value()) || 1)
    else if (arg === '--phases') options.phases = value().split(',')
    else if (arg === '--rebuild') options.rebuild = true
    else if (arg === '--json') {
      options.json = path.resolve(value())
      jsonGiven = true
    } else if (arg === '--apps') {
      options.appCorpus = true
      if (argv[i + 1] && !argv[i + 1].startsWith('--')) options.apps = value().split(',')
    } else if (arg === '--pairs') options.pairs = value().split(',').map(parsePair)
    else if (arg === '--manifest') options.manifest = path.resolve(value())
    else if (arg === '--rows') options.rows = Math.max(1, Number(value()) || 1)
    else if (arg === '--check') options.check = true
    else if (arg === '--keep') options.keep = true
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE)
      process.exit(0)
    } else fail(`unknown option ${arg}`)
  }
  if (options.appCorpus && !jsonGiven) options.json = path.join(REPO_ROOT, 'corpus-apps-scorecard.json')
  if (![15, 17, 18].includes(options.suite)) fail('--suite must be 15, 17 or 18 (the Debian source packages fetched)')
  if (options.targetMajor < options.sourceMajor) fail('--target-major must not be older than --source-major')
  for (const phase of options.phases) if (!['plan', 'verify'].includes(phase)) fail(`--phases: unknown phase ${phase}`)
  return options
}

/** `14-17` → { source: 14, target: 17 } */
function parsePair(text) {
  const [source, target] = text.split('-').map(Number)
  if (![source, target].every((n) => Number.isInteger(n) && n >= 12 && n <= 18) || target < source)
    fail(`--pairs: ${text} is not <source major>-<target major>, the target not older`)
  return { source, target }
}

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(`corpus: ${message}\n${USAGE}`)
  process.exit(2)
}
