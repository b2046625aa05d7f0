// Benchmark: one generated PostgreSQL 14 database copied into PostgreSQL 17 three ways, on the same
// data and servers, so the action's cost can be read against what a person would do by hand:
//   (a) plain pg_dump piped into psql (the seed guide's way);
//   (b) hand-tuned pg_dump -Fd -j N -Z zstd:1 then pg_restore -j N, no verification;
//   (c) the action itself (node dist/index.js, mode migrate, verify full), run as a workflow step.
// After every copy the row counts of all tables are compared with the source, so a fast but wrong
// run cannot look good. Then the checksum queries (the action's text and record methods, and
// variants) are timed alone on the big table on 14 and on 17.
//
//   node bench/run.js [--size-gb 1] [--runs 3] [--jobs <cpus>] [--json bench/results.json]
//                     [--quiet-wait 300] [--skip-probes]
//
// Peak RSS of the action: runAction spawns node itself, so /usr/bin/time cannot wrap it. The bench
// polls /proc/<pid>/status (VmHWM, the kernel's own high-water mark) of the action's node process
// every 100 ms and keeps the largest value; the last poll before exit is at most 100 ms old. It also
// sums VmRSS over the action's whole process tree (node + pg_dump/pg_restore and their workers) at
// each poll and keeps the peak. The same poller samples /proc/stat for CPU use per stage.
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { clearInterval, setInterval } from 'node:timers'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { CLIENT_BUNDLE_DIR, findClientBundle, startClientBundleServer } from '../test/support/client-bundle-server.js'
import { runAction } from '../test/support/run-action.js'
import {
  REPO_ROOT,
  defaultBaseDir,
  serverUrl,
  startServerPair,
  stopServer,
  withClient
} from '../test/support/servers.js'

const DATABASE = 'benchdb'
const PAGE_SIZE = 4096
/** USER_HZ: the unit of /proc CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()

// ---------------------------------------------------------------------------------------------
// Arguments

const { values: args } = parseArgs({
  options: {
    'size-gb': { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    jobs: { type: 'string', default: String(os.availableParallelism()) },
    json: { type: 'string', default: path.join('bench', 'results.json') },
    'quiet-wait': { type: 'string', default: '300' },
    'skip-probes': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false }
  }
})
if (args.help) {
  console.log(
    'usage: node bench/run.js [--size-gb 1] [--runs 3] [--jobs <cpus>] [--json bench/results.json] [--quiet-wait 300] [--skip-probes]'
  )
  console.log(
    '  --quiet-wait: seconds to wait, before each timed way, for other load on the machine to settle (0: never)'
  )
  process.exit(0)
}
const sizeGb = Number(args['size-gb'])
const runs = Number(args.runs)
const jobs = Number(args.jobs)
if (!(sizeGb > 0) || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(jobs) || jobs < 1) {
  console.error('--size-gb must be > 0, --runs and --jobs positive integers')
  process.exit(2)
}
const jsonPath = path.resolve(args.json)
const quietWait = Number(args['quiet-wait'])

// ---------------------------------------------------------------------------------------------
// Cleanup: servers, the bundle server, every child this script started, the temp folder.

const baseDir = defaultBaseDir('pg-migrate-bench')
/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set()
/** @type {{ source?: any, target?: any, bundle?: any, actionPid?: number }} */
const live = {}
let cleaned = false

async function cleanup() {
  if (cleaned) return
  cleaned = true
  for (const child of children) child.kill('SIGTERM')
  if (live.actionPid) killPid(live.actionPid, 'SIGTERM')
  await live.bundle?.close().catch(() => undefined)
  await Promise.all([live.source, live.target].filter(Boolean).map((server) => stopServer(server, 'immediate')))
  // A server that started while its pair failed to (startServerPair rejects then): stop it by its pid.
  for (const major of [14, 17]) {
    const pidFile = path.join(baseDir, `pg${major}`, 'data', 'postmaster.pid')
    if (!fs.existsSync(pidFile)) continue
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0])
    // Only that server: a stale file's pid may belong to another process by now.
    if (pid > 0 && isOurPostmaster(pid)) killPid(pid, 'SIGQUIT')
    await sleep(500)
  }
  fs.rmSync(baseDir, { recursive: true, force: true })
}

/** @param {number} pid */
function isOurPostmaster(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(baseDir)
  } catch {
    return false
  }
}

