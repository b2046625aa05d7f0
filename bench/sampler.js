// /proc sampling while a way runs: CPU seconds per side, what else ran on the machine, peak RSS of
// the runner's processes; and the wait for a quiet machine before each way.
import fs from 'node:fs'
import { clearInterval, setInterval } from 'node:timers'
import { setTimeout as sleep } from 'node:timers/promises'
import { quietWait } from './options.js'
import { now, round } from './processes.js'
import { CLOCK_TICKS, descendants, postmasterPid, processTable, sideTicks } from './sides.js'

function readCpu() {
  const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
  const n = fields.map(Number)
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = n[3] + n[4]
  return { busy: total - idle, total }
}

/**
 * A shared host makes times noisy: before each timed way, wait until the CPUs have been nearly idle
 * for three seconds in a row, at most --quiet-wait seconds.
 */
export async function waitForQuiet() {
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

/** @param {number} pid */
function readHwm(pid) {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/**
 * What a server process is doing, from the title PostgreSQL gives it: a background process's name,
 * or a backend's command tag (the words after its client's address).
 * @param {string} title
 */
function activityOf(title) {
  const background =
    /^postgres: (checkpointer|background writer|walwriter|autovacuum (?:launcher|worker)|parallel worker|logical replication (?:launcher|worker)|stats collector|archiver)/.exec(
      title
    )
  if (background) return background[1]
  const backend = /\)\s+(.*?)\s*$/.exec(title)
  if (backend) return backend[1].replace(/ waiting$/, '').replace(/^idle.*/, 'idle')
  return 'postmaster'
}

/** A short name for what a runner process runs. @param {string} command */
function commandName(command) {
  const known = /\b(pg_dump|pg_restore|psql|pgcopydb|node|tar|sh)\b/.exec(command)
  return known ? known[1] : (command.split(' ')[0].split('/').pop() ?? 'other')
}

/** @param {number} pid */
function commandLine(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  } catch {
    return ''
  }
}

/**
 * Samples every 100 ms until stopped: machine CPU, the summed RSS of the runner's process tree (every
 * process this benchmark started, not the benchmark itself) and the kernel's high-water mark (VmHWM)
 * of the way's main processes: the benchmark's children whose command line matches `main`.
 * @param {{ source: any, target: any }} servers
 * @param {{ main?: RegExp }} [options]
 */
