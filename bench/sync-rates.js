// The sync's apply against the application's pace. On a pgbench-like database (three updates and an
// insert per transaction), the action runs with sync: logical:
// - backlog: a burst of transactions written while the target holds the apply back is replayed;
//   reported as the rows a second from the release until the target has all of it, and the CPU
//   seconds each side spent meanwhile (rows per CPU second: steadier when other work shares the CPUs);
// - rates: a writer at a fixed rate (transactions a second) for a fixed time after the catch-up;
//   reported as the steady lag (median and highest of the lag samples after the catch-up) and the
//   rate the writer reached.
// `npm run bench` runs it after the zero-downtime case. Alone, on its own servers (a smoke run):
//   node bench/sync-rates.js --rates 250,1000 --seconds 15 --backlog 20000 [--entry path/to/index.js]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { CLIENT_BUNDLE_DIR, startClientBundleServer } from '../test/support/client-bundle-server.js'
import { runAction } from '../test/support/run-action.js'
import { serverUrl, startServerPair, stopServer, withClient } from '../test/support/servers.js'
import { CLOCK_TICKS, sideTicks } from './sides.js'

const DATABASE = 'sync_rates'
const ACCOUNTS = 100_000
const TELLERS = 100
const BRANCHES = 10
/** Rows one writer transaction changes. */
const ROWS_PER_TRANSACTION = 4
/** Connections the writer spreads its transactions over: one alone cannot reach 2,000 a second. */
const WRITER_CONNECTIONS = 4

const SCHEMA = `
  CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84));
  CREATE TABLE tellers (tid int PRIMARY KEY, bid int NOT NULL, tbalance int NOT NULL, filler char(84));
  CREATE TABLE branches (bid int PRIMARY KEY, bbalance int NOT NULL, filler char(88));
  CREATE TABLE history (hid bigserial PRIMARY KEY, tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
  INSERT INTO accounts SELECT g, 1 + g % ${BRANCHES}, 0, '' FROM generate_series(1, ${ACCOUNTS}) g;
  INSERT INTO tellers SELECT g, 1 + g % ${BRANCHES}, 0, '' FROM generate_series(1, ${TELLERS}) g;
  INSERT INTO branches SELECT g, 0, '' FROM generate_series(1, ${BRANCHES}) g;`

/** One pgbench-like transaction, as one round trip. */
function transaction() {
  const aid = 1 + Math.floor(Math.random() * ACCOUNTS)
  const tid = 1 + Math.floor(Math.random() * TELLERS)
  const bid = 1 + Math.floor(Math.random() * BRANCHES)
  const delta = Math.floor(Math.random() * 10_000) - 5000
  return `BEGIN;
    UPDATE accounts SET abalance = abalance + ${delta} WHERE aid = ${aid};
    UPDATE tellers SET tbalance = tbalance + ${delta} WHERE tid = ${tid};
    UPDATE branches SET bbalance = bbalance + ${delta} WHERE bid = ${bid};
    INSERT INTO history (tid, bid, aid, delta, mtime) VALUES (${tid}, ${bid}, ${aid}, ${delta}, clock_timestamp());
    COMMIT`
}

/**
 * Transactions at `rate` a second (Infinity: as fast as it goes) over several connections, on one
 * schedule, until stopped or `limit` transactions are written; `perQuery` transactions (each its own)
 * go in one round trip, so a backlog builds faster than the copy takes.
 * @param {string} url
 * @param {number} rate
 * @param {number} [limit]
 * @param {number} [perQuery]
 */
function startWriter(url, rate, limit = Infinity, perQuery = 1) {
  let stopped = false
  let issued = 0
  let written = 0
  const began = performance.now()
  const loops = Array.from({ length: WRITER_CONNECTIONS }, async () => {
    const client = new pg.Client({ connectionString: url })
    client.on('error', () => undefined)
    await client.connect()
    try {
      while (!stopped && issued < limit) {
        const due = began + (issued * 1000) / rate
        issued += perQuery
        const wait = due - performance.now()
        if (wait > 0) await sleep(wait)
        await client.query(Array.from({ length: perQuery }, transaction).join(';\n'))
        written += perQuery
      }
    } finally {
      await client.end().catch(() => undefined)
    }
  })
  const done = Promise.all(loops).then(() => ({ written, seconds: (performance.now() - began) / 1000 }))
  return {
    done,
    stop() {
      stopped = true
    }
  }
}

/**
 * @param {{ source: any, target: any, workDir: string, toolCache: string, clientTemplate: string,
 *   entry?: string, rates: number[], seconds: number, backlog: number }} ctx
 */
