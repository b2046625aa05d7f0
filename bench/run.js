// Benchmark: one generated PostgreSQL 14 database per size, copied into PostgreSQL 17 as the
// managed-style admin (no superuser) by every chosen way, in one run on the same data and servers:
// the seed guide's two steps, pg_dump | psql, a hand-tuned pg_dump -Fd / pg_restore, pgcopydb, and
// the action. After every copy the row counts of all tables are compared with the source, so a fast
// but wrong run cannot look good. `npm run bench -- --help` lists the options.
//
// Per way: wall time; CPU seconds of the runner side (every process the benchmark starts for the
// way, the action's or tool's whole tree) and of each server (its postmaster's tree: backends,
// parallel workers, checkpointer, autovacuum), read from /proc before and after; peak RSS of the
// way's main process (VmHWM) and of the runner tree (summed VmRSS, polled every 100 ms).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CLIENT_BUNDLE_DIR, findClientBundle, startClientBundleServer } from '../test/support/client-bundle-server.js'
import { REPO_ROOT, serverUrl, startServerPair, withClient } from '../test/support/servers.js'
import { snapshotBuild } from './action.js'
import { BIG_TABLE, DATABASE, generate, TABLES, tableCounts } from './database.js'
import { cases, jobs, jsonPath, layouts, quietWait, runs, sideCpus, sizes, ways } from './options.js'
import { installPgcopydb, PGCOPYDB_VERSION } from './pgcopydb.js'
import { baseDir, cleanup, live, mib, runTool, secs, toolEnv } from './processes.js'
import { markdownTable, ratios, summarise } from './report.js'
import { waitForQuiet } from './sampler.js'
import { encryptionCase } from './encryption.js'
import { resumeCase } from './resume.js'
import { sideGroups } from './sides.js'
import { printSmallDisk, smallDiskCase } from './small-disk.js'
import { benchSync, compareInitialCopy } from './sync.js'
import { benchSyncRates } from './sync-rates.js'
import { issueTargets, targetsTable } from './targets.js'
import { LABELS, resetTarget, runWay } from './ways.js'

const cores = os.availableParallelism()