/** @param {number} pid @param {NodeJS.Signals} signal */
function killPid(pid, signal) {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

for (const signal of /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping servers and children…`)
    cleanup().finally(() => process.exit(130))
  })
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const median = (/** @type {number[]} */ xs) => {
  const sorted = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const round = (/** @type {number} */ x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits
const secs = (/** @type {number} */ x) => (Number.isFinite(x) ? `${x.toFixed(1)} s` : '—')
const mib = (/** @type {number} */ bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
const now = () => performance.now()

/**
 * Environment for the client tools: passwords only in the passfile, no PG* variables from outside.
 * @param {string} passfile
 */
function toolEnv(passfile) {
  /** @type {Record<string, string>} */
  const env = {}
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !/^PG/.test(key)) env[key] = value
  return { ...env, PGPASSFILE: passfile, PGCONNECT_TIMEOUT: '10', PGSSLMODE: 'disable' }
}

/**
 * @param {string} command @param {string[]} argv @param {import('node:child_process').SpawnOptions} options
 */
function spawnTracked(command, argv, options) {
  const child = spawn(command, argv, options)
  children.add(child)
  child.on('close', () => children.delete(child))
  return child
}

/**
 * Resolves with the exit code; keeps the last lines of stderr for errors.
 * @param {import('node:child_process').ChildProcess} child
 */
function finished(child) {
  let tail = ''
  child.stderr?.on('data', (chunk) => (tail = (tail + chunk).slice(-4000)))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code: signal ? null : code, tail: tail.trim() }))
  })
}

/** @param {string} command @param {string[]} argv @param {Record<string, string>} env */
async function runTool(command, argv, env, onLine = (/** @type {string} */ _line) => undefined) {
  const child = spawnTracked(command, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let pending = ''
  child.stderr?.on('data', (chunk) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    lines.forEach(onLine)
  })
  const { code, tail } = /** @type {{ code: number | null, tail: string }} */ (await finished(child))
  if (code !== 0) throw new Error(`${path.basename(command)} exited ${code}: ${tail.split('\n').slice(-5).join(' | ')}`)
}

// ---------------------------------------------------------------------------------------------
// /proc sampling: CPU use for every way, peak RSS of the action's process and process tree.

function readCpu() {
  const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
  const n = fields.map(Number)
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = n[3] + n[4]
  return { busy: total - idle, total }
}

/** @param {number} pid CPU ticks of a process and of the children it has reaped. */
function cpuTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
  } catch {
    return 0
  }
}

/**
 * CPU ticks spent by this benchmark: this process and its reaped children (client tools, the action
 * and its tools), and both postmasters with their reaped backends and parallel workers.
 */
function ownTicks() {
  let ticks = cpuTicks(process.pid)
  for (const major of [14, 17]) {
    try {
      const pidFile = path.join(baseDir, `pg${major}`, 'data', 'postmaster.pid')
      ticks += cpuTicks(Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]))
    } catch {
      // not running
    }
  }
  return ticks
}

/**
 * A shared host makes times noisy: before each timed way, wait until the CPUs have been nearly idle
 * for three seconds in a row, at most --quiet-wait seconds.
 */
async function waitForQuiet() {
  const started = now()
  let calm = 0
  let last = readCpu()
  while (quietWait > 0 && (now() - started) / 1000 < quietWait) {
    await sleep(1000)
    const current = readCpu()
    const busy = (current.busy - last.busy) / Math.max(1, current.total - last.total)
    last = current
    calm = busy < 0.15 ? calm + 1 : 0
    if (calm >= 3) break
  }
  const waited = (now() - started) / 1000
  const quiet = quietWait <= 0 || calm >= 3
  if (waited > 5 || !quiet) {
    console.log(`      (waited ${waited.toFixed(0)} s for other load to settle${quiet ? '' : '; it did not'})`)
  }
  return { waitedSeconds: round(waited, 1), quiet }
}

/** pid → { ppid, rssBytes } for every process we may read. */
function processTable() {
  /** @type {Map<number, { ppid: number, rss: number }>} */
  const table = new Map()
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      table.set(Number(entry), { ppid: Number(fields[1]), rss: Number(fields[21]) * PAGE_SIZE })
    } catch {
      // exited meanwhile
    }
  }
  return table
}

/** @param {number} pid */
function readHwm(pid) {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** @param {number} pid */
function isActionProcess(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(path.join('dist', 'index.js'))
  } catch {
    return false
  }
}

/**
 * Samples every 100 ms until stopped. With `action`, finds the node child running dist/index.js.
 * @param {{ action?: boolean }} [options]
 */
function startSampler(options = {}) {
  /** @type {{ t: number, busy: number, total: number }[]} */
  const cpu = []
  const state = {
    hwm: 0,
    treePeak: 0,
    treePeakProcesses: 0,
    polls: 0,
    pid: /** @type {number | undefined} */ (undefined)
  }
  let last = readCpu()
  const first = last
  const ownAtStart = ownTicks()
  /** @type {number | undefined} */
  let otherLoadPercent
  let ownCpuSeconds = 0
  const tick = () => {
    const current = readCpu()
    cpu.push({ t: now(), busy: current.busy - last.busy, total: current.total - last.total })
    last = current
    if (!options.action) return
    const table = processTable()
    if (!state.pid || !table.has(state.pid)) {
      const found = [...table].find(([pid, p]) => p.ppid === process.pid && isActionProcess(pid))
      if (found) state.pid = live.actionPid = found[0]
    }
    if (!state.pid || !table.has(state.pid)) return
    state.polls++
    state.hwm = Math.max(state.hwm, readHwm(state.pid))
    // The action's tree: node, the client tools it runs, and their workers.
    const tree = new Set([state.pid])
    for (let grew = true; grew;) {
      grew = false
      for (const [pid, p] of table) {
        if (!tree.has(pid) && tree.has(p.ppid)) {
          tree.add(pid)
          grew = true
        }
      }
    }
    let sum = 0
    for (const pid of tree) sum += table.get(pid)?.rss ?? 0
    if (sum > state.treePeak) {
      state.treePeak = sum
      state.treePeakProcesses = tree.size
    }
  }
  const timer = setInterval(tick, 100)
  return {
    state,
    async stop() {
      clearInterval(timer)
      tick()
      live.actionPid = undefined
      // What ran on the machine besides this benchmark, as a share of all CPUs. The servers' backends
      // count once the postmaster has reaped them: give it a moment after the last client closed.
      const end = last
      await sleep(500)
      const total = end.total - first.total
      const own = ownTicks() - ownAtStart
      ownCpuSeconds = round(own / CLOCK_TICKS, 1)
      otherLoadPercent = total ? round((100 * Math.max(0, end.busy - first.busy - own)) / total, 0) : 0
      return state
    },
    otherLoad() {
      return otherLoadPercent
    },
    /** CPU seconds this benchmark's processes (tools, action, both servers) used meanwhile. */
    ownCpu() {
      return ownCpuSeconds
    },
    /** Average share of all CPUs busy between two times, in percent. */
    busy(/** @type {number} */ from, /** @type {number} */ to) {
      const inside = cpu.filter((s) => s.t > from && s.t <= to + 100)
      const total = inside.reduce((a, s) => a + s.total, 0)
      return total ? round((100 * inside.reduce((a, s) => a + s.busy, 0)) / total, 0) : NaN
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark database

/** Rows per table for the chosen size; tuned so --size-gb 1 gives about 1 GB on disk. */
function plannedRows() {
  const scale = Math.max(1, Math.round(10 * sizeGb))
  return {
    customers: Math.max(1000, Math.round(100_000 * sizeGb)),
    events: Math.max(10_000, Math.round(2_000_000 * sizeGb)),
    branches: scale,
    tellers: 10 * scale,
    accounts: 100_000 * scale,
    history: Math.max(1000, Math.round(500_000 * sizeGb))
  }
}

const TABLES = [
  'app.customers',
  'app.events',
  'public.pgbench_branches',
  'public.pgbench_tellers',
  'public.pgbench_accounts',
  'public.pgbench_history'
]
const BIG_TABLE = 'app.events'

const SCHEMA = `
CREATE SCHEMA app;
CREATE TABLE app.customers (
  id int GENERATED BY DEFAULT AS IDENTITY,
  name text NOT NULL,
  email text NOT NULL,
  country char(2) NOT NULL,
  created_at timestamptz NOT NULL,
  balance numeric(12, 2) NOT NULL
);
CREATE TABLE app.events (
  id bigint GENERATED BY DEFAULT AS IDENTITY,
  customer_id int NOT NULL,
  kind text NOT NULL,
  created_at timestamptz NOT NULL,
  amount numeric(12, 2),
  payload jsonb NOT NULL,
  note text
);
CREATE TABLE public.pgbench_branches (bid int NOT NULL, bbalance int, filler char(88));
CREATE TABLE public.pgbench_tellers (tid int NOT NULL, bid int, tbalance int, filler char(84));
CREATE TABLE public.pgbench_accounts (aid int NOT NULL, bid int, abalance int, filler char(84));
CREATE TABLE public.pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
`

/** INSERT … SELECT statements in chunks, so two sessions can load at once. */
function loadStatements() {
  const rows = plannedRows()
  /** @type {string[]} */
  const statements = []
  const chunks = (
    /** @type {number} */ total,
    /** @type {number} */ size,
    /** @type {(lo: number, hi: number) => string} */ sql
  ) => {
    for (let lo = 1; lo <= total; lo += size) statements.push(sql(lo, Math.min(total, lo + size - 1)))
  }
  chunks(
    rows.events,
    500_000,
    (lo, hi) => `INSERT INTO app.events (id, customer_id, kind, created_at, amount, payload, note)
    SELECT i, 1 + floor(random() * ${rows.customers})::int,
      (ARRAY['view', 'click', 'cart', 'order', 'refund'])[1 + floor(random() * 5)::int],
      timestamptz '2020-01-01 00:00:00+00' + random() * interval '1460 days',
      round((random() * 500)::numeric, 2),
      jsonb_build_object(
        'sku', 'SKU-' || floor(random() * 50000)::int,
        'qty', 1 + floor(random() * 5)::int,
        'price', round((random() * 200)::numeric, 2),
        'tags', jsonb_build_array(left(md5(random()::text), 8), left(md5(random()::text), 6)),
        'agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)',
        'ok', random() < 0.9),
      left(md5(random()::text) || md5(random()::text) || md5(random()::text), 16 + floor(random() * 80)::int)
    FROM generate_series(${lo}, ${hi}) AS i`
  )
  chunks(
    rows.accounts,
    1_000_000,
    (lo, hi) => `INSERT INTO public.pgbench_accounts (aid, bid, abalance, filler)
    SELECT aid, (aid - 1) / 100000 + 1, 0, '' FROM generate_series(${lo}, ${hi}) AS aid`
  )
  chunks(
    rows.history,
    1_000_000,
    (lo, hi) => `INSERT INTO public.pgbench_history (tid, bid, aid, delta, mtime, filler)
    SELECT 1 + floor(random() * ${rows.tellers})::int, 1 + floor(random() * ${rows.branches})::int,
      1 + floor(random() * ${rows.accounts})::int, floor(random() * 10001)::int - 5000,
      timestamp '2024-01-01' + i * interval '1 second', ''
    FROM generate_series(${lo}, ${hi}) AS i`
  )
  statements.push(
    `INSERT INTO app.customers (id, name, email, country, created_at, balance)
    SELECT i, 'Customer ' || i, 'user' || i || '@example.com',
      (ARRAY['DE', 'FR', 'GB', 'US', 'NL', 'PL'])[1 + floor(random() * 6)::int],
      timestamptz '2015-01-01 00:00:00+00' + random() * interval '3000 days',
      round((random() * 10000)::numeric, 2)
    FROM generate_series(1, ${rows.customers}) AS i`,
    `INSERT INTO public.pgbench_branches (bid, bbalance) SELECT b, 0 FROM generate_series(1, ${rows.branches}) AS b`,
    `INSERT INTO public.pgbench_tellers (tid, bid, tbalance)
    SELECT t, (t - 1) / 10 + 1, 0 FROM generate_series(1, ${rows.tellers}) AS t`
  )
  return statements
}

const INDEX_STATEMENTS = [
  'ALTER TABLE app.events ADD PRIMARY KEY (id)',
  'CREATE INDEX events_customer_idx ON app.events (customer_id)',
  'CREATE INDEX events_created_idx ON app.events (created_at)',
  "CREATE INDEX events_sku_idx ON app.events ((payload ->> 'sku'))",
  'ALTER TABLE public.pgbench_accounts ADD PRIMARY KEY (aid)',
  'ALTER TABLE app.customers ADD PRIMARY KEY (id)',
  'ALTER TABLE public.pgbench_branches ADD PRIMARY KEY (bid)',
  'ALTER TABLE public.pgbench_tellers ADD PRIMARY KEY (tid)',
  'ALTER TABLE app.events ADD FOREIGN KEY (customer_id) REFERENCES app.customers (id)',
  "SELECT setval(pg_get_serial_sequence('app.events', 'id'), (SELECT max(id) FROM app.events))",
  "SELECT setval(pg_get_serial_sequence('app.customers', 'id'), (SELECT max(id) FROM app.customers))"
]

/**
 * Runs statements on `sessions` connections, each taking the next one as it finishes.
 * @param {string} url @param {string[]} statements @param {number} sessions
 */
async function runQueue(url, statements, sessions) {
  const queue = [...statements]
  const worker = () =>
    withClient(url, async (client) => {
      await client.query("SET maintenance_work_mem = '256MB'")
      for (let sql = queue.shift(); sql; sql = queue.shift()) await client.query(sql)
    })
  await Promise.all(Array.from({ length: Math.max(1, sessions) }, worker))
}

/** @param {string} url */
async function tableCounts(url) {
  return withClient(url, async (client) => {
    /** @type {Record<string, number>} */
    const counts = {}
    for (const table of TABLES) {
      const { rows } = await client.query(`SELECT count(*)::bigint AS n FROM ONLY ${table}`)
      counts[table] = Number(rows[0].n)
    }
    return counts
  })
}

/** @param {any} source */
async function generate(source) {
  const started = now()
  const url = serverUrl(source, DATABASE)
  await withClient(serverUrl(source, 'postgres'), (client) => client.query(`CREATE DATABASE ${DATABASE}`))
  await withClient(url, (client) => client.query(SCHEMA))
  await runQueue(url, loadStatements(), jobs)
  // Foreign key last: it needs the customers' primary key, and both sessions may still be indexing.
  await runQueue(url, INDEX_STATEMENTS.slice(0, 8), jobs)
  await runQueue(url, INDEX_STATEMENTS.slice(8), 1)
  // Set hint bits and visibility once, so the first way does not pay for it on its first read.
  await withClient(url, (client) => client.query('VACUUM (FREEZE, ANALYZE)'))
  await withClient(serverUrl(source, 'postgres'), (client) => client.query('CHECKPOINT'))
  const info = await withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT pg_database_size(current_database())::bigint AS database,
        pg_total_relation_size('app.events')::bigint AS events_total,
        pg_relation_size('app.events')::bigint AS events_heap`
    )
    return {
      database: Number(rows[0].database),
      eventsTotal: Number(rows[0].events_total),
      eventsHeap: Number(rows[0].events_heap)
    }
  })
  return { seconds: (now() - started) / 1000, ...info, counts: await tableCounts(url) }
}