export async function benchSyncRates(ctx) {
  console.log(
    `\nsync apply: a backlog of ${ctx.backlog} transactions, then writers at ${ctx.rates.join(', ')} a second`
  )
  // The backlog is written as fast as it goes from the slot's creation; the target holds the apply
  // back (a lock on one table) until all of it is on the source, so the replay is the apply's pace,
  // not the writer's. The replay ends when the target has the row written after all of it.
  const held = { transactions: 0, written: 0, releasedAt: 0, replayedAt: 0, writtenSeconds: 0 }
  /** @type {Record<string, ReturnType<typeof sideTicks> | undefined>} */
  const ticks = {}
  const backlog = await runCase(ctx, 'backlog', async (events) => {
    await events.slot
    const writer = startWriter(ctx.sourceUrl, Infinity, ctx.backlog, 100)
    await events.streaming
    const lock = new pg.Client({ connectionString: serverUrl(ctx.target, DATABASE, ctx.target.admin) })
    await lock.connect()
    try {
      await lock.query('BEGIN; LOCK TABLE public.accounts IN SHARE MODE')
      const done = await writer.done
      held.writtenSeconds = done.seconds
      held.written = done.written
      // The backlog's end, marked by one more row the target can find by its key at little cost.
      await withClient(ctx.sourceUrl, (client) =>
        client.query('INSERT INTO public.history (hid, delta, mtime) VALUES (0, 0, clock_timestamp())')
      )
      const { rows } = await lock.query('SELECT count(*)::int AS n FROM public.history')
      held.transactions = rows[0].n
      held.releasedAt = performance.now()
      ticks.released = sideTicks(ctx)
      await lock.query('COMMIT')
      // A run that ended first (it failed) has no replay to measure.
      let ended = false
      void events.ended.then(() => (ended = true))
      while (!ended && !(await marked(lock))) await sleep(50)
      if (!ended) {
        held.replayedAt = performance.now()
        ticks.replayed = sideTicks(ctx)
      }
    } finally {
      await lock.end()
    }
    return writer
  })
  const rows = (held.written - held.transactions) * ROWS_PER_TRANSACTION
  const seconds = held.replayedAt ? (held.replayedAt - held.releasedAt) / 1000 : undefined
  const replay = seconds ? Math.round(rows / seconds) : undefined
  // CPU seconds of each side over the replay: steadier than the rate while other work shares the CPUs.
  const spent = (/** @type {'runner' | 'source' | 'target'} */ side) =>
    round(((ticks.replayed?.[side] ?? 0) - (ticks.released?.[side] ?? 0)) / CLOCK_TICKS)
  const cpu = ticks.replayed && { runner: spent('runner'), source: spent('source'), target: spent('target') }
  const perCpuSecond = cpu && Math.round(rows / Math.max(0.01, cpu.runner + cpu.source + cpu.target))
  console.log(
    `  backlog: ${rows} rows (written in ${round(held.writtenSeconds)} s) replayed in ${seconds && round(seconds)} s: ${replay} rows/s (${backlog.result})`
  )
  if (cpu)
    console.log(
      `    CPU s over the replay: runner ${cpu.runner}, source ${cpu.source}, target ${cpu.target}; ${perCpuSecond} rows per CPU second`
    )
  const rates = []
  for (const rate of ctx.rates) {
    const run = await runCase(ctx, `${rate}/s`, async (events) => {
      const writer = startWriter(ctx.sourceUrl, rate)
      await events.caughtUp
      await sleep(ctx.seconds * 1000)
      return writer
    })
    rates.push({ rate, ...run })
    console.log(
      `  writer at ${rate}/s (reached ${run.writerRate}/s): lag after the catch-up median ${run.steadyLag?.median} s, ` +
        `highest ${run.steadyLag?.max} s; ${run.applied?.transactions} transactions applied; ${run.result}`
    )
  }
  return {
    backlog: { ...backlog, rows, seconds: seconds && round(seconds), rowsPerSecond: replay, cpu, perCpuSecond },
    rates
  }
}

/**
 * One run of the action with a writer the case starts; the writer stops when the case returns it.
 * @param {any} ctx
 * @param {string} label
 * @param {(events: { slot: Promise<void>, streaming: Promise<void>, caughtUp: Promise<void>, ended: Promise<void> }) => Promise<ReturnType<typeof startWriter>>} drive
 */
