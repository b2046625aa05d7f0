// /proc sampling: CPU use of every way, peak RSS of the action's process and process tree.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { clearInterval, setInterval } from 'node:timers'
import { setTimeout as sleep } from 'node:timers/promises'
import { quietWait } from './options.js'
import { baseDir, live, now, round } from './processes.js'

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
export function startSampler(options = {}) {
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