async function main() {
  const bundle = findClientBundle(CLIENT_BUNDLE_DIR)
  fs.mkdirSync(baseDir, { recursive: true })
  const workDir = path.join(baseDir, 'work')
  const toolCache = path.join(baseDir, 'tool-cache')
  fs.mkdirSync(workDir, { recursive: true })

  // The same 17 client the action installs, for every other way (pgcopydb finds it on PATH).
  const clientDir = path.join(baseDir, 'client')
  fs.mkdirSync(clientDir, { recursive: true })
  await runTool('tar', ['-xzf', bundle.file, '-C', clientDir, '--strip-components=1'], { ...process.env })
  const clientBin = path.join(clientDir, 'bin')
  const bin = Object.fromEntries(['pg_dump', 'pg_restore', 'psql'].map((name) => [name, path.join(clientBin, name)]))
  const pgcopydb = ways.some((w) => w.kind === 'pgcopydb') ? installPgcopydb() : undefined

  /** @type {Map<string, { entry: string, digest: string }>} */
  const builds = new Map()
  const mainBuild = () => builds.get('action') ?? snapshotBuild(path.join(REPO_ROOT, 'dist', 'index.js'), 'action')
  for (const way of ways.filter((w) => w.kind === 'action')) {
    builds.set(way.name, way.entry ? snapshotBuild(way.entry, way.name) : mainBuild())
  }
  const action = ways.find((w) => w.kind === 'action')?.name

  console.log(
    `pg-migrate-action benchmark: ${sizes.join(', ')} GB, ${runs} run(s), ${jobs} job(s), ${cores} CPUs, layout ${layouts.join(' and ')}` +
      (layouts.includes('three') ? ` (each side capped at ${sideCpus} CPUs)` : '')
  )
  console.log(`ways: ${ways.map((w) => w.name).join(', ')}`)
  for (const [name, build] of builds) console.log(`  ${name}: build ${build.digest}`)
  console.log(`temp folder ${baseDir}; client bundle ${path.basename(bundle.file)}`)
  const { source, target } = await startServerPair(baseDir)
  live.source = source
  live.target = target
  live.bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })
  const groups = layouts.includes('three') ? (live.groups = sideGroups(sideCpus)) : undefined

  const passfile = path.join(baseDir, 'pgpass')
  fs.writeFileSync(
    passfile,
    [
      `${source.host}:${source.port}:*:${source.superuser.user}:${source.superuser.password}`,
      `${target.host}:${target.port}:*:${target.admin.user}:${target.admin.password}`
    ].join('\n') + '\n',
    { mode: 0o600 }
  )
  const env = toolEnv(passfile)
  const version = async (/** @type {any} */ server) =>
    withClient(
      serverUrl(server, 'postgres'),
      async (c) => (await c.query('SHOW server_version')).rows[0].server_version
    )
  const versions = {
    source: await version(source),
    target: await version(target),
    client: bundle.version,
    pgcopydb: pgcopydb ? PGCOPYDB_VERSION : undefined
  }

  /** @type {any[]} */
  const bySize = []
  let failures = 0
  for (const sizeGb of sizes) {
    console.log(`\n== ${sizeGb} GB: generating the benchmark database on ${versions.source}…`)
    const generated = await generate(source, sizeGb)
    console.log(
      `  pg_database_size = ${mib(generated.database)} (${(generated.database / 1e9).toFixed(2)} GB) in ${secs(generated.seconds)}; ` +
        `${BIG_TABLE}: ${generated.counts[BIG_TABLE].toLocaleString('en')} rows, heap ${mib(generated.eventsHeap)}, with indexes ${mib(generated.eventsTotal)}`
    )
    const ctx = { bin, env, source, target, workDir, toolCache, pgcopydb, clientBin, sizeGb, builds }
    /** @type {Record<string, Record<string, any[]>>} */
    const results = Object.fromEntries(
      layouts.map((layout) => [layout, Object.fromEntries(ways.map((w) => [w.name, []]))])
    )
    for (let run = 1; run <= runs; run++) {
      // The order turns from run to run, so a burst of load or a warm cache does not always favour one way.
      const order = ways.map((_, i, all) => all[(i + run - 1) % all.length])
      for (const layout of layouts) {
        console.log(
          `\nrun ${run}/${runs}, ${layout === 'three' ? `three machines (${sideCpus} CPUs each)` : 'shared CPUs'} (order ${order.map((w) => w.name).join(', ')})`
        )
        for (const way of order) {
          const quiet = await waitForQuiet()
          /** @type {any} */
          let result
          try {
            if (layout === 'three') groups?.enter({ source, target })
            result = await runWay(way, ctx)
          } catch (error) {
            result = { failed: error instanceof Error ? error.message : String(error) }
          } finally {
            if (layout === 'three') groups?.leave()
          }
          if (!result.failed && way.kind === 'action' && (result.exitCode !== 0 || result.result !== 'passed'))
            result.failed = `exit ${result.exitCode}, result ${result.result}: ${JSON.stringify(result.error)}\n${result.logTail}`
          if (!result.failed) {
            const counts = await tableCounts(serverUrl(target, DATABASE, target.admin))
            const wrong = TABLES.filter((t) => counts[t] !== generated.counts[t])
            if (wrong.length)
              result.failed = `row counts differ from the source: ${wrong.map((t) => `${t} ${counts[t]} (source ${generated.counts[t]})`).join(', ')}`
          }
          if (result.failed) {
            failures++
            console.log(`  !! ${way.name} FAILED: ${result.failed}`)
          } else printWay(way.name, result)
          results[layout][way.name].push({ ...result, quietBefore: quiet })
        }
      }
    }
    await resetTarget(target, false)
    bySize.push({ sizeGb, database: generated, results })
  }
  const largest = bySize.at(-1)
  /** @param {string} name */
  const leftOut = (name) => ({ skipped: `--cases leaves ${name} out` })
  const resume = !cases.has('resume')
    ? leftOut('resume')
    : await resumeCase({
        source,
        target,
        toolCache,
        workDir,
        clientTemplate: live.bundle.template,
        expected: largest.database.counts,
        sizeGb: largest.sizeGb
      }).catch(failedCase)
  // artifact-encryption-key's cost, on the resume case's dump of the largest database.
  const encryption = !cases.has('encryption')
    ? leftOut('encryption')
    : !cases.has('resume')
      ? { skipped: "the encryption case reads the resume case's dump: --cases leaves resume out" }
      : await encryptionCase(path.join(workDir, 'resume-dump')).catch(failedCase)
  // The stream's own case, on the largest database: a dump folder of 1 GB, or a quarter of its size.
  const smallDisk = !cases.has('small-disk')
    ? leftOut('small-disk')
    : action
      ? await smallDiskCase({
          ...{ bin, env, source, target, workDir, toolCache, pgcopydb, clientBin, builds },
          sizeGb: largest.sizeGb,
          databaseBytes: largest.database.database
        }).catch(failedCase)
      : { skipped: 'the action is not among the ways' }
  printSmallDisk(smallDisk)
  // The zero-downtime case last, on the largest database: its writer changes the source.
  /** @type {any} */
  const sync = !cases.has('sync')
    ? leftOut('sync')
    : await benchSync({ source, target, workDir, toolCache, sizeGb: largest.sizeGb }).catch(failedCase)
  if (sync.initialCopy) compareInitialCopy(sync, largest.results.shared?.[action ?? ''] ?? [])
  // The apply's rate, and its lag behind writers at fixed rates, on a pgbench-like database of its own.
  const syncRates = !cases.has('sync-rates')
    ? leftOut('sync-rates')
    : await benchSyncRates({
        source,
        target,
        sourceUrl: serverUrl(source, 'sync_rates'),
        workDir,
        toolCache,
        clientTemplate: live.bundle.template,
        entry: builds.get(action ?? '')?.entry,
        rates: [250, 1000, 2000],
        seconds: 30,
        backlog: 50_000
      }).catch(failedCase)
  await resetTarget(target, false)

  // Summary
  const summary = bySize.map(({ sizeGb, database, results }) => ({
    sizeGb,
    databaseBytes: database.database,
    layouts: Object.fromEntries(
      Object.entries(results).map(([layout, byWay]) => {
        const summaries = Object.fromEntries(
          Object.entries(byWay).map(([way, wayRuns]) => [
            way,
            summarise(wayRuns, layout === 'three' ? sideCpus : cores)
          ])
        )
        return [layout, { summaries, ratios: action ? ratios(byWay, action) : {} }]
      })
    )
  }))
  for (const { sizeGb, databaseBytes, layouts: byLayout } of summary) {
    for (const [layout, { summaries, ratios: r }] of Object.entries(byLayout)) {
      console.log(
        `\n${sizeGb} GB (pg_database_size ${mib(databaseBytes)}), ${layout === 'three' ? `three machines: each side capped at ${sideCpus} CPUs` : `shared: ${cores} CPUs for all sides`}; medians of ${runs} run(s)`
      )
      console.log(markdownTable(summaries, r, LABELS, action ?? ''))
      const load = Object.values(summaries).map((s) => s.otherLoadPercent.max)
      console.log(
        `other load on the machine during the timed ways: at most ${Math.max(0, ...load)}% of the CPUs${Math.max(0, ...load) > 10 ? ' (shared machine: treat the times with care)' : ''}`
      )
      if (action)
        console.log(
          `the action's ratio: median of each run's own action/way; of the medians: ${Object.entries(r)
            .map(([w, x]) => `${w} ${x.ofMedians}`)
            .join(', ')}`
        )
    }
  }
  if (action && summary.length > 1) {
    for (const layout of layouts) {
      const perGb = summary.map((s) => ({
        size: s.sizeGb,
        perGb: s.layouts[layout].summaries[action].median / (s.databaseBytes / 1e9)
      }))
      console.log(
        `\n${layout}: the action's seconds per GB: ${perGb.map((p) => `${p.size} GB ${p.perGb.toFixed(1)}`).join(', ')}; largest over smallest ${(perGb.at(-1).perGb / perGb[0].perGb).toFixed(2)}`
      )
    }
  }
  console.log(
    `\nthree-machine bound: the largest side's CPU seconds over the cores one side has (${cores} shared, ${sideCpus} three); no copy with the sides on their own machines of that size can be faster`
  )
  console.log(
    `integrity: ${failures === 0 ? 'every way passed its checks and matched the source row counts, every run' : `${failures} FAILURES`}`
  )

  /** @type {Record<string, any>} */
  const output = {
    startedAt: new Date(Date.now() - performance.now()).toISOString(),
    config: {
      sizes,
      runs,
      jobs,
      layouts,
      sideCpus,
      quietWait,
      cpus: cores,
      memoryBytes: os.totalmem(),
      node: process.version,
      ways
    },
    versions,
    builds: Object.fromEntries([...builds].map(([name, b]) => [name, b.digest])),
    // The way the summary's ratios are of: the action's stream, unless --ways leaves it out.
    action,
    labels: LABELS,
    sizes: bySize.map(({ sizeGb, database, results }) => ({ sizeGb, database, results })),
    summary,
    resume,
    encryption,
    smallDisk,
    sync,
    syncRates,
    failures
  }
  // Last in the output, after every case: the issues' targets, each measured, met, not met or not run.
  output.targets = issueTargets(output)
  console.log(`\nissue targets (medians of ${runs} run(s); see docs/performance.md)\n${targetsTable(output.targets)}`)
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true })
  fs.writeFileSync(jsonPath, JSON.stringify(output, null, 2) + '\n')
  console.log(`wrote ${path.relative(process.cwd(), jsonPath) || jsonPath}`)
  if (failures > 0) process.exitCode = 1
}

