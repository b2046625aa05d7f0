// Benchmark: one generated PostgreSQL 14 database copied into PostgreSQL 17 three ways, on the same
// data and servers, so the action's cost can be read against what a person would do by hand:
//   (a) plain pg_dump piped into psql (the seed guide's way);
//   (b) hand-tuned pg_dump -Fd -j N -Z zstd:1 then pg_restore -j N, no verification;
//   (c) the action itself (node dist/index.js, mode migrate, verify full), run as a workflow step.
// After every copy the row counts of all tables are compared with the source, so a fast but wrong
// run cannot look good.
//
//   node bench/run.js [--size-gb 1] [--runs 3] [--jobs <cpus>] [--json bench/results.json]
//                     [--quiet-wait 300]
//
// Peak RSS of the action: runAction spawns node itself, so /usr/bin/time cannot wrap it. The bench
// polls /proc/<pid>/status (VmHWM, the kernel's own high-water mark) of the action's node process
// every 100 ms and keeps the largest value; the last poll before exit is at most 100 ms old. It also
// sums VmRSS over the action's whole process tree (node + pg_dump/pg_restore and their workers) at
// each poll and keeps the peak. The same poller samples /proc/stat for CPU use per stage.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CLIENT_BUNDLE_DIR, findClientBundle, startClientBundleServer } from '../test/support/client-bundle-server.js'
import { REPO_ROOT, serverUrl, startServerPair, withClient } from '../test/support/servers.js'
import { BIG_TABLE, DATABASE, generate, TABLES, tableCounts } from './database.js'
import { jobs, jsonPath, quietWait, runs, sizeGb } from './options.js'
import { baseDir, cleanup, live, median, mib, now, round, runTool, secs, toolEnv } from './processes.js'
import { waitForQuiet } from './sampler.js'
import { resumeCase } from './resume.js'
import { dropTarget, freshTarget, handTuned, plainPipe, viaActionWithRetry } from './ways.js'

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const bundle = findClientBundle(CLIENT_BUNDLE_DIR)
  fs.mkdirSync(baseDir, { recursive: true })
  const workDir = path.join(baseDir, 'work')
  const toolCache = path.join(baseDir, 'tool-cache')
  fs.mkdirSync(workDir, { recursive: true })

  // The same 17 client the action installs, for ways (a) and (b).
  const clientDir = path.join(baseDir, 'client')
  fs.mkdirSync(clientDir, { recursive: true })
  await runTool('tar', ['-xzf', bundle.file, '-C', clientDir, '--strip-components=1'], { ...process.env })
  const bin = Object.fromEntries(
    ['pg_dump', 'pg_restore', 'psql'].map((name) => [name, path.join(clientDir, 'bin', name)])
  )

  console.log(
    `pg-migrate-action benchmark: ${sizeGb} GB, ${runs} run(s), ${jobs} job(s), ${os.availableParallelism()} CPUs`
  )
  console.log(`temp folder ${baseDir}; client bundle ${path.basename(bundle.file)}`)
  console.log('starting PostgreSQL 14 (source) and 17 (target, admin without superuser)…')
  const { source, target } = await startServerPair(baseDir)
  live.source = source
  live.target = target
  live.bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })

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
  const versions = {
    source: await withClient(
      serverUrl(source, 'postgres'),
      async (c) => (await c.query('SHOW server_version')).rows[0].server_version
    ),
    target: await withClient(
      serverUrl(target, 'postgres'),
      async (c) => (await c.query('SHOW server_version')).rows[0].server_version
    )
  }

  console.log(`generating the benchmark database on ${versions.source}…`)
  const generated = await generate(source)
  console.log(
    `  pg_database_size = ${mib(generated.database)} (${(generated.database / 1e9).toFixed(2)} GB) in ${secs(generated.seconds)}; ` +
      `${BIG_TABLE}: ${generated.counts[BIG_TABLE].toLocaleString('en')} rows, heap ${mib(generated.eventsHeap)}, with indexes ${mib(generated.eventsTotal)}`
  )
  console.log(`  rows: ${TABLES.map((t) => `${t} ${generated.counts[t].toLocaleString('en')}`).join(', ')}`)

  /** @type {any[]} */
  const results = []
  let integrityFailures = 0
  const check = async (/** @type {string} */ way, /** @type {number} */ run) => {
    const counts = await tableCounts(serverUrl(target, DATABASE, target.admin))
    const wrong = TABLES.filter((t) => counts[t] !== generated.counts[t]).map(
      (t) => `${t}: ${counts[t]} rows, source has ${generated.counts[t]}`
    )
    if (wrong.length) {
      integrityFailures++
      console.log(`  !! run ${run} way ${way}: ROW COUNTS DIFFER FROM THE SOURCE: ${wrong.join('; ')}`)
    }
    return { ok: wrong.length === 0, wrong }
  }

  /** @type {Record<string, (run: number) => Promise<any>>} */
  const ways = {
    a: async (run) => {
      const result = await plainPipe({ bin, env, source, target })
      result.integrity = await check('a', run)
      console.log(
        `  (a) pg_dump | psql                        ${secs(result.seconds)}  cpu ${result.cpuBusyPercent}%` +
          ` (${result.cpuSeconds} CPU s; others ${result.otherLoadPercent}%)`
      )
      return result
    },
    b: async (run) => {
      const result = await handTuned({ bin, env, source, target, workDir })
      result.integrity = await check('b', run)
      // Not part of (b): what the ANALYZE the action runs after its restore costs on this copy.
      const analyzeStarted = now()
      await withClient(serverUrl(target, DATABASE, target.admin), (c) => c.query('ANALYZE'))
      result.analyzeAfterSeconds = round((now() - analyzeStarted) / 1000)
      console.log(
        `  (b) pg_dump -Fd -j${jobs} -Z zstd:1 + pg_restore -j${jobs}  ${secs(result.seconds)}` +
          ` (${result.cpuSeconds} CPU s; others ${result.otherLoadPercent}%)`
      )
      const timeline = result.restoreTimeline
      console.log(
        `      dump ${secs(result.dumpSeconds)} cpu ${result.cpuBusyPercent.dump}%, ${mib(result.dumpBytes)};` +
          ` restore ${secs(result.restoreSeconds)} cpu ${result.cpuBusyPercent.restore}%; a later ANALYZE takes ${secs(result.analyzeAfterSeconds)}`
      )
      console.log(
        `      restore: all table data in after ${secs(timeline.allDataInSeconds)} (cpu ${result.cpuBusyPercent.restoreUntilAllDataIn}%),` +
          ` then ${secs(timeline.afterDataSeconds)} of indexes and constraints (cpu ${result.cpuBusyPercent.restoreAfterAllDataIn}%)`
      )
      return result
    },
    c: async (run) => {
      const result = await viaActionWithRetry({ source, target, workDir, toolCache, run })
      result.integrity = result.exitCode === 0 ? await check('c', run) : { ok: false, wrong: ['the action failed'] }
      if (result.exitCode !== 0 || result.result !== 'passed') {
        integrityFailures++
        console.log(`  !! (c) the action did not pass: exit ${result.exitCode}, result ${result.result}`)
        if (result.error) console.log(`     ${JSON.stringify(result.error)}`)
        if (result.stderrTail) console.log(result.stderrTail)
      }
      console.log(
        `  (c) the action (verify: full)              ${secs(result.seconds)}` +
          ` (${result.cpuSeconds} CPU s; others ${result.otherLoadPercent}%)` +
          `${result.clientDownloaded ? '  [downloads and caches the client]' : '  [client from the tool cache]'}` +
          ` dist ${result.distSha256}; row hash by table: ${JSON.stringify(result.hashMethods)}`
      )
      for (const stage of result.stages) {
        console.log(
          `        ${`${stage.stage}${stage.status === 'ok' ? '' : ` (${stage.status})`}`.padEnd(28)} ${secs(stage.seconds).padStart(8)}` +
            `${stage.cpuBusyPercent === undefined ? '' : `  cpu ${stage.cpuBusyPercent}%`}`
        )
      }
      console.log(
        `        outside stages: start ${secs(result.startupSeconds)}, after the last stage ${secs(result.afterStagesSeconds)}`
      )
      console.log(
        `        peak RSS: action node ${mib(result.peakRss.actionBytes)} (VmHWM), action tree ${mib(result.peakRss.treeBytes)} (${result.peakRss.treeProcessesAtPeak} processes)`
      )
      return result
    }
  }

  for (let run = 1; run <= runs; run++) {
    // The order turns from run to run, so a burst of load or a warm cache does not always favour one way.
    const order = ['a', 'b', 'c'].map((_, i, all) => all[(i + run - 1) % all.length])
    console.log(`\nrun ${run}/${runs} (order ${order.join(', ')})`)
    /** @type {any} */
    const entry = { run, order }
    for (const way of order) {
      await freshTarget(target)
      const quiet = await waitForQuiet()
      entry[way] = { ...(await ways[way](run)), quietBefore: quiet }
    }
    results.push(entry)
    if (run < runs) await dropTarget(target)
  }

  await dropTarget(target)
  const resume = await resumeCase({
    source,
    target,
    toolCache,
    workDir,
    clientTemplate: live.bundle.template,
    expected: generated.counts
  })

  // Summary
  const med = {
    a: median(results.map((r) => r.a.seconds)),
    b: median(results.map((r) => r.b.seconds)),
    bDump: median(results.map((r) => r.b.dumpSeconds)),
    bRestore: median(results.map((r) => r.b.restoreSeconds)),
    c: median(results.map((r) => r.c.seconds)),
    cWithoutInstall: median(
      results.map(
        (r) =>
          r.c.seconds -
          (r.c.stages.find((/** @type {any} */ s) => s.stage === 'Install PostgreSQL client')?.seconds ?? 0)
      )
    )
  }
  const cpu = {
    a: median(results.map((r) => r.a.cpuSeconds)),
    b: median(results.map((r) => r.b.cpuSeconds)),
    c: median(results.map((r) => r.c.cpuSeconds))
  }
  // Medians over the runs in which a way had the machine (nearly) to itself.
  const calm = Object.fromEntries(
    ['a', 'b', 'c'].map((way) => {
      const quiet = results.filter((r) => r[way].otherLoadPercent <= 10).map((r) => r[way].seconds)
      return [way, { runs: quiet.length, median: round(median(quiet)) }]
    })
  )
  const stageNames = [...new Set(results.flatMap((r) => r.c.stages.map((/** @type {any} */ s) => s.stage)))]
  const stageMedians = Object.fromEntries(
    stageNames.map((name) => [
      name,
      round(
        median(
          results.map((r) =>
            r.c.stages.filter((/** @type {any} */ s) => s.stage === name).reduce((a, s) => a + s.seconds, 0)
          )
        ),
        2
      )
    ])
  )
  const ratios = {
    cOverB: round(med.c / med.b, 2),
    cOverA: round(med.c / med.a, 2),
    cWithoutInstallOverB: round(med.cWithoutInstall / med.b, 2),
    cpuCOverB: round(cpu.c / cpu.b, 2),
    // Each run's own c/b and c/a (the ways ran minutes apart), then the median: steadier when the
    // machine's speed drifts over the benchmark.
    perRunCOverB: round(median(results.map((r) => r.c.seconds / r.b.seconds)), 2),
    perRunCOverA: round(median(results.map((r) => r.c.seconds / r.a.seconds)), 2),
    calmCOverB: round(calm.c.median / calm.b.median, 2),
    calmCOverA: round(calm.c.median / calm.a.median, 2)
  }
  const peak = {
    actionBytes: Math.max(...results.map((r) => r.c.peakRss.actionBytes)),
    treeBytes: Math.max(...results.map((r) => r.c.peakRss.treeBytes))
  }

  console.log(`\nsummary (${runs} run(s), medians; ${mib(generated.database)} database, ${jobs} jobs)`)
  const row = (/** @type {string} */ label, /** @type {number[]} */ xs, /** @type {number} */ m) =>
    console.log(`  ${label.padEnd(36)} ${xs.map((x) => secs(x).padStart(8)).join(' ')}   median ${secs(m)}`)
  /** @type {[string, (r: any) => number, number][]} */
  const totals = [
    ['(a) pg_dump | psql', (r) => r.a.seconds, med.a],
    [`(b) -Fd -j${jobs} zstd:1 + pg_restore -j${jobs}`, (r) => r.b.seconds, med.b],
    ['    of which pg_dump', (r) => r.b.dumpSeconds, med.bDump],
    ['    of which pg_restore', (r) => r.b.restoreSeconds, med.bRestore],
    ['(c) the action, verify full', (r) => r.c.seconds, med.c]
  ]
  for (const [label, seconds, m] of totals) row(label, results.map(seconds), m)
  for (const name of stageNames) {
    row(
      `    stage ${name}`,
      results.map((r) =>
        r.c.stages.filter((/** @type {any} */ s) => s.stage === name).reduce((a, s) => a + s.seconds, 0)
      ),
      stageMedians[name]
    )
  }
  console.log(`  the tool cache persists across runs: run 1 downloads the client, later runs find it cached`)
  console.log(
    `  c/b = ${ratios.cOverB}   c/a = ${ratios.cOverA}   (c without the Install stage)/b = ${ratios.cWithoutInstallOverB}`
  )
  console.log(`  median of each run's own ratio: c/b = ${ratios.perRunCOverB}   c/a = ${ratios.perRunCOverA}`)
  console.log(
    `  CPU seconds used (tools, action, both servers), medians: a ${cpu.a}, b ${cpu.b}, c ${cpu.c}; c/b = ${ratios.cpuCOverB}`
  )
  console.log(
    `  runs with others <= 10% of the CPUs: a ${calm.a.runs} (median ${secs(calm.a.median)}), b ${calm.b.runs} (${secs(calm.b.median)}),` +
      ` c ${calm.c.runs} (${secs(calm.c.median)}); c/b = ${ratios.calmCOverB}, c/a = ${ratios.calmCOverA}`
  )
  console.log(
    `  peak RSS of the action's node process ${mib(peak.actionBytes)}; of its process tree ${mib(peak.treeBytes)}`
  )
  console.log(`  (peak RSS by polling /proc/<pid>/status VmHWM every 100 ms, keeping the max)`)
  const otherMax = Math.max(
    ...results.flatMap((r) => [r.a.otherLoadPercent, r.b.otherLoadPercent, r.c.otherLoadPercent])
  )
  console.log(
    `  other load on the machine during the timed ways: at most ${otherMax}% of the CPUs` +
      (otherMax > 10 ? ' (the machine was shared: treat the times with care)' : '')
  )
  const builds = [...new Set(results.map((r) => r.c.distSha256))]
  if (builds.length > 1) {
    console.log(
      `  note: dist/index.js changed during the benchmark (${builds.join(', ')}): runs measured different builds`
    )
  }
  console.log(
    `  integrity: ${integrityFailures === 0 ? 'row counts of every table matched the source after every way' : `${integrityFailures} FAILURES`}`
  )

  const output = {
    startedAt: new Date(Date.now() - performance.now()).toISOString(),
    config: {
      sizeGb,
      runs,
      jobs,
      quietWait,
      cpus: os.availableParallelism(),
      memoryBytes: os.totalmem(),
      node: process.version
    },
    versions: { ...versions, client: bundle.version },
    database: {
      name: DATABASE,
      bytes: generated.database,
      generateSeconds: round(generated.seconds),
      bigTable: { name: BIG_TABLE, heapBytes: generated.eventsHeap, totalBytes: generated.eventsTotal },
      rows: generated.counts
    },
    peakRssMethod:
      'poll /proc/<pid>/status VmHWM of the action node process every 100 ms, keep the max; tree = sum of VmRSS over node and its descendants at each poll',
    runs: results,
    medians: {
      ...Object.fromEntries(Object.entries(med).map(([k, v]) => [k, round(v)])),
      cStages: stageMedians,
      cpuSeconds: cpu,
      calm
    },
    ratios,
    peakRss: peak,
    integrityFailures,
    resume
  }
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true })
  fs.writeFileSync(jsonPath, JSON.stringify(output, null, 2) + '\n')
  console.log(`\nwrote ${path.relative(process.cwd(), jsonPath) || jsonPath}`)
  if (integrityFailures > 0) process.exitCode = 1
}

try {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'index.js')))
    throw new Error('dist/index.js is missing: run npm run package')
  await main()
} catch (error) {
  console.error(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  process.exitCode = 1
} finally {
  await cleanup()
}