// ---------------------------------------------------------------------------------------------
// The three ways

/** @param {any} target */
async function freshTarget(target) {
  await withClient(serverUrl(target, 'postgres', target.admin), async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${DATABASE}`)
    await client.query(`CREATE DATABASE ${DATABASE} TEMPLATE template0 ENCODING 'UTF8'`)
  })
  // Housekeeping as the superuser: the previous way's writes are not checkpointed on the next one's time.
  await withClient(serverUrl(target, 'postgres'), (client) => client.query('CHECKPOINT'))
}

/** @param {any} target */
async function dropTarget(target) {
  await withClient(serverUrl(target, 'postgres', target.admin), (client) =>
    client.query(`DROP DATABASE IF EXISTS ${DATABASE}`)
  )
}

/** @param {any} server @param {{ user: string }} login */
const connArgs = (server, login) => ['-h', server.host, '-p', String(server.port), '-U', login.user]

/**
 * (a) pg_dump (plain) | psql, as the seed guide does, made to work for a non-superuser target.
 * @param {{ bin: Record<string, string>, env: Record<string, string>, source: any, target: any }} ctx
 */
async function plainPipe({ bin, env, source, target }) {
  const sampler = startSampler()
  const started = now()
  const dump = spawnTracked(
    bin.pg_dump,
    [...connArgs(source, source.superuser), '--no-owner', '--no-acl', '-d', DATABASE],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  const psql = spawnTracked(
    bin.psql,
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...connArgs(target, target.admin), '-d', DATABASE],
    {
      env,
      stdio: ['pipe', 'ignore', 'pipe']
    }
  )
  psql.stdin?.on('error', () => undefined)
  dump.stdout?.pipe(/** @type {import('node:stream').Writable} */ (psql.stdin))
  const psqlDone = finished(psql).then((result) => {
    // psql stopped on an error: pg_dump would block on a full pipe forever.
    if (/** @type {any} */ (result).code !== 0) dump.kill('SIGTERM')
    return result
  })
  const [d, p] = /** @type {{ code: number | null, tail: string }[]} */ (await Promise.all([finished(dump), psqlDone]))
  const ended = now()
  await sampler.stop()
  if (p.code !== 0) throw new Error(`psql exited ${p.code}: ${p.tail.split('\n').slice(-5).join(' | ')}`)
  if (d.code !== 0) throw new Error(`pg_dump exited ${d.code}: ${d.tail.split('\n').slice(-5).join(' | ')}`)
  return {
    seconds: (ended - started) / 1000,
    cpuBusyPercent: sampler.busy(started, ended),
    cpuSeconds: sampler.ownCpu(),
    otherLoadPercent: sampler.otherLoad()
  }
}

/**
 * (b) pg_dump -Fd -j N -Z zstd:1, then pg_restore -j N --no-owner --no-acl --exit-on-error.
 * @param {{ bin: Record<string, string>, env: Record<string, string>, source: any, target: any, workDir: string }} ctx
 */
async function handTuned({ bin, env, source, target, workDir }) {
  const dumpDir = path.join(workDir, 'b-dump')
  fs.rmSync(dumpDir, { recursive: true, force: true })
  const sampler = startSampler()
  const started = now()
  await runTool(
    bin.pg_dump,
    [...connArgs(source, source.superuser), '-Fd', '-j', String(jobs), '-Z', 'zstd:1', '-f', dumpDir, '-d', DATABASE],
    env
  )
  const dumped = now()
  // --verbose (as the action runs it) says when each table's data is in: from then on, that table
  // could be checksummed on the target while the restore builds indexes and constraints.
  /** @type {Record<string, number>} */
  const dataDone = {}
  await runTool(
    bin.pg_restore,
    [
      ...connArgs(target, target.admin),
      '-j',
      String(jobs),
      '--no-owner',
      '--no-acl',
      '--exit-on-error',
      '--verbose',
      '-d',
      DATABASE,
      dumpDir
    ],
    env,
    (line) => {
      // The tag of a TABLE DATA item is the bare table name.
      const match = /finished item \d+ TABLE DATA (.+)$/.exec(line)
      if (match) dataDone[match[1]] = round((now() - dumped) / 1000, 2)
    }
  )
  const ended = now()
  const allDataIn = dumped + 1000 * Math.max(0, ...Object.values(dataDone))
  await sampler.stop()
  const dumpBytes = folderBytes(dumpDir)
  fs.rmSync(dumpDir, { recursive: true, force: true })
  return {
    seconds: (ended - started) / 1000,
    dumpSeconds: (dumped - started) / 1000,
    restoreSeconds: (ended - dumped) / 1000,
    dumpBytes,
    cpuBusyPercent: {
      dump: sampler.busy(started, dumped),
      restore: sampler.busy(dumped, ended),
      restoreUntilAllDataIn: sampler.busy(dumped, allDataIn),
      restoreAfterAllDataIn: sampler.busy(allDataIn, ended)
    },
    restoreTimeline: {
      tableDataDoneSeconds: dataDone,
      allDataInSeconds: round((allDataIn - dumped) / 1000, 2),
      afterDataSeconds: round((ended - allDataIn) / 1000, 2)
    },
    cpuSeconds: sampler.ownCpu(),
    otherLoadPercent: sampler.otherLoad()
  }
}

/** @param {string} dir */
function folderBytes(dir) {
  let bytes = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += fs.statSync(path.join(entry.parentPath ?? dir, entry.name)).size
  }
  return bytes
}

/**
 * (c) the action, run as a workflow step; the tool cache persists across runs, so only the first
 * run downloads the client.
 * @param {{ source: any, target: any, workDir: string, toolCache: string, run: number }} ctx
 */
async function viaAction({ source, target, workDir, toolCache, run }) {
  const stepDir = path.join(workDir, `c-run-${run}`)
  fs.rmSync(stepDir, { recursive: true, force: true })
  fs.mkdirSync(stepDir, { recursive: true })
  const toolCacheHadClient = fs.existsSync(toolCache) && fs.readdirSync(toolCache).length > 0
  /** @type {{ title: string, start: number, end?: number }[]} */
  const groups = []
  let pending = ''
  /** @type {number | undefined} */
  let firstOutput
  const onStdout = (/** @type {string} */ chunk) => {
    const t = now()
    firstOutput ??= t
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      const open = /^::group::(.*)$/.exec(line)
      if (open) groups.push({ title: open[1], start: t })
      else if (line === '::endgroup::') {
        const group = groups.findLast((g) => g.end === undefined)
        if (group) group.end = t
      }
    }
  }
  const inputs = {
    mode: 'migrate',
    'source-url': serverUrl(source, DATABASE),
    'target-url': serverUrl(target, DATABASE, target.admin),
    verify: 'full',
    jobs: String(jobs),
    'client-download-url': live.bundle.template,
    // Outside Actions there is no artifact service: the action would skip the upload anyway.
    'upload-artifact': 'false'
  }
  // dist/ may be rebuilt while the benchmark runs: say which build each run measured.
  const distSha256 = createHash('sha256')
    .update(fs.readFileSync(path.join(REPO_ROOT, 'dist', 'index.js')))
    .digest('hex')
    .slice(0, 12)
  const sampler = startSampler({ action: true })
  const started = now()
  const result = await runAction(inputs, {
    toolCache,
    workDir: stepDir,
    onStdout,
    timeoutMs: Math.max(600_000, 1_800_000 * sizeGb)
  })
  const ended = now()
  const rss = await sampler.stop()
  const report = result.report
  const stages = (report?.stages ?? []).map((/** @type {any} */ s) => {
    const group = groups.find((g) => g.title === (s.database ? `${s.stage}: ${s.database}` : s.stage))
    return {
      stage: s.stage,
      database: s.database,
      seconds: s.seconds,
      status: s.status,
      cpuBusyPercent: group?.end ? sampler.busy(group.start, group.end) : undefined
    }
  })
  const database = report?.databases?.find((/** @type {any} */ d) => d.name === DATABASE)
  const lastGroupEnd = Math.max(...groups.map((g) => g.end ?? 0))
  const outcome = {
    seconds: (ended - started) / 1000,
    // Outside the stages: node start and bundle load until the first line, and after the last stage
    // (report, outputs, summary, exit).
    startupSeconds: firstOutput === undefined ? undefined : round((firstOutput - started) / 1000, 2),
    afterStagesSeconds: lastGroupEnd > 0 ? round((ended - lastGroupEnd) / 1000, 2) : undefined,
    cpuSeconds: sampler.ownCpu(),
    otherLoadPercent: sampler.otherLoad(),
    distSha256,
    exitCode: result.exitCode,
    result: result.outputs.result,
    mismatches: Number(result.outputs.mismatches ?? NaN),
    clientDownloaded: !toolCacheHadClient,
    durationSecondsReported: report?.durationSeconds,
    stages,
    dump: database?.dump ? { seconds: database.dump.seconds, bytes: database.dump.bytes } : undefined,
    restore: database?.restore,
    tablesFingerprinted: database?.targetFingerprint?.tables?.length,
    // How the action hashed each table's rows (text form or record hash), where the report says.
    hashMethods: (database?.targetFingerprint?.tables ?? []).reduce(
      (/** @type {Record<string, number>} */ counts, /** @type {any} */ t) => {
        const method = t.hash ?? 'unrecorded'
        counts[method] = (counts[method] ?? 0) + 1
        return counts
      },
      {}
    ),
    peakRss: {
      method: 'poll /proc/<pid>/status VmHWM of the action node process every 100 ms, keep the max',
      actionBytes: rss.hwm,
      treeBytes: rss.treePeak,
      treeProcessesAtPeak: rss.treePeakProcesses,
      polls: rss.polls
    },
    error: report?.error,
    stderrTail: result.exitCode === 0 ? undefined : result.stderr.slice(-2000),
    stdoutTail: result.exitCode === 0 ? undefined : result.stdout.slice(-3000)
  }
  fs.rmSync(stepDir, { recursive: true, force: true })
  return outcome
}

// ---------------------------------------------------------------------------------------------
// Checksum probes: the action's per-table query timed alone, and cheaper or split variants.

/** Mirrors PINNED_SETTINGS in src/fingerprint/session.ts: the probes run as the action's sessions do. */
const PINNED = [
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  ['row_security', 'off'],
  ['search_path', 'pg_catalog'],
  ['standard_conforming_strings', 'on'],
  ['client_encoding', 'UTF8'],
  ['default_transaction_read_only', 'on'],
  ['statement_timeout', '0']
]

/** Mirrors hash64/rowHash in src/fingerprint/sql.ts: the action's text method. */
const SHA256_ROW = `('x' || substr(encode(sha256(convert_to((r.*)::text, 'UTF8')), 'hex'), 1, 16))::bit(64)::bigint`

const PROBES = [
  { key: 'count', name: 'count(*) only', select: 'NULL::text' },
  { key: 'text', name: 'row::text only (octet_length)', select: 'sum(octet_length((r.*)::text))::text' },
  { key: 'sha256', name: 'text method: sha256(row::text) to 64 bit', select: `coalesce(sum(${SHA256_ROW}), 0)::text` },
  {
    key: 'md5',
    name: 'md5(row::text) to 64 bit',
    select: "coalesce(sum(('x' || left(md5((r.*)::text), 16))::bit(64)::bigint), 0)::text"
  },
  {
    key: 'hashtextextended',
    name: 'hashtextextended(row::text, 0)',
    select: 'coalesce(sum(hashtextextended((r.*)::text, 0)), 0)::text'
  },
  {
    key: 'hash_record_extended',
    name: 'record method: hash_record_extended(row, 0)',
    select: 'coalesce(sum(hash_record_extended(r, 0)), 0)::text'
  }
]
const ACTION_PROBE = PROBES[2]
const probeSql = (/** @type {string} */ select, /** @type {string} */ table, where = '') =>
  `SELECT count(*)::text AS n, ${select} AS v FROM ONLY ${table} AS r${where ? ` WHERE ${where}` : ''}`

/** @param {string} url */
async function probeSession(url) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const settings = PINNED.map(([name, value]) => `SET ${name} = ${pg.escapeLiteral(value)};`).join(' ')
  await client.query(`${settings} BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
  return client
}

/**
 * Best of two: the first may still be warming a cache or meet a burst of other load.
 * @param {() => Promise<any>} work
 */
async function bestOfTwo(work) {
  let best = Infinity
  let value
  for (let i = 0; i < 2; i++) {
    const started = now()
    value = await work()
    best = Math.min(best, (now() - started) / 1000)
  }
  return { seconds: round(best, 2), value }
}

/**
 * Times, on one table: every variant with parallel workers off (so seconds ≈ CPU seconds), the
 * action's query as the planner runs it (parallel or not), and the action's query split into `jobs`
 * block ranges on `jobs` sessions at once (TID range scans exist from 14 on).
 * @param {string} url @param {string} table
 */
async function probeTable(url, table) {
  const client = await probeSession(url)
  /** @type {Record<string, any>} */
  const out = { table }
  try {
    const { rows: size } = await client.query(`SELECT pg_relation_size('${table}')::bigint AS bytes`)
    const blocks = Math.ceil(Number(size[0].bytes) / 8192)
    const { rows: plan } = await client.query(`EXPLAIN ${probeSql(ACTION_PROBE.select, table)}`)
    out.actionQueryPlan = plan.map((row) => row['QUERY PLAN']).join('\n')
    out.actionQueryParallel = /Gather/.test(out.actionQueryPlan)
    await client.query(`SELECT count(*) FROM ONLY ${table}`) // warm the cache
    const planned = await bestOfTwo(() => client.query(probeSql(ACTION_PROBE.select, table)))
    out.actionQueryPlannerSeconds = planned.seconds
    await client.query('SET LOCAL max_parallel_workers_per_gather = 0')
    out.serial = []
    for (const probe of PROBES) {
      await client.query('SAVEPOINT probe')
      try {
        const { seconds, value } = await bestOfTwo(() => client.query(probeSql(probe.select, table)))
        out.serial.push({ key: probe.key, name: probe.name, seconds, rows: value.rows[0].n, value: value.rows[0].v })
        await client.query('RELEASE SAVEPOINT probe')
      } catch (error) {
        await client.query('ROLLBACK TO SAVEPOINT probe')
        out.serial.push({ key: probe.key, name: probe.name, error: /** @type {Error} */ (error).message })
      }
    }
    // Split by block ranges over `jobs` sessions, no parallel workers; the sums add up to the whole table's.
    const sessions = await Promise.all(Array.from({ length: jobs }, () => probeSession(url)))
    try {
      await Promise.all(sessions.map((session) => session.query('SET LOCAL max_parallel_workers_per_gather = 0')))
      const step = Math.ceil(blocks / jobs)
      const { seconds, value: parts } = await bestOfTwo(() =>
        Promise.all(
          sessions.map(async (session, i) => {
            const range =
              `ctid >= '(${i * step},0)'::tid` + (i === jobs - 1 ? '' : ` AND ctid < '(${(i + 1) * step},0)'::tid`)
            const { rows } = await session.query(probeSql(ACTION_PROBE.select, table, range))
            return BigInt(rows[0].v)
          })
        )
      )
      out.actionQuerySplitSeconds = seconds
      out.actionQuerySplitSessions = jobs
      const checksum = parts.reduce((/** @type {bigint} */ a, /** @type {bigint} */ p) => a + p, 0n).toString()
      out.actionQuerySplitMatches = checksum === out.serial.find((/** @type {any} */ p) => p.key === 'sha256')?.value
    } finally {
      await Promise.all(sessions.map((session) => session.end().catch(() => undefined)))
    }
  } finally {
    await client.query('ROLLBACK').catch(() => undefined)
    await client.end().catch(() => undefined)
  }
  return out
}

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

  // Probes on the last copy made (already read in full by the row count check) and on the source.
  if (!args['skip-probes'])
    console.log('\nchecksum probes on one session, parallel workers off (seconds ≈ CPU seconds), best of two:')
  /** @type {any[]} */
  const probes = []
  const probeTables = args['skip-probes'] ? [] : [BIG_TABLE, 'public.pgbench_accounts']
  for (const [side, server, login] of [
    ['source 14', source, source.superuser],
    ['target 17', target, target.admin]
  ]) {
    for (const table of probeTables) {
      const quiet = await waitForQuiet()
      const sampler = startSampler()
      const probe = await probeTable(serverUrl(server, DATABASE, login), table)
      await sampler.stop()
      Object.assign(probe, { side, quietBefore: quiet, otherLoadPercent: sampler.otherLoad() })
      probes.push(probe)
      console.log(`  ${side} ${table} (others ${probe.otherLoadPercent}%)`)
      for (const p of probe.serial)
        console.log(`      ${p.name.padEnd(44)} ${p.error ? `error: ${p.error}` : secs(p.seconds)}`)
      console.log(
        `      ${`text method as planned (${probe.actionQueryParallel ? 'parallel' : 'not parallel'})`.padEnd(44)} ${secs(probe.actionQueryPlannerSeconds)}`
      )
      console.log(
        `      ${`text method in ${probe.actionQuerySplitSessions} ctid ranges, ${probe.actionQuerySplitSessions} sessions`.padEnd(44)} ${secs(probe.actionQuerySplitSeconds)}` +
          `  (sum matches whole: ${probe.actionQuerySplitMatches ? 'yes' : 'NO'})`
      )
    }
  }
  for (const table of probeTables) {
    const [s, t] = ['source 14', 'target 17'].map((side) => probes.find((p) => p.side === side && p.table === table))
    const same = PROBES.slice(1).map((probe) => {
      const [x, y] = [s, t].map((side) => side.serial.find((/** @type {any} */ p) => p.key === probe.key))
      return `${probe.key} ${x.error || y.error ? 'n/a' : x.value === y.value ? 'same' : 'DIFFERENT'}`
    })
    console.log(`  ${table}, values on 14 vs 17: ${same.join(', ')}`)
  }
  await dropTarget(target)

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
  row(
    '(a) pg_dump | psql',
    results.map((r) => r.a.seconds),
    med.a
  )
  row(
    `(b) -Fd -j${jobs} zstd:1 + pg_restore -j${jobs}`,
    results.map((r) => r.b.seconds),
    med.b
  )
  row(
    '    of which pg_dump',
    results.map((r) => r.b.dumpSeconds),
    med.bDump
  )
  row(
    '    of which pg_restore',
    results.map((r) => r.b.restoreSeconds),
    med.bRestore
  )
  row(
    '(c) the action, verify full',
    results.map((r) => r.c.seconds),
    med.c
  )
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
    probes,
    integrityFailures
  }
  fs.mkdirSync(path.dirname(jsonPath), { recursive: true })
  fs.writeFileSync(jsonPath, JSON.stringify(output, null, 2) + '\n')
  console.log(`\nwrote ${path.relative(process.cwd(), jsonPath) || jsonPath}`)
  if (integrityFailures > 0) process.exitCode = 1
}

/**
 * dist/ may be rebuilt while the benchmark runs: a run that died before writing any report (a half-written
 * bundle) is retried after a pause, twice at most. A run that failed with a report is a real result.
 * @param {{ source: any, target: any, workDir: string, toolCache: string, run: number }} ctx
 */
async function viaActionWithRetry(ctx) {
  for (let attempt = 1; ; attempt++) {
    const outcome = await viaAction(ctx)
    if (outcome.exitCode === 0 || outcome.stages.length > 0 || attempt === 3) return outcome
    console.log(`  (c) the action died without a report (dist being rebuilt?): retrying in 30 s`)
    console.log(`      ${(outcome.stderrTail ?? '').split('\n').slice(-3).join(' | ')}`)
    await sleep(30_000)
    await freshTarget(ctx.target)
  }
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
