// The zero-downtime case: the benchmark database copied by the action with sync: logical while a
// steady writer (a pgbench-like transaction: three updates and an insert, plus a new event, at a fixed
// rate) goes on writing through the dump, the restore and the stream. The writer stops a fixed time
// after the action says it has caught up; the action cuts over once the source has been idle for
// cutover-idle-seconds. Reported: the downtime window (the source's last write to the end of verify,
// and its parts), the lag at cutover, the lag over time, and what was replayed.
//
// It runs as the last case of `npm run bench` (bench/run.js starts the servers and generates the
// database it uses); `npm run bench -- --runs 1` for one pass of every case. Alone, on servers of its
// own, once per size: `node bench/sync.js --sizes 1,5 [--entry path/to/index.js]`.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { setTimeout as sleep } from 'node:timers/promises'
import { CLIENT_BUNDLE_DIR, startClientBundleServer } from '../test/support/client-bundle-server.js'
import { runAction } from '../test/support/run-action.js'
import { serverUrl, startServerPair, stopServer, withClient } from '../test/support/servers.js'
import { DATABASE, generate } from './database.js'
import { entry, jobs, sizes } from './options.js'
import { live, round } from './processes.js'
import { initialCopySeconds, syncCopyAgainstMigrate } from './initial-copy.js'

/** Transactions per second the writer aims at: steady, well below what two cores can take. */
const WRITER_RATE = 50
/** How long the writer goes on after the action has caught up, so the stream runs at steady state. */
const WRITE_ON_AFTER_CATCH_UP_MS = 15_000
const IDLE_SECONDS = 5

/**
 * @param {{ source: any, target: any, workDir: string, toolCache: string, sizeGb: number, entry?: string }} ctx
 */
