// Network, disk and process doubles for fault tests: a port that never answers, a port that opens
// late, a small or read-only filesystem, a self-signed certificate, and a watcher that records the
// command line of every process a run starts.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import net from 'node:net'
import path from 'node:path'
import { freePort, runningAsRoot, serverIdentity } from './servers.js'

export { runningAsRoot }

/**
 * A TCP server that accepts connections and never says a word, as a firewall that drops replies
 * looks to a client past the handshake.
 * @returns {Promise<{ port: number, connections: () => number, close: () => Promise<void> }>}
 */
export async function startBlackhole() {
  /** @type {Set<net.Socket>} */
  const sockets = new Set()
  let accepted = 0
  const server = net.createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    connections: () => accepted,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve(undefined))
      })
  }
}

/**
 * A port that refuses connections (nothing listens) until `opensAfterMs`, or until `open()` when it
 * is undefined, then forwards every connection to `to`: a server or pooler that is still starting
 * when the run begins.
 * @param {{ host: string, port: number }} to
 * @param {number} [opensAfterMs]
 */
export async function startLateProxy(to, opensAfterMs) {
  const port = await freePort()
  /** @type {Set<net.Socket>} */
  const sockets = new Set()
  let forwarded = 0
  const server = net.createServer((client) => {
    forwarded++
    const upstream = net.connect(to.port, to.host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => undefined)
      socket.on('close', () => sockets.delete(socket))
    }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  let openedAt = 0
  /** @type {() => void} */
  let open = () => undefined
  const opened = new Promise((resolve, reject) => {
    open = () => {
      if (openedAt || server.listening) return
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        openedAt = Date.now()
        resolve(undefined)
      })
    }
    if (opensAfterMs === undefined) return
    const timer = setTimeout(open, opensAfterMs)
    server.once('close', () => clearTimeout(timer))
  })
  return {
    port,
    opened,
    open: () => open(),
    openedAt: () => openedAt,
    forwarded: () => forwarded,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        if (server.listening) server.close(() => resolve(undefined))
        else resolve(undefined)
      })
  }
}

/**
 * A proxy to a PostgreSQL server (no SSL) that forwards every connection until its client sends a
 * statement matching `hold` (a simple query, in plain text on the wire): from then on nothing more of
 * that connection reaches the server, which never sees the statement. The run cannot get past it,
 * so a test can strike at that point and know where the run stands, whatever the machine's load.
 * `held` resolves with the first statement held; `holding(n)` once n connections are held, with
 * their statements (a parallel pg_dump: each worker past its snapshot import, blocked on its data).
 * `passFirst`: so many matching statements (over all connections) pass before the first is held.
 * @param {{ host: string, port: number }} to
 * @param {RegExp} hold
 * @param {{ passFirst?: number }} [options]
 * @returns {Promise<{ port: number, held: Promise<string>, holding: (count: number) => Promise<string[]>,
 *   close: () => Promise<void> }>}
 */
export async function startHoldingProxy(to, hold, { passFirst = 0 } = {}) {
  let passed = 0
  /** @type {Set<net.Socket>} */
  const sockets = new Set()
  /** @type {string[]} */
  const statements = []
  /** @type {{ count: number, resolve: (statements: string[]) => void }[]} */
  const waiting = []
  /** @param {number} count @returns {Promise<string[]>} */
  const holding = (count) =>
    new Promise((resolve) => {
      if (statements.length >= count) resolve(statements.slice(0, count))
      else waiting.push({ count, resolve })
    })
  /** @param {string} statement */
  const heldOne = (statement) => {
    statements.push(statement)
    for (const waiter of waiting.filter((w) => w.count === statements.length)) waiter.resolve([...statements])
  }
  const server = net.createServer((client) => {
    const upstream = net.connect(to.port, to.host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => undefined)
      socket.on('close', () => sockets.delete(socket))
    }
    // The statement may arrive split across reads: the tail of the last one is searched again.
    let tail = ''
    let isHeld = false
    client.on('data', (chunk) => {
      if (isHeld) return
      const text = tail + chunk.toString('latin1')
      const match = hold.exec(text)
      if (match && passed < passFirst) {
        passed++
        tail = ''
        upstream.write(chunk)
        return
      }
      if (match) {
        isHeld = true
        heldOne(match[0])
        return
      }
      tail = text.slice(-200)
      upstream.write(chunk)
    })
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    held: holding(1).then((first) => first[0]),
    holding,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve(undefined))
      })
  }
}

/**
 * Mounts a tmpfs (root only): a small disk that fills, or one mounted read-only.
 * @param {string} dir
 * @param {{ size?: string, readOnly?: boolean }} [options]
 * @returns {() => void} unmounts
 */
