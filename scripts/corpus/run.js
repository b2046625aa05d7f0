// npm run corpus: PostgreSQL's own regression database (built from the regression suite of Debian's
// source package, cached once built) migrated by the action to a target without superuser and to
// one with, scored against the truth:
//   plan    every blocker it predicts fails the real restore as that login (else: false blocker), and
//           once they are gone from a copy the restore passes (whatever still fails: missed blocker);
//   verify  on a copy without the superuser target's blockers, privileges skip and keep, the
//           differences the report does not expect.
// Prints the scorecard and the lists behind it, writes them as JSON, and with --check exits 1 when a
// number is worse than scripts/corpus/thresholds.js allows.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CLIENT_BUNDLE_DIR, startClientBundleServer } from '../../test/support/client-bundle-server.js'
import { defaultBaseDir, serverUrl, startServer, stopServer, withClient } from '../../test/support/servers.js'
import { regressionFacts, secondsSince, startSourceCluster } from './cluster.js'
import { parseOptions } from './options.js'
import { planPhase } from './plan-phase.js'
import { check, formatDetails, formatScorecard, incomplete, measure } from './scorecard.js'
import { hasClientBundle, libpqEnv, unpackClient, writePassfile } from './tools.js'
import { verifyPhase } from './verify-phase.js'

const options = parseOptions(process.argv.slice(2))
const baseDir = defaultBaseDir('pg-migrate-corpus')
/** @type {{ stop: () => Promise<void> }[]} */
const running = []
const log = (line) => console.log(line)

async function main() {
  const started = performance.now()
  /** @type {{ phase: string, seconds: number }[]} */
  const timings = []
  const timed = async (phase, work) => {
    const phaseStarted = performance.now()
    log(`${phase}…`)
    try {
      return await work()
    } finally {
      timings.push({ phase, seconds: secondsSince(phaseStarted) })
    }
  }
  fs.mkdirSync(baseDir, { recursive: true })
  const bin = unpackClient(options.targetMajor, baseDir)
  // The suite's tests use its own psql's commands (\getenv from 15, pipelines from 18): a newer
  // suite gets its own psql when a bundle of that major is there.
  let psqlBin = bin
  let psqlMajor = options.targetMajor
  if (options.suite > options.targetMajor) {
    if (hasClientBundle(options.suite)) {
      psqlBin = unpackClient(options.suite, baseDir)
      psqlMajor = options.suite
    } else
      log(
        `note: no ${options.suite} client bundle, the ${options.suite} suite runs through psql ${options.targetMajor}`
      )
  }
  const passfile = path.join(baseDir, 'pgpass')
  const target = await timed(`start PostgreSQL ${options.targetMajor} target`, () =>
    startServer({ major: options.targetMajor, baseDir, target: true })
  )
  running.push({ stop: () => stopServer(target, 'immediate') })
  const admin = /** @type {import('../../test/support/servers.js').Login} */ (target.admin)
  const writeLogins = (source) =>
    writePassfile(passfile, [
      { host: target.host, port: target.port, ...target.superuser },
      { host: target.host, port: target.port, ...admin },
      ...(source ? [{ host: source.host, port: source.port, ...source.superuser }] : [])
    ])
  const cluster = await timed(`source: PostgreSQL ${options.sourceMajor} with the regression database`, () =>
    startSourceCluster({
      major: options.sourceMajor,
      suite: options.suite,
      baseDir,
      rebuild: options.rebuild,
      psql: path.join(psqlBin, 'psql'),
      psqlMajor,
      passfileFor: (server) => {
        writeLogins(server)
        return passfile
      },
      log
    })
  )
  const source = cluster.server
  running.push({ stop: () => stopServer(source, 'immediate') })
  writeLogins(source)
  const bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })
  running.push({ stop: () => bundle.close() })
  const regression = await regressionFacts(source)
  const targetVersion = await withClient(
    serverUrl(target, 'postgres'),
    async (client) => (await client.query('SHOW server_version')).rows[0].server_version
  )
  const ctx = {
    baseDir,
    source,
    target,
    clientTemplate: bundle.template,
    jobs: options.jobs,
    log,
    bin,
    clientMajor: options.targetMajor,
    envFor: (server, user) => libpqEnv(server, user, passfile),
    timed
  }
  /** @type {Record<string, any>} */
  const results = {
    facts: {
      sourceVersion: regression.version,
      targetVersion,
      suiteVersion: fs
        .readFileSync(path.join(path.dirname(cluster.cacheFile), `suite-${options.suite}`, 'VERSION'), 'utf8')
        .trim(),
      relations: regression.relations,
      tables: regression.tables,
      bytes: regression.bytes,
      cachedCluster: cluster.cached,
      build: cluster.build,
      cpus: os.availableParallelism()
    },
    timings
  }
  if (options.phases.includes('plan')) results.plan = await planPhase(ctx)
  if (options.phases.includes('verify')) results.verify = await verifyPhase(ctx)
  timings.push({ phase: 'total', seconds: secondsSince(started) })
  const numbers = measure(results)
  const pair = `${options.sourceMajor}-${options.targetMajor}-suite${options.suite}`
  const verdict = check(pair, numbers)
  const stops = incomplete(results)
  results.numbers = numbers
  results.allowed = verdict.allowed
  results.incomplete = stops
  fs.writeFileSync(options.json, JSON.stringify(results, null, 2) + '\n')
  log('')
  log(formatDetails(results))
  log('')
  log(formatScorecard(results, numbers, verdict.allowed))
  for (const stop of stops) log(`incomplete: ${stop}`)
  for (const note of verdict.tighten) log(`tighten: ${note}`)
  log(`scorecard JSON: ${options.json}`)
  if (options.check && (verdict.failures.length > 0 || stops.length > 0)) {
    for (const failure of verdict.failures) console.error(`corpus check failed: ${failure}`)
    for (const stop of stops) console.error(`corpus check failed: a run stopped before an answer: ${stop}`)
    process.exitCode = 1
  }
}

async function cleanup() {
  for (const item of running.reverse()) await item.stop().catch(() => undefined)
  if (options.keep) log(`kept ${baseDir}`)
  else fs.rmSync(baseDir, { recursive: true, force: true })
}

// The application corpus stops its own servers (scripts/corpus/apps-run.js).
for (const signal of options.appCorpus ? [] : ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`corpus: ${signal}, stopping the servers`)
    cleanup().finally(() => process.exit(130))
  })
}

const start = options.appCorpus ? () => import('./apps-run.js').then((m) => m.runApps(options)) : main
start()
  .catch((error) => {
    console.error(`corpus: ${error.stack ?? error}`)
    process.exitCode = 1
  })
  .finally(options.appCorpus ? () => undefined : cleanup)
