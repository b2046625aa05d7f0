// The resume case on the stream: the action migrates the benchmark database by the stream (verify
// full) once whole, and once killed (SIGKILL of the action and every process it started, as a
// runner that dies) when pieces holding half the table bytes have committed on the target, then resumed with
// if-target-not-empty: resume, which keeps the pieces the killed run committed. Reported: each run's
// time and CPU seconds per side, and the resumed run's time as a fraction of the whole run.
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { killProcessesWith } from '../test/support/faults.js'
import { runAction } from '../test/support/run-action.js'
import { serverUrl, withClient } from '../test/support/servers.js'
import { DATABASE, TABLES, tableCounts } from './database.js'
import { jobs } from './options.js'
import { round, secs } from './processes.js'
import { timed } from './timed.js'
import { resetTarget } from './ways.js'

/** Waits until no session of the killed run is left in the target database. */
export async function sessionsGone(target) {
  for (;;) {
    const { rows } = await withClient(serverUrl(target, 'postgres'), (client) =>
      client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [DATABASE])
    )
    if (rows[0].n === 0) return
    await sleep(100)
  }
}

/** The bytes of each of the benchmark's tables on the source, by schema-qualified name. */
async function tableBytes(url) {
  return withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT n.nspname || '.' || c.relname AS name, pg_relation_size(c.oid)::bigint AS bytes FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND (n.nspname || '.' || c.relname) = ANY($1)`,
      [TABLES]
    )
    return new Map(rows.map((row) => [row.name, Number(row.bytes)]))
  })
}

/**
 * The source bytes of the pieces the target has committed, from the record the stream keeps there
 * (a piece commits with its record): a whole table, or a block range of 8 KiB blocks, the last open.
 */
async function committedBytes(target, sourceBytes) {
  const { rows } = await withClient(serverUrl(target, DATABASE), (client) =>
    client.query('SELECT piece FROM "_pg_migrate_action".piece')
  )
  return rows.reduce((sum, { piece }) => {
    const [schema, name, from, to] = JSON.parse(piece)
    const bytes = sourceBytes.get(`${schema}.${name}`) ?? 0
    return sum + (from === null ? bytes : to === null ? bytes - from * 8192 : (to - from) * 8192)
  }, 0)
}

const cpuOf = (run) => ({ ...run.cpu, total: round(run.cpu.runner + run.cpu.source + run.cpu.target, 1) })

/**
 * @param {{ source: any, target: any, toolCache: string, workDir: string, clientTemplate: string,
 *   expected: Record<string, number>, sizeGb: number }} ctx
 */
export async function streamResumeCase({ source, target, toolCache, workDir, clientTemplate, expected, sizeGb }) {
  const step = (name, inputs, options = {}) =>
    runAction(
      {
        'client-download-url': clientTemplate,
        jobs: String(jobs),
        'upload-artifact': 'false',
        'copy-method': 'stream',
        'source-url': serverUrl(source, DATABASE),
        'target-url': serverUrl(target, DATABASE, target.admin),
        ...inputs
      },
      { toolCache, workDir: path.join(workDir, name), timeoutMs: Math.max(600_000, 1_800_000 * sizeGb), ...options }
    )
  const checked = async (label, run) => {
    if (run.exitCode !== 0 || run.outputs.result !== 'passed')
      throw new Error(`${label}: exit ${run.exitCode}, ${JSON.stringify(run.report?.error)}`)
    const counts = await tableCounts(serverUrl(target, DATABASE, target.admin))
    const wrong = TABLES.filter((t) => counts[t] !== expected[t])
    if (wrong.length) throw new Error(`${label}: row counts differ from the source for ${wrong.join(', ')}`)
  }
  const servers = { source, target }
  const main = /index\.js/

  console.log('\nresume case on the stream (mode migrate, copy-method stream, verify full)')
  const bySource = await tableBytes(serverUrl(source, DATABASE))
  const sourceBytes = [...bySource.values()].reduce((sum, bytes) => sum + bytes, 0)
  await resetTarget(target, true)
  const whole = await timed(servers, { main }, async () => ({ run: await step('stream-whole', {}) }))
  await checked('whole stream', whole.run)
  console.log(`  whole stream                      ${secs(whole.seconds)}, CPU s ${JSON.stringify(cpuOf(whole))}`)

  await resetTarget(target, true)
  const killDir = path.join(workDir, 'stream-killed')
  fs.rmSync(killDir, { recursive: true, force: true })
  fs.mkdirSync(killDir, { recursive: true })
  const killed = await killAtHalf(target, bySource, () => step('stream-killed', {}, { workDir: killDir }), killDir)
  await sessionsGone(target)
  console.log(
    `  killed after                      ${secs(killed.after)} with ${((killed.bytes / sourceBytes) * 100).toFixed(0)}% of the table bytes committed on the target (${killed.processes} processes)`
  )

  const resumed = await timed(servers, { main }, async () => ({
    run: await step('stream-resumed', { 'if-target-not-empty': 'resume' })
  }))
  await checked('resumed stream', resumed.run)
  const database = resumed.run.report?.databases?.[0] ?? {}
  const resume = database.resume ?? {}
  const fraction = round(resumed.seconds / whole.seconds, 2)
  console.log(
    `  resumed                           ${secs(resumed.seconds)} = ${fraction} of the whole stream; CPU s ${JSON.stringify(cpuOf(resumed))}; kept ${resume.pieces?.kept} pieces, streamed ${resume.pieces?.streamed} (${database.stream?.rows} rows)`
  )
  const stages = (resumed.run.report?.stages ?? []).map((s) => `${s.stage} ${s.seconds}s`).join(', ')
  console.log(`    stages: ${stages}`)
  await resetTarget(target, false)
  return {
    wholeSeconds: whole.seconds,
    wholeCpu: cpuOf(whole),
    wholeStages: whole.run.report?.stages,
    killedAfterSeconds: round(killed.after),
    killedAtByteFraction: round(killed.bytes / sourceBytes, 2),
    resumedSeconds: resumed.seconds,
    resumedCpu: cpuOf(resumed),
    resumedOverWhole: fraction,
    resumedCpuOverWhole: round(cpuOf(resumed).total / cpuOf(whole).total, 2),
    pieces: resume.pieces,
    kept: resume.kept,
    keptInPart: resume.reloaded,
    streamedRows: database.stream?.rows,
    resumedStages: resumed.run.report?.stages
  }
}

/** Runs `start` and kills it, and all it started, once the target has committed half the source's table bytes. */
async function killAtHalf(target, bySource, start, killDir) {
  const sourceBytes = [...bySource.values()].reduce((sum, bytes) => sum + bytes, 0)
  const started = performance.now()
  let killed = { after: 0, bytes: 0, processes: 0 }
  let stopped = false
  const watching = (async () => {
    while (!stopped && killed.processes === 0) {
      const bytes = await committedBytes(target, bySource).catch(() => 0)
      if (bytes >= sourceBytes / 2)
        killed = {
          after: (performance.now() - started) / 1000,
          bytes,
          processes: killProcessesWith(path.join(killDir, 'temp'))
        }
      else await sleep(100)
    }
  })()
  await start()
  stopped = true
  await watching
  if (killed.processes === 0) throw new Error('the stream ended before half the data was in: use a bigger --size-gb')
  return killed
}