export async function benchSync({ source, target, workDir, toolCache, sizeGb, entry }) {
  console.log(`\nzero-downtime case: sync: logical with a steady writer (${WRITER_RATE} transactions/s)`)
  const sourceUrl = serverUrl(source, DATABASE)
  // pgbench_history has no key: append-only, so a full replica identity costs nothing and lets it be synced.
  await withClient(sourceUrl, (client) => client.query('ALTER TABLE public.pgbench_history REPLICA IDENTITY FULL'))
  await withClient(serverUrl(target, 'postgres', target.admin), async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${DATABASE}`)
    await client.query(`CREATE DATABASE ${DATABASE} TEMPLATE template0 ENCODING 'UTF8'`)
  })

  const writer = startWriter(sourceUrl)
  let caughtUp = false
  let pending = ''
  const started = performance.now()
  const run = await runAction(
    {
      'source-url': sourceUrl,
      'target-url': serverUrl(target, DATABASE, target.admin),
      sync: 'logical',
      cutover: 'when-idle',
      'cutover-idle-seconds': String(IDLE_SECONDS),
      verify: 'full',
      jobs: String(jobs),
      'client-download-url': live.bundle.template,
      'upload-artifact': 'false'
    },
    {
      toolCache,
      entry,
      workDir: `${workDir}/sync-step`,
      timeoutMs: Math.max(900_000, 2_700_000 * sizeGb),
      onStdout(chunk) {
        pending += chunk
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        if (!caughtUp && lines.some((line) => line.startsWith('sync: caught up with the source'))) {
          caughtUp = true
          setTimeout(() => writer.stop(), WRITE_ON_AFTER_CATCH_UP_MS)
        }
      }
    }
  )
  writer.stop()
  const written = await writer.done
  const seconds = (performance.now() - started) / 1000
  const database = run.report?.databases?.find((/** @type {any} */ d) => d.name === DATABASE)
  const sync = database?.sync
  const stages = (run.report?.stages ?? []).map((/** @type {any} */ s) => `${s.stage} ${s.seconds}s`).join(', ')
  /** @type {Record<string, any>} againstMigrate: set by compareInitialCopy, in a whole bench run */
  const initialCopy = {
    seconds: initialCopySeconds(run.report?.stages ?? []),
    copyMethod: database?.copyMethod?.method,
    sessions: database?.stream?.sessions,
    jobs
  }
  const result = {
    sizeGb,
    seconds: round(seconds),
    exitCode: run.exitCode,
    result: run.outputs.result,
    mismatches: Number(run.outputs.mismatches ?? NaN),
    writer: { transactions: written, ratePerSecond: WRITER_RATE },
    initialCopy,
    downtimeSeconds: sync?.downtime?.seconds,
    downtime: sync?.downtime,
    lagAtCutoverSeconds: sync?.lagAtCutoverSeconds,
    lag: sync?.lag,
    applied: sync?.applied,
    verify: sync?.verify,
    triggers: sync?.triggers,
    stages: run.report?.stages,
    error: run.report?.error
  }
  console.log(`  the action with sync: logical          ${round(seconds)} s, ${run.outputs.result}; ${stages}`)
  console.log(`  writer: ${written} transactions at ${WRITER_RATE}/s through dump, restore and stream`)
  console.log(
    `  initial copy (dump, restore and checksums, up to the Sync stage) ${initialCopy.seconds} s: copy-method ${initialCopy.copyMethod},` +
      ` ${initialCopy.sessions ?? 'no'} pairs of sessions (jobs ${jobs})`
  )
  if (sync?.downtime)
    console.log(
      `  downtime window ${sync.downtime.seconds} s (waiting for ${IDLE_SECONDS} s of quiet ${sync.downtime.waitingSeconds} s,` +
        ` cutover ${sync.downtime.cutoverSeconds} s, verify ${sync.downtime.verifySeconds} s); lag at cutover ${sync.lagAtCutoverSeconds} s`
    )
  if (sync?.downtime?.parts)
    console.log(
      `  cutover and verify by part (s, some side by side): ${Object.entries(sync.downtime.parts)
        .map(([part, value]) => `${part} ${value}`)
        .join(', ')}`
    )
  const verify = sync?.verify
  if (verify?.early)
    console.log(
      `  verify before cutover, the source quiet: ${verify.early.checks} checks (${verify.early.discarded} discarded), ${verify.early.keys} changed rows by key,` +
        ` whole ${verify.early.whole.join(', ') || 'none'}, ${verify.early.seconds} s; standing at cutover: ${verify.atCutover?.standing?.keys ?? 0} rows, ${(verify.atCutover?.standing?.whole ?? []).join(', ') || 'no table'} whole`
    )
  if (verify)
    console.log(
      `  verify: in bulk beside the sync ${verify.bulk.tables} tables, ${verify.bulk.rows} rows, ${verify.bulk.seconds} s;` +
        ` at cutover ${verify.atCutover?.keys} changed rows by key (${(verify.atCutover?.byKey ?? []).map((/** @type {any} */ t) => `${t.table} ${t.keys}`).join(', ')}),` +
        ` whole ${(verify.atCutover?.whole ?? []).map((/** @type {any} */ t) => `${t.table} (${t.why})`).join(', ') || 'none'}, ${verify.atCutover?.seconds} s`
    )
  if (sync?.lag?.length)
    console.log(
      `  lag over time (s into the sync: s behind): ${sync.lag.map((/** @type {any} */ s) => `${s.at}:${s.lag}`).join(' ')}`
    )
  if (run.exitCode !== 0) console.log(`  !! the sync did not pass: ${JSON.stringify(run.report?.error)}`)
  return result
}

/**
 * The sync's initial copy against the plain migrate's same stages in the same run (the action way's
 * runs on the same database), kept in the result and printed.
 * @param {Awaited<ReturnType<typeof benchSync>>} result @param {any[]} migrateRuns
 */
export function compareInitialCopy(result, migrateRuns) {
  const against = syncCopyAgainstMigrate(result.initialCopy.seconds, migrateRuns)
  result.initialCopy.againstMigrate = against
  console.log(
    against
      ? `  the sync's initial copy against the plain migrate's (the action way, median of ${against.runs}): ${result.initialCopy.seconds} s against ${against.migrateSeconds} s = ${against.ratio}`
      : "  the sync's initial copy against the plain migrate's: no passing run of the action way with both servers on shared cores"
  )
}

/**
 * A pgbench-like transaction at a fixed rate on one connection, and a new event now and then.
 * @param {string} url
 */
function startWriter(url) {
  let stopped = false
  const done = (async () => {
    const client = new pg.Client({ connectionString: url })
    client.on('error', () => undefined)
    await client.connect()
    let transactions = 0
    const interval = 1000 / WRITER_RATE
    const began = performance.now()
    try {
      while (!stopped) {
        const aid = 1 + Math.floor(Math.random() * 100_000)
        const delta = Math.floor(Math.random() * 10_000) - 5000
        await client.query('BEGIN')
        await client.query('UPDATE public.pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2', [delta, aid])
        await client.query('UPDATE public.pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2', [
          delta,
          1 + (aid % 10)
        ])
        await client.query('UPDATE public.pgbench_branches SET bbalance = bbalance + $1 WHERE bid = 1', [delta])
        await client.query(
          `INSERT INTO public.pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, 1, $2, $3, clock_timestamp())`,
          [1 + (aid % 10), aid, delta]
        )
        if (transactions % 10 === 0)
          await client.query(
            `INSERT INTO app.events (customer_id, kind, created_at, amount, payload) VALUES (1, 'sync-bench', clock_timestamp(), $1, '{"bench": true}')`,
            [delta / 100]
          )
        await client.query('COMMIT')
        transactions++
        const due = began + transactions * interval
        const wait = due - performance.now()
        if (wait > 0) await sleep(wait)
      }
    } finally {
      await client.end().catch(() => undefined)
    }
    return transactions
  })()
  return {
    done,
    stop() {
      stopped = true
    }
  }
}

/** Alone: servers of its own in a temporary folder, the benchmark database generated per size, removed at the end. */
async function main() {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-sync-bench-'))
  const { source, target } = await startServerPair(baseDir)
  const bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })
  live.bundle = bundle
  try {
    /** @type {any[]} */
    const results = []
    for (const sizeGb of sizes) {
      console.log(`\n== ${sizeGb} GB: generating the benchmark database…`)
      const generated = await generate(source, sizeGb)
      console.log(`  ${(generated.database / 1e9).toFixed(2)} GB in ${round(generated.seconds)} s`)
      const workDir = path.join(baseDir, `${sizeGb}gb`)
      const toolCache = path.join(baseDir, 'tool-cache')
      const result = await benchSync({
        source,
        target,
        workDir,
        toolCache,
        sizeGb,
        entry: entry && path.resolve(entry)
      })
      results.push({ sizeGb, databaseBytes: generated.database, ...result, lag: undefined, stages: undefined })
    }
    console.log(JSON.stringify(results, null, 2))
  } finally {
    await bundle.close?.()
    await Promise.all([stopServer(source), stopServer(target)])
    fs.rmSync(baseDir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
