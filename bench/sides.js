// The three sides of a copy: the runner (the tool or action this benchmark starts, and everything it
// starts), the source server and the target server (each postmaster with its backends and workers).
// CPU seconds per side come from /proc; `--three-machines` also caps each side with a cgroup CPU
// quota, so no side can take CPU from another, as when they are three machines.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

/** USER_HZ: the unit of /proc CPU times. */
export const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()
export const PAGE_SIZE = 4096

/**
 * @typedef {{ ppid: number, own: number, reaped: number, rss: number }} ProcessEntry
 *   own: user + system ticks of the process; reaped: those of the children it has waited for.
 */

/** Every process we may read: pid → parent, CPU ticks, resident bytes. */
export function processTable() {
  /** @type {Map<number, ProcessEntry>} */
  const table = new Map()
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      table.set(Number(entry), {
        ppid: Number(f[1]),
        own: Number(f[11]) + Number(f[12]),
        reaped: Number(f[13]) + Number(f[14]),
        rss: Number(f[21]) * PAGE_SIZE
      })
    } catch {
      // exited meanwhile
    }
  }
  return table
}

/** @param {Map<number, ProcessEntry>} table @param {number} root  The root and all its live descendants. */
export function descendants(table, root) {
  const tree = new Set(table.has(root) ? [root] : [])
  for (let grew = true; grew;) {
    grew = false
    for (const [pid, p] of table) {
      if (!tree.has(pid) && tree.has(p.ppid)) {
        tree.add(pid)
        grew = true
      }
    }
  }
  return tree
}

/**
 * CPU ticks a process tree has used so far: every live member's own and reaped ticks, plus the
 * root's reaped ones (and its own with `withRoot`). The difference of two readings is exact: a child
 * counted live at the first reading is, once waited for, in its parent's reaped ticks at the second.
 * @param {Map<number, ProcessEntry>} table @param {number} root @param {boolean} withRoot
 */
export function treeTicks(table, root, withRoot) {
  let ticks = 0
  for (const pid of descendants(table, root)) {
    const p = /** @type {ProcessEntry} */ (table.get(pid))
    ticks += pid === root ? p.reaped + (withRoot ? p.own : 0) : p.own + p.reaped
  }
  return ticks
}

/** @param {any} server The postmaster's pid, from its pid file. */
export function postmasterPid(server) {
  return Number(fs.readFileSync(path.join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
}

/**
 * CPU ticks per side now. The runner side is this process's children (the benchmark's own polling
 * is left out); each server side is its postmaster's whole tree.
 * @param {{ source: any, target: any }} servers
 */
export function sideTicks({ source, target }) {
  const table = processTable()
  return {
    runner: treeTicks(table, process.pid, false),
    source: treeTicks(table, postmasterPid(source), true),
    target: treeTicks(table, postmasterPid(target), true),
    bench: table.get(process.pid)?.own ?? 0
  }
}

// ---------------------------------------------------------------------------------------------
// CPU quotas per side (cgroup v1 cpu controller, or v2 with cpu enabled at the root)

const V1 = '/sys/fs/cgroup/cpu'
const V2 = '/sys/fs/cgroup'

/** Which cgroup interface can cap CPU here, or why none can. */
export function cgroupSupport() {
  try {
    if (fs.existsSync(path.join(V1, 'cpu.cfs_quota_us'))) {
      fs.accessSync(V1, fs.constants.W_OK)
      return { kind: /** @type {const} */ ('v1'), root: V1 }
    }
    const controllers = path.join(V2, 'cgroup.controllers')
    if (fs.existsSync(controllers) && fs.readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) {
      fs.accessSync(V2, fs.constants.W_OK)
      return { kind: /** @type {const} */ ('v2'), root: V2 }
    }
    return { kind: /** @type {const} */ ('none'), why: 'no cgroup cpu controller is mounted' }
  } catch {
    return { kind: /** @type {const} */ ('none'), why: 'the cgroup cpu controller is not writable (run as root)' }
  }
}

/** This process's group in the hierarchy: where every process goes back to. */
function ownGroup(/** @type {'v1' | 'v2'} */ kind, /** @type {string} */ root) {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')
  const line =
    kind === 'v1' ? lines.find((l) => /^\d+:([^:]*,)?cpu(,[^:]*)?:/.test(l)) : lines.find((l) => l.startsWith('0::'))
  return path.join(root, line ? line.slice(line.lastIndexOf(':') + 1) : '/')
}

/**
 * One cgroup per side under a group named after this process, each capped at `cpus` CPUs. `enter`
 * moves the servers' postmasters and all their children in (new backends inherit the group) and this
 * process into the runner's group, so everything it starts from then on runs there; `leave` moves
 * every process back.
 * @param {number} cpus
 */
export function sideGroups(cpus) {
  const support = cgroupSupport()
  if (support.kind === 'none') throw new Error(`--layout three needs CPU quotas: ${support.why}`)
  const home = ownGroup(support.kind, support.root)
  const parent = path.join(home, `pg-migrate-bench-${process.pid}`)
  fs.mkdirSync(parent, { recursive: true })
  if (support.kind === 'v2') fs.writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+cpu')
  const period = 100_000
  const quota = Math.round(cpus * period)
  const sides = ['runner', 'source', 'target']
  for (const side of sides) {
    const dir = path.join(parent, side)
    fs.mkdirSync(dir, { recursive: true })
    if (support.kind === 'v1') {
      fs.writeFileSync(path.join(dir, 'cpu.cfs_period_us'), String(period))
      fs.writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(quota))
    } else fs.writeFileSync(path.join(dir, 'cpu.max'), `${quota} ${period}`)
  }
  /** @param {string} dir @param {number | string} pid */
  const move = (dir, pid) => {
    try {
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid))
    } catch {
      // exited meanwhile
    }
  }
  const leave = () => {
    for (const side of sides) {
      const procs = path.join(parent, side, 'cgroup.procs')
      for (const pid of fs.readFileSync(procs, 'utf8').split('\n').filter(Boolean)) move(home, pid)
    }
  }
  return {
    cpus,
    kind: support.kind,
    /** @param {{ source: any, target: any }} servers */
    enter(servers) {
      const table = processTable()
      for (const side of /** @type {const} */ (['source', 'target'])) {
        for (const pid of descendants(table, postmasterPid(servers[side]))) move(path.join(parent, side), pid)
      }
      move(path.join(parent, 'runner'), process.pid)
    },
    leave,
    remove() {
      leave()
      for (const side of sides) fs.rmdirSync(path.join(parent, side))
      fs.rmdirSync(parent)
    }
  }
}