export function mountTmpfs(dir, { size = '1m', readOnly = false } = {}) {
  fs.mkdirSync(dir, { recursive: true })
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${readOnly ? ',ro' : ''}`, 'tmpfs', dir])
  return () => {
    try {
      execFileSync('umount', ['-l', dir])
    } catch {
      // already gone
    }
  }
}

/** Whether this process may mount a tmpfs: root, and a kernel that lets it (not every container does). */
export function canMountTmpfs() {
  if (!runningAsRoot()) return false
  // A folder of its own: callers ask while their tests are collected, before any scratch folder exists.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mount-probe-'))
  try {
    const unmount = mountTmpfs(dir, { size: '64k' })
    unmount()
    return true
  } catch {
    return false
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost. The key is handed to the server user when
 * running as root: the server refuses a key that others can read or that it does not own.
 * @param {string} dir
 * @param {string} [name]
 * @returns {{ cert: string, key: string }}
 */
export function makeCertificate(dir, name = 'server') {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 })
  const cert = path.join(dir, `${name}.crt`)
  const key = path.join(dir, `${name}.key`)
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert
    ],
    { stdio: 'ignore' }
  )
  fs.chmodSync(key, 0o600)
  fs.chmodSync(cert, 0o644)
  const identity = serverIdentity()
  if (identity) {
    fs.chownSync(key, identity.uid, identity.gid)
    fs.chownSync(cert, identity.uid, identity.gid)
  }
  return { cert, key }
}

/** @param {number} pid */
function readProc(pid, file) {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`)
  } catch {
    return undefined
  }
}

/**
 * Polls /proc every `intervalMs` and records every process whose environment holds `marker` (a
 * run's RUNNER_TEMP: every process the action starts inherits it) with its argv and environment,
 * and the argv of every process at all that contains one of `needles`.
 * @param {{ marker: string, needles?: string[], intervalMs?: number }} options
 */
export function watchProcesses({ marker, needles = [], intervalMs = 50 }) {
  /** @type {Map<string, { args: string, env: Record<string, string> }>} */
  const seen = new Map()
  /** @type {string[]} */
  const offending = []
  const markerBytes = Buffer.from(marker)
  const poll = () => {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      const pid = Number(entry)
      if (pid === process.pid) continue
      const cmdline = readProc(pid, 'cmdline')
      if (!cmdline || cmdline.length === 0) continue
      const args = cmdline.toString().split('\0').filter(Boolean).join(' ')
      if (needles.some((needle) => args.includes(needle))) offending.push(`${pid}: ${args}`)
      const key = `${pid} ${args}`
      if (seen.has(key)) continue
      const environ = readProc(pid, 'environ')
      if (!environ || !environ.includes(markerBytes)) continue
      /** @type {Record<string, string>} */
      const env = {}
      for (const pair of environ.toString().split('\0')) {
        const at = pair.indexOf('=')
        if (at > 0) env[pair.slice(0, at)] = pair.slice(at + 1)
      }
      seen.set(key, { args, env })
    }
  }
  const timer = setInterval(poll, intervalMs)
  poll()
  return {
    /** Stops polling; returns every process seen and the command lines that held a needle. */
    stop() {
      clearInterval(timer)
      poll()
      return { processes: [...seen.values()], commands: [...new Set([...seen.values()].map((p) => p.args))], offending }
    }
  }
}

/**
 * Command lines of running processes whose environment holds `marker`.
 * @param {string} marker
 */
export function processesWith(marker) {
  const found = []
  const markerBytes = Buffer.from(marker)
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const environ = readProc(Number(entry), 'environ')
    if (!environ || !environ.includes(markerBytes)) continue
    const cmdline = readProc(Number(entry), 'cmdline')
    if (cmdline?.length) found.push(`${entry}: ${cmdline.toString().split('\0').filter(Boolean).join(' ')}`)
  }
  return found
}

/**
 * Kills every process whose environment holds `marker` (a run's RUNNER_TEMP) at once, as a runner
 * that vanishes would: the action and all it started. Returns how many there were.
 * @param {string} marker
 */
export function killProcessesWith(marker) {
  const pids = processesWith(marker).map((line) => Number(line.split(':')[0]))
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
  return pids.length
}

/**
 * Calls `act` once, on the first whole stdout line that matches `pattern`: a fault struck on an event
 * of the run, not after a delay.
 * @param {RegExp} pattern @param {() => void} act
 * @returns {(chunk: string) => void}
 */
export function onLine(pattern, act) {
  let pending = ''
  let done = false
  return (chunk) => {
    pending += chunk
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    if (!done && lines.some((line) => pattern.test(line))) {
      done = true
      act()
    }
  }
}
