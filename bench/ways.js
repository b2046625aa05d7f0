// The three ways to copy the benchmark database into PostgreSQL 17, each timed with its CPU use.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { runAction } from '../test/support/run-action.js'
import { REPO_ROOT, serverUrl, withClient } from '../test/support/servers.js'
import { DATABASE } from './database.js'
import { jobs, sizeGb } from './options.js'
import { finished, live, now, round, runTool, spawnTracked } from './processes.js'
import { startSampler } from './sampler.js'

// ---------------------------------------------------------------------------------------------
// The three ways

/** @param {any} target */
export async function freshTarget(target) {
  await withClient(serverUrl(target, 'postgres', target.admin), async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${DATABASE}`)
    await client.query(`CREATE DATABASE ${DATABASE} TEMPLATE template0 ENCODING 'UTF8'`)
  })
  // Housekeeping as the superuser: the previous way's writes are not checkpointed on the next one's time.
  await withClient(serverUrl(target, 'postgres'), (client) => client.query('CHECKPOINT'))
}

/** @param {any} target */
export async function dropTarget(target) {
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
export async function plainPipe({ bin, env, source, target }) {
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
export async function handTuned({ bin, env, source, target, workDir }) {
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

/**
 * dist/ may be rebuilt while the benchmark runs: a run that died before writing any report (a half-written
 * bundle) is retried after a pause, twice at most. A run that failed with a report is a real result.
 * @param {{ source: any, target: any, workDir: string, toolCache: string, run: number }} ctx
 */
export async function viaActionWithRetry(ctx) {
  for (let attempt = 1; ; attempt++) {
    const outcome = await viaAction(ctx)
    if (outcome.exitCode === 0 || outcome.stages.length > 0 || attempt === 3) return outcome
    console.log(`  (c) the action died without a report (dist being rebuilt?): retrying in 30 s`)
    console.log(`      ${(outcome.stderrTail ?? '').split('\n').slice(-3).join(' | ')}`)
    await sleep(30_000)
    await freshTarget(ctx.target)
  }
}
