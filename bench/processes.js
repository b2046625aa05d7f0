// Children, servers and the temp folder of a benchmark run, stopped and removed however it ends;
// and the small helpers every part uses.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { defaultBaseDir, stopServer } from '../test/support/servers.js'
import { processTable } from './sides.js'

// ---------------------------------------------------------------------------------------------
// Cleanup: servers, the bundle server, every child this script started, the temp folder.

export const baseDir = defaultBaseDir('pg-migrate-bench')
/** @type {Set<import('node:child_process').ChildProcess>} */
export const children = new Set()
/** @type {{ source?: any, target?: any, bundle?: any, groups?: { remove(): void } }} */
export const live = {}
let cleaned = false

export async function cleanup() {
  if (cleaned) return
  cleaned = true
  for (const child of children) child.kill('SIGTERM')
  // The action is spawned by runAction, not here: every child of this process is one we started.
  for (const [pid, p] of processTable()) if (p.ppid === process.pid) killPid(pid, 'SIGTERM')
  try {
    live.groups?.remove()
  } catch (error) {
    console.error(`could not remove the benchmark's cgroups: ${error instanceof Error ? error.message : error}`)
  }
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
export function killPid(pid, signal) {
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

export const median = (/** @type {number[]} */ xs) => {
  const sorted = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
export const round = (/** @type {number} */ x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits
export const secs = (/** @type {number} */ x) => (Number.isFinite(x) ? `${x.toFixed(1)} s` : '—')
export const mib = (/** @type {number} */ bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
export const now = () => performance.now()

/**
 * Environment for the client tools: passwords only in the passfile, no PG* variables from outside.
 * @param {string} passfile
 */
export function toolEnv(passfile) {
  /** @type {Record<string, string>} */
  const env = {}
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !/^PG/.test(key)) env[key] = value
  return { ...env, PGPASSFILE: passfile, PGCONNECT_TIMEOUT: '10', PGSSLMODE: 'disable' }
}

/**
 * @param {string} command @param {string[]} argv @param {import('node:child_process').SpawnOptions} options
 */
export function spawnTracked(command, argv, options) {
  const child = spawn(command, argv, options)
  children.add(child)
  child.on('close', () => children.delete(child))
  return child
}

/**
 * Resolves with the exit code; keeps the last lines of stderr for errors.
 * @param {import('node:child_process').ChildProcess} child
 */
export function finished(child) {
  let tail = ''
  child.stderr?.on('data', (chunk) => (tail = (tail + chunk).slice(-4000)))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code: signal ? null : code, tail: tail.trim() }))
  })
}

/**
 * Runs a tool to its end; stderr lines go to `onLine`, and stdout lines to `onStdout` when given.
 * @param {string} command @param {string[]} argv @param {Record<string, string>} env
 * @param {(line: string) => void} [onLine] @param {(line: string) => void} [onStdout]
 */
export async function runTool(command, argv, env, onLine, onStdout) {
  const child = spawnTracked(command, argv, { env, stdio: ['ignore', onStdout ? 'pipe' : 'ignore', 'pipe'] })
  const split = (/** @type {((line: string) => void) | undefined} */ each) => {
    let pending = ''
    return {
      push: (/** @type {Buffer} */ chunk) => {
        pending += chunk
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        if (each) lines.forEach(each)
      },
      end: () => pending && each?.(pending)
    }
  }
  const stderr = split(onLine)
  const stdout = split(onStdout)
  child.stderr?.on('data', stderr.push)
  child.stdout?.on('data', stdout.push)
  const { code, tail } = /** @type {{ code: number | null, tail: string }} */ (await finished(child))
  stderr.end()
  stdout.end()
  if (code !== 0) throw new Error(`${path.basename(command)} exited ${code}: ${tail.split('\n').slice(-5).join(' | ')}`)
}
