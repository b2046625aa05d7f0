// The resume case: the action restores the benchmark database's dump (mode restore, verify full)
// once whole, and once killed (SIGKILL of the action and every process it started, as a runner
// that dies) when about half the table data is on the target, then resumed with
// if-target-not-empty: resume. Reported: the resumed run's time as a fraction of the whole run.
// Then the same on the stream (bench/resume-stream.js): a migrate by the stream, killed and resumed.
//
// `npm run bench` runs it after the three ways (bench/run.js); on its own:
//   node bench/resume.js [--size-gb 1] [--jobs <cpus>] [--json bench/resume.json]
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { CLIENT_BUNDLE_DIR, startClientBundleServer } from '../test/support/client-bundle-server.js'
import { killProcessesWith } from '../test/support/faults.js'
import { runAction } from '../test/support/run-action.js'
import { serverUrl, startServerPair, withClient } from '../test/support/servers.js'
import { DATABASE, generate, TABLES, tableCounts } from './database.js'
import { jobs, jsonPath, sizes } from './options.js'
import { baseDir, cleanup, live, now, round, secs } from './processes.js'
import { resetTarget } from './ways.js'
import { sessionsGone, streamResumeCase } from './resume-stream.js'

/**
 * The bytes each COPY into the target's benchmark database has taken so far, by table: what
 * pg_stat_progress_copy says of the COPYs running now (a table's size would not do: pg_restore
 * loads a table it created into a new file that shows only at commit).
 */
async function copyProgress(target) {
  return withClient(serverUrl(target, DATABASE), async (client) => {
    const { rows } = await client.query(
      `SELECT p.relid::regclass::text AS name, p.bytes_processed::bigint AS bytes FROM pg_stat_progress_copy p
        WHERE p.datname = current_database() AND p.command = 'COPY FROM'`
    )
    return rows.map((row) => ({ name: row.name, bytes: Number(row.bytes) }))
  })
}

/** Watches the COPYs of a run until `stop()`: the most bytes seen per table, and their sum. */
function watchCopies(target, onProgress = (/** @type {number} */ _loaded) => undefined) {
  /** @type {Map<string, number>} */
  const seen = new Map()
  let stopped = false
  const loaded = () => [...seen.values()].reduce((sum, bytes) => sum + bytes, 0)
  const done = (async () => {
    while (!stopped) {
      for (const { name, bytes } of await copyProgress(target).catch(() => []))
        seen.set(name, Math.max(bytes, seen.get(name) ?? 0))
      onProgress(loaded())
      await sleep(100)
    }
  })()
  return {
    loaded,
    async stop() {
      stopped = true
      await done
      return loaded()
    }
  }
}

/**
 * @param {{ source: any, target: any, toolCache: string, workDir: string, clientTemplate: string,
 *   expected: Record<string, number>, sizeGb: number }} ctx
 */