/** A case that threw: its error in the results, the other cases still run. @param {unknown} error */
function failedCase(error) {
  return { failed: error instanceof Error ? error.message : String(error) }
}

/** @param {Record<string, { lines: number, withTimeLeft: number, closestSeconds?: number }>} byStage */
function progressSummary(byStage) {
  const stages = Object.entries(byStage)
  if (!stages.length) return 'progress: no line (every stage was shorter than the interval)'
  return `progress lines: ${stages
    .map(
      ([stage, s]) =>
        `${stage} ${s.lines} (${s.withTimeLeft} with the time left${s.closestSeconds !== undefined ? `, ${s.closestSeconds} s apart at the closest` : ''})`
    )
    .join(', ')}`
}

/** @param {string} name @param {any} r */
function printWay(name, r) {
  const detail = [
    r.dumpSeconds !== undefined ? `dump ${secs(r.dumpSeconds)}, restore ${secs(r.restoreSeconds)}` : '',
    r.cloneSeconds !== undefined ? `clone ${secs(r.cloneSeconds)}, compare ${secs(r.compareSeconds)}` : '',
    `runner by program: ${Object.entries(r.runnerByProgram)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    ...['source', 'target'].map(
      (side) =>
        `${side} by activity: ${Object.entries(r.serverByActivity[side])
          .filter(([, v]) => v >= 0.1)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`
    ),
    r.stages ? r.stages.map((/** @type {any} */ s) => `${s.stage} ${s.seconds.toFixed(1)}`).join(', ') : '',
    r.progress ? progressSummary(r.progress.byStage) : ''
  ].filter(Boolean)
  console.log(
    `  ${name.padEnd(16)} ${secs(r.seconds).padStart(8)}   CPU s runner ${r.cpu.runner}, source ${r.cpu.source}, target ${r.cpu.target}` +
      ` (others ${r.otherLoadPercent}%)   peak RSS ${mib(r.rss.mainBytes)} / tree ${mib(r.rss.treeBytes)}${detail.map((line) => `\n${' '.repeat(20)}${line}`).join('')}`
  )
}

try {
  await main()
} catch (error) {
  console.error(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  process.exitCode = 1
} finally {
  await cleanup()
}
