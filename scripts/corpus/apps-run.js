// npm run corpus -- --apps: real applications' schemas (scripts/corpus/apps.json, fetched from their
// Debian and npm packages), each loaded in a database of its own on every source major, filled with
// generated rows, and scored like the regression database on each source → target pair: the plan and
// a verified migration as the target's login without superuser, then migrations with privileges skip
// and keep as a superuser. A same-version pair is the oracle: any difference it reports is false.
import fs from 'node:fs'
import path from 'node:path'
import { CLIENT_BUNDLE_DIR, startClientBundleServer } from '../../test/support/client-bundle-server.js'
import { defaultBaseDir, serverUrl, startServer, stopServer, withClient } from '../../test/support/servers.js'
import { fetchApps } from './apps-fetch.js'
import { loadApp } from './apps-load.js'
import { fillRows } from './apps-rows.js'
import { appFailures, formatAppDetails, formatAppScorecard, scoreApp } from './apps-scorecard.js'
import { secondsSince } from './cluster.js'
import { planPhase } from './plan-phase.js'
import { hasClientBundle, libpqEnv, unpackClient, writePassfile } from './tools.js'
import { verifyPhase } from './verify-phase.js'

const DEFAULT_ROWS = 200
const log = (line) => console.log(line)

/** @param {import('./options.js').CorpusOptions} options */
export async function runApps(options) {
  const started = performance.now()
  // The action restores with the target's client: only the majors with a bundle here can be targets.
  const noBundle = [...new Set(options.pairs.map((pair) => pair.target))].filter((major) => !hasClientBundle(major))
  if (noBundle.length) {
    console.error(
      `corpus: --pairs: no PostgreSQL ${noBundle.join(', ')} client bundle in ${CLIENT_BUNDLE_DIR}; targets can be 17 or 18`
    )
    process.exitCode = 2
    return
  }
  const baseDir = defaultBaseDir('pg-migrate-apps')
  /** @type {{ stop: () => Promise<void> }[]} */
  const running = []
  const stopAll = async () => {
    for (const item of running.splice(0).reverse()) await item.stop().catch(() => undefined)
  }
  const onSignal = (signal) => {
    console.error(`corpus: ${signal}, stopping the servers`)
    stopAll().finally(() => process.exit(130))
  }
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, onSignal)
  try {
    fs.mkdirSync(baseDir, { recursive: true })
    const apps = await fetchApps({ only: options.apps, manifestFile: options.manifest, log })
    const bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })
    running.push({ stop: () => bundle.close() })
    const results = { apps: apps.map((app) => ({ name: app.name, versions: app.versions })), pairs: [], loads: [] }
    for (const sourceMajor of [...new Set(options.pairs.map((pair) => pair.source))]) {
      const source = await startServer({ major: sourceMajor, baseDir })
      running.push({ stop: () => stopServer(source, 'immediate') })
      const loads = await loadAll({ baseDir, source, apps, options })
      results.loads.push(...loads)
      for (const pair of options.pairs.filter((p) => p.source === sourceMajor)) {
        results.pairs.push(
          await scorePair({ baseDir, source, pair, apps, loads, clientTemplate: bundle.template, options })
        )
      }
      await stopServer(source, 'immediate')
    }
    results.seconds = secondsSince(started)
    fs.writeFileSync(options.json, JSON.stringify(results, null, 2) + '\n')
    log('')
    log(formatAppDetails(results))
    log('')
    log(formatAppScorecard(results))
    log(`scorecard JSON: ${options.json}`)
    const { failures, tighten } = appFailures(results)
    for (const note of tighten) log(`tighten: ${note}`)
    if (options.check && failures.length > 0) {
      for (const failure of failures) console.error(`corpus check failed: ${failure}`)
      process.exitCode = 1
    }
  } finally {
    await stopAll()
    if (options.keep) log(`kept ${baseDir}`)
    else fs.rmSync(baseDir, { recursive: true, force: true })
  }
}

/** Every app's schema and rows on one source server. */
async function loadAll({ baseDir, source, apps, options }) {
  const psql = path.join(clientBin(17, baseDir), 'psql')
  const passfile = path.join(baseDir, 'pgpass-load')
  writePassfile(passfile, [{ host: source.host, port: source.port, ...source.superuser }])
  const loads = []
  for (const app of apps) {
    const loadStarted = performance.now()
    const load = await loadApp({ server: source, app, psql, passfile })
    const rows = load.loaded
      ? await withClient(serverUrl(source, load.database), (client) =>
          fillRows(client, { rowsPerTable: options.rows ?? app.rowsPerTable ?? DEFAULT_ROWS, seed: app.name })
        )
      : undefined
    const entry = { app: app.name, sourceMajor: source.major, ...load, rows, seconds: secondsSince(loadStarted) }
    log(
      `source ${source.major}: ${app.name} ${load.loaded ? `loaded, ${rows?.tables} tables, ${rows?.rows} rows` : `did not load: ${load.error}`} (${entry.seconds} s)`
    )
    loads.push(entry)
  }
  return loads
}

/** Every loaded app through the plan and verify phases on one source → target pair. */
async function scorePair({ baseDir, source, pair, apps, loads, clientTemplate, options }) {
  const pairStarted = performance.now()
  const target = await startServer({ major: pair.target, baseDir, name: `target${pair.target}`, target: true })
  try {
    const admin = /** @type {import('../../test/support/servers.js').Login} */ (target.admin)
    const passfile = path.join(baseDir, 'pgpass')
    writePassfile(passfile, [
      { host: target.host, port: target.port, ...target.superuser },
      { host: target.host, port: target.port, ...admin },
      { host: source.host, port: source.port, ...source.superuser }
    ])
    const ctx = {
      baseDir,
      source,
      target,
      clientTemplate,
      jobs: options.jobs,
      log: (line) => log(`  ${line}`),
      bin: clientBin(pair.target, baseDir),
      clientMajor: pair.target,
      envFor: (server, user) => libpqEnv(server, user, passfile),
      timed: (_phase, work) => work(),
      adminVerify: true,
      // The login without superuser migrates with privileges skip already: the superuser keeps them.
      verifyRuns: /** @type {('skip' | 'keep')[]} */ (['keep'])
    }
    const scores = []
    for (const app of apps) {
      const load = loads.find((l) => l.app === app.name && l.sourceMajor === source.major)
      if (!load?.loaded) continue
      const appStarted = performance.now()
      log(`${pair.source} → ${pair.target}: ${app.name}`)
      const appCtx = { ...ctx, sourceDb: load.database }
      const plan = await planPhase(appCtx).catch((error) => ({ error: String(error?.stack ?? error) }))
      const verify = await verifyPhase(appCtx).catch((error) => ({ error: String(error?.stack ?? error) }))
      const score = scoreApp(app.name, plan, verify, secondsSince(appStarted))
      for (const line of [...score.incomplete, ...score.lists.falseBlockers, ...score.lists.missed]) log(`  ${line}`)
      for (const d of score.lists.differences)
        log(`  [${d.run}] ${d.kind} ${d.object}: ${d.detail}\n    source: ${d.source}\n    target: ${d.target}`)
      scores.push(score)
    }
    return { source: pair.source, target: pair.target, scores, seconds: secondsSince(pairStarted) }
  } finally {
    await stopServer(target, 'immediate')
  }
}

const clientBins = new Map()
function clientBin(major, baseDir) {
  if (!clientBins.has(major)) clientBins.set(major, unpackClient(major, baseDir))
  return clientBins.get(major)
}