async function runCase(ctx, label, drive) {
  await freshDatabases(ctx)
  /** @type {Record<string, () => void>} */
  const fire = {}
  const when = (/** @type {string} */ name) => new Promise((resolve) => (fire[name] = () => resolve(undefined)))
  const events = { slot: when('slot'), streaming: when('streaming'), caughtUp: when('caughtUp'), ended: when('ended') }
  const times = { streaming: 0, caughtUp: 0, transactionsAtCatchUp: 0 }
  let pending = ''
  const writing = drive(events).then((writer) => {
    writer.stop()
    return writer.done
  })
  const run = await runAction(
    {
      'source-url': ctx.sourceUrl,
      'target-url': serverUrl(ctx.target, DATABASE, ctx.target.admin),
      sync: 'logical',
      cutover: 'when-idle',
      'cutover-idle-seconds': '2',
      verify: 'full',
      'client-download-url': ctx.clientTemplate,
      'upload-artifact': 'false'
    },
    {
      toolCache: ctx.toolCache,
      workDir: path.join(ctx.workDir, `sync-rates-${label.replace(/\W/g, '')}`),
      entry: ctx.entry,
      timeoutMs: 900_000,
      onStdout(chunk) {
        pending += chunk
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) {
          if (line.startsWith('sync: slot ')) fire.slot()
          if (line.startsWith('sync: streaming changes')) {
            times.streaming = performance.now()
            fire.streaming()
          }
          const caught = /^sync: caught up with the source \((\d+) transactions/.exec(line)
          if (caught) {
            times.caughtUp = performance.now()
            times.transactionsAtCatchUp = Number(caught[1])
            fire.caughtUp()
          }
        }
      }
    }
  )
  // A run that failed before the catch-up still lets the writer go.
  for (const event of Object.values(fire)) event()
  const written = await writing
  const sync = run.report?.databases?.find((/** @type {any} */ d) => d.name === DATABASE)?.sync
  const catchUpSeconds = times.caughtUp ? round((times.caughtUp - times.streaming) / 1000) : undefined
  const after = (sync?.lag ?? []).filter(
    (/** @type {any} */ s) => catchUpSeconds !== undefined && s.at >= catchUpSeconds
  )
  const lags = after
    .map((/** @type {any} */ s) => s.lag)
    .sort((/** @type {number} */ a, /** @type {number} */ b) => a - b)
  return {
    result: run.outputs.result ?? `exit ${run.exitCode}`,
    catchUpSeconds,
    transactionsAtCatchUp: times.transactionsAtCatchUp,
    caughtUpAt: times.caughtUp,
    writerRate: Math.round(written.written / written.seconds),
    steadyLag: lags.length ? { median: lags[Math.floor(lags.length / 2)], max: lags.at(-1) } : undefined,
    applied: sync?.applied,
    downtime: sync?.downtime,
    error: run.report?.error
  }
}

/** The backlog's end is on the target. @param {pg.Client} client */
async function marked(client) {
  const { rows } = await client.query('SELECT EXISTS (SELECT FROM public.history WHERE hid = 0) AS found')
  return rows[0].found
}

/** @param {any} ctx */
async function freshDatabases(ctx) {
  for (const [server, login] of [
    [ctx.source, ctx.source.superuser],
    [ctx.target, ctx.target.admin]
  ])
    await withClient(serverUrl(server, 'postgres', login), async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`)
      await client.query(`CREATE DATABASE ${DATABASE} TEMPLATE template0 ENCODING 'UTF8'`)
    })
  await withClient(ctx.sourceUrl, (client) => client.query(SCHEMA))
}

const round = (/** @type {number} */ value) => Math.round(value * 100) / 100

/** Alone: its own servers in a temporary folder, removed at the end. */
async function main() {
  const { values } = parseArgs({
    options: {
      rates: { type: 'string', default: '250,1000,2000' },
      seconds: { type: 'string', default: '30' },
      backlog: { type: 'string', default: '50000' },
      entry: { type: 'string' }
    }
  })
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-sync-rates-'))
  const { source, target } = await startServerPair(baseDir)
  const bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })
  try {
    const result = await benchSyncRates({
      source,
      target,
      sourceUrl: serverUrl(source, DATABASE),
      workDir: baseDir,
      toolCache: path.join(baseDir, 'tool-cache'),
      clientTemplate: bundle.template,
      entry: values.entry && path.resolve(values.entry),
      rates: values.rates.split(',').filter(Boolean).map(Number),
      seconds: Number(values.seconds),
      backlog: Number(values.backlog)
    })
    console.log(JSON.stringify(result, null, 2))
  } finally {
    await bundle.close?.()
    await Promise.all([stopServer(source), stopServer(target)])
    fs.rmSync(baseDir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