export async function resumeCase({ source, target, toolCache, workDir, clientTemplate, expected, sizeGb }) {
  const dumpPath = path.join(workDir, 'resume-dump')
  fs.rmSync(dumpPath, { recursive: true, force: true })
  const step = (name, inputs, options = {}) =>
    runAction(
      // The restore-mode case reads a dump; the stream's own case is streamResumeCase.
      {
        'client-download-url': clientTemplate,
        jobs: String(jobs),
        'upload-artifact': 'false',
        'copy-method': 'dump',
        ...inputs
      },
      { toolCache, workDir: path.join(workDir, name), timeoutMs: Math.max(600_000, 1_800_000 * sizeGb), ...options }
    )
  const restore = { mode: 'restore', 'target-url': serverUrl(target, DATABASE, target.admin), 'dump-path': dumpPath }
  const checked = async (label, run) => {
    if (run.exitCode !== 0 || run.outputs.result !== 'passed')
      throw new Error(`${label}: exit ${run.exitCode}, ${JSON.stringify(run.report?.error)}`)
    const counts = await tableCounts(serverUrl(target, DATABASE, target.admin))
    const wrong = TABLES.filter((t) => counts[t] !== expected[t])
    if (wrong.length) throw new Error(`${label}: row counts differ from the source for ${wrong.join(', ')}`)
  }

  console.log('\nresume case (mode restore, verify full)')
  const dumped = await step('resume-dump-run', {
    mode: 'dump',
    'source-url': serverUrl(source, DATABASE),
    'dump-path': dumpPath,
    'postgres-version': String(target.major)
  })
  if (dumped.exitCode !== 0) throw new Error(`dump: ${JSON.stringify(dumped.report?.error)}`)

  await resetTarget(target, true)
  let started = now()
  const copies = watchCopies(target)
  const whole = await step('resume-whole', restore)
  const wholeSeconds = (now() - started) / 1000
  // Tables that load between two looks are missed: the half is about half.
  const totalBytes = await copies.stop()
  await checked('whole restore', whole)
  console.log(
    `  whole restore                     ${secs(wholeSeconds)} (${(totalBytes / 2 ** 20).toFixed(0)} MiB through COPY seen)`
  )

  await resetTarget(target, true)
  const killDir = path.join(workDir, 'resume-killed')
  fs.rmSync(killDir, { recursive: true, force: true })
  fs.mkdirSync(killDir, { recursive: true })
  let killedAfter = 0
  let killedAtBytes = 0
  let killed = 0
  started = now()
  const watcher = watchCopies(target, (loaded) => {
    if (killed > 0 || loaded < totalBytes / 2) return
    killedAfter = (now() - started) / 1000
    killedAtBytes = loaded
    killed = killProcessesWith(path.join(killDir, 'temp'))
  })
  await step('resume-killed', restore, { workDir: killDir })
  await watcher.stop()
  if (killed === 0) throw new Error('the restore ended before half the data was in: use a bigger --size-gb')
  await sessionsGone(target)
  console.log(
    `  killed after                      ${secs(killedAfter)} at ${((killedAtBytes / totalBytes) * 100).toFixed(0)}% of the data through COPY (${killed} processes)`
  )

  started = now()
  const resumed = await step('resume-resumed', { ...restore, 'if-target-not-empty': 'resume' })
  const resumedSeconds = (now() - started) / 1000
  await checked('resumed restore', resumed)
  const resume = resumed.report?.databases?.[0]?.resume ?? {}
  const fraction = round(resumedSeconds / wholeSeconds, 2)
  console.log(
    `  resumed                           ${secs(resumedSeconds)} = ${fraction} of the whole restore; kept ${resume.kept?.length} tables, loaded ${resume.reloaded?.length} again (${(resume.reloaded ?? []).join(', ')}), created ${resume.created?.length} items`
  )
  const stages = (resumed.report?.stages ?? []).map((s) => `${s.stage} ${s.seconds}s`).join(', ')
  console.log(`    stages: ${stages}`)
  await resetTarget(target, false)
  const stream = await streamResumeCase({ source, target, toolCache, workDir, clientTemplate, expected, sizeGb })
  return {
    stream,
    wholeSeconds: round(wholeSeconds),
    killedAfterSeconds: round(killedAfter),
    killedAtCopyFraction: round(killedAtBytes / totalBytes, 2),
    resumedSeconds: round(resumedSeconds),
    resumedOverWhole: fraction,
    kept: resume.kept,
    reloaded: resume.reloaded,
    created: resume.created?.length,
    resumedStages: resumed.report?.stages
  }
}

// On its own: its own servers and database, as bench/run.js makes them.
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    fs.mkdirSync(baseDir, { recursive: true })
    const { source, target } = await startServerPair(baseDir)
    live.source = source
    live.target = target
    live.bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })
    const sizeGb = sizes.at(-1) ?? 1
    console.log(`generating the benchmark database (${sizeGb} GB)…`)
    const generated = await generate(source, sizeGb)
    const workDir = path.join(baseDir, 'work')
    fs.mkdirSync(workDir, { recursive: true })
    const result = await resumeCase({
      source,
      target,
      toolCache: path.join(baseDir, 'tool-cache'),
      workDir,
      clientTemplate: live.bundle.template,
      expected: generated.counts,
      sizeGb
    })
    const file = jsonPath.replace(/\.json$/, '-resume.json')
    fs.writeFileSync(
      file,
      JSON.stringify({ sizeGb, jobs, database: generated.database, resume: result }, null, 2) + '\n'
    )
    console.log(`wrote ${path.relative(process.cwd(), file)}`)
  } catch (error) {
    console.error(`resume case failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    process.exitCode = 1
  } finally {
    await cleanup()
  }
}