export function startSampler(servers, options = {}) {
  /** @type {{ t: number, busy: number, total: number }[]} */
  const cpu = []
  const state = {
    mainHwm: 0,
    treePeak: 0,
    treePeakProcesses: 0,
    polls: 0,
    mainPids: new Set(),
    /** @type {Map<number, { command: string, own: number }>} */
    seen: new Map(),
    /** @type {{ command: string, own: number }[]} */
    finished: []
  }
  let last = readCpu()
  const first = last
  const ticksAtStart = sideTicks(servers)
  /** @type {Record<'source' | 'target', Record<string, number>>} */
  const activity = { source: {}, target: {} }
  /** @type {Map<number, number>} server process → its own ticks at the last poll */
  const serverTicks = new Map()
  let firstPoll = true
  /** @param {Map<number, import('./sides.js').ProcessEntry>} table */
  const attribute = (table) => {
    for (const side of /** @type {const} */ (['source', 'target'])) {
      for (const pid of descendants(table, postmasterPid(servers[side]))) {
        const own = table.get(pid)?.own ?? 0
        const before = serverTicks.get(pid)
        serverTicks.set(pid, own)
        // Processes there before the way began: only what they do from now on counts.
        if (firstPoll || own === before) continue
        const doing = activityOf(commandLine(pid))
        activity[side][doing] = (activity[side][doing] ?? 0) + own - (before ?? 0)
      }
    }
    firstPoll = false
  }
  attribute(processTable())
  const tick = () => {
    const current = readCpu()
    cpu.push({ t: now(), busy: current.busy - last.busy, total: current.total - last.total })
    last = current
    const table = processTable()
    attribute(table)
    state.polls++
    const tree = descendants(table, process.pid)
    tree.delete(process.pid)
    let sum = 0
    for (const pid of tree) sum += table.get(pid)?.rss ?? 0
    for (const pid of tree) {
      const entry = table.get(pid)
      if (!entry) continue
      const seen = state.seen.get(pid)
      // A process's own ticks at its last poll; a pid seen again with fewer ticks is a new process.
      if (seen && entry.own >= seen.own) seen.own = entry.own
      else {
        if (seen) state.finished.push(seen)
        state.seen.set(pid, { command: commandName(commandLine(pid)), own: entry.own })
      }
    }
    if (sum > state.treePeak) {
      state.treePeak = sum
      state.treePeakProcesses = tree.size
    }
    if (!options.main) return
    for (const pid of tree) {
      if (table.get(pid)?.ppid !== process.pid) continue
      if (!state.mainPids.has(pid)) {
        if (!options.main.test(commandLine(pid))) continue
        state.mainPids.add(pid)
      }
      state.mainHwm = Math.max(state.mainHwm, readHwm(pid))
    }
  }
  const timer = setInterval(tick, 100)
  /** @type {{ runner: number, source: number, target: number, bench: number } | undefined} */
  let cpuSeconds
  let otherLoadPercent = NaN
  return {
    state,
    async stop() {
      clearInterval(timer)
      tick()
      const end = last
      // Backends count once their postmaster has reaped them: give it a moment after the last client closed.
      await sleep(500)
      const ticks = sideTicks(servers)
      const seconds = (/** @type {'runner' | 'source' | 'target' | 'bench'} */ side) =>
        round((ticks[side] - ticksAtStart[side]) / CLOCK_TICKS, 1)
      cpuSeconds = {
        runner: seconds('runner'),
        source: seconds('source'),
        target: seconds('target'),
        bench: seconds('bench')
      }
      const total = end.total - first.total
      const ownTicks = ['runner', 'source', 'target', 'bench'].reduce(
        (sum, side) => sum + ticks[/** @type {'runner'} */ (side)] - ticksAtStart[/** @type {'runner'} */ (side)],
        0
      )
      // What ran on the machine besides this benchmark, as a share of all CPUs.
      otherLoadPercent = total ? round((100 * Math.max(0, end.busy - first.busy - ownTicks)) / total, 0) : 0
      return state
    },
    /** CPU seconds per side (and of the benchmark's own polling) between start and stop. */
    cpu() {
      if (!cpuSeconds) throw new Error('the sampler is still running')
      return cpuSeconds
    },
    otherLoad() {
      return otherLoadPercent
    },
    /**
     * The runner's CPU seconds by program, from each process's own ticks at its last poll (up to
     * 100 ms short for one that exited between polls): what the runner side spends its time on.
     */
    runnerByProgram() {
      /** @type {Record<string, number>} */
      const by = {}
      for (const p of [...state.seen.values(), ...state.finished]) by[p.command] = (by[p.command] ?? 0) + p.own
      return Object.fromEntries(Object.entries(by).map(([k, v]) => [k, round(v / CLOCK_TICKS, 1)]))
    },
    /**
     * Each server's CPU seconds by what its processes were doing when polled (every 100 ms; a
     * backend's last moments before it exits are missed): where the servers spend their time.
     */
    serverByActivity() {
      /** @param {Record<string, number>} by */
      const seconds = (by) =>
        Object.fromEntries(
          Object.entries(by)
            .sort((a, b) => b[1] - a[1])
            .map(([k, v]) => [k, round(v / CLOCK_TICKS, 1)])
        )
      return { source: seconds(activity.source), target: seconds(activity.target) }
    },
    /** Peak RSS: the way's main process (VmHWM) and the runner's whole tree (summed VmRSS, sampled). */
    rss() {
      return { mainBytes: state.mainHwm, treeBytes: state.treePeak, treeProcesses: state.treePeakProcesses }
    },
    /** Average share of all CPUs busy between two times, in percent. */
    busy(/** @type {number} */ from, /** @type {number} */ to) {
      const inside = cpu.filter((s) => s.t > from && s.t <= to + 100)
      const total = inside.reduce((a, s) => a + s.total, 0)
      return total ? round((100 * inside.reduce((a, s) => a + s.busy, 0)) / total, 0) : NaN
    }
  }
}
