// Real PostgreSQL servers (12 to 18, one npm package per major) for tests, the matrix, the demo and the
// benchmark.
// Plain JavaScript so scripts that cannot load TypeScript share it with jest.
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The servers refuse to run as root, and CI runs as root: they run as this user then. */
export const SERVER_USER = 'pgtest'

/** The managed-style admin on the target: what a hosted database gives you, no superuser. */
export const TARGET_ADMIN = 'admin'

/**
 * @typedef {{ user: string, password: string }} Login
 * @typedef {{
 *   major: number, host: string, port: number, dataDir: string, socketDir: string, binDir: string,
 *   superuser: Login, admin?: Login
 * }} ServerInfo
 */

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export function runningAsRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

/** @returns {{ uid: number, gid: number } | undefined} */
export function serverIdentity() {
  if (!runningAsRoot()) return undefined
  try {
    const uid = Number(execFileSync('id', ['-u', SERVER_USER]).toString().trim())
    const gid = Number(execFileSync('id', ['-g', SERVER_USER]).toString().trim())
    return { uid, gid }
  } catch {
    throw new Error(`running as root needs the unprivileged user "${SERVER_USER}": run bash scripts/setup-testbed.sh`)
  }
}

/**
 * The server binaries of one major, from the npm packages. As root they are copied where the server
 * user can surely read them: a clone may sit under a folder only root can enter.
 * @param {number} major
 * @param {string} baseDir
 */
function serverBinaries(major, baseDir) {
  const packaged = path.join(REPO_ROOT, 'node_modules', `pg${major}-server`, 'native')
  if (!fs.existsSync(path.join(packaged, 'bin', 'postgres'))) {
    throw new Error(`PostgreSQL ${major} server package missing at ${packaged}: run npm ci`)
  }
  hydrateSymlinks(packaged)
  if (!runningAsRoot()) return path.join(packaged, 'bin')
  const copy = path.join(baseDir, `pg${major}-native`)
  if (!fs.existsSync(path.join(copy, 'bin', 'postgres'))) {
    fs.cpSync(packaged, copy, { recursive: true, verbatimSymlinks: true })
  }
  return path.join(copy, 'bin')
}

/**
 * npm skips install scripts by default now; the package's postinstall only recreates library
 * symlinks listed in pg-symlinks.json, so do the same here.
 * @param {string} nativeDir
 */
function hydrateSymlinks(nativeDir) {
  const listFile = path.join(nativeDir, 'pg-symlinks.json')
  if (!fs.existsSync(listFile)) return
  /** @type {{ source: string, target: string }[]} */
  const links = JSON.parse(fs.readFileSync(listFile, 'utf8'))
  for (const { source, target } of links) {
    const absoluteTarget = path.resolve(nativeDir, '..', target)
    if (fs.existsSync(absoluteTarget)) continue
    const absoluteSource = path.resolve(nativeDir, '..', source)
    fs.symlinkSync(path.relative(path.dirname(absoluteTarget), absoluteSource), absoluteTarget)
  }
}

/**
 * @param {string} command
 * @param {string[]} args
 * @param {{ uid: number, gid: number } | undefined} identity
 * @param {Record<string, string>} [env]
 */
function runAs(command, args, identity, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...identity,
      env: { ...process.env, ...env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${path.basename(command)} exited ${code}: ${output}`))
    )
  })
}

/** The majors with a server package (package.json: pg<major>-server). */
export const SERVER_MAJORS = [12, 13, 14, 15, 16, 17, 18]

/**
 * Creates a cluster with scram passwords, starts it on 127.0.0.1, and on the target creates the
 * managed-style admin. `name` is the server's folder under baseDir (default pg<major>): two servers
 * of one major need two names.
 * @param {{ major: number, baseDir: string, name?: string, port?: number, target?: boolean, settings?: string[] }} options
 * @returns {Promise<ServerInfo>}
 */
export async function startServer({ major, baseDir, name = `pg${major}`, port, target = false, settings = [] }) {
  const identity = serverIdentity()
  fs.mkdirSync(baseDir, { recursive: true })
  if (identity) fs.chmodSync(baseDir, 0o755)
  const binDir = serverBinaries(major, baseDir)
  // One folder per server, owned by the server user: data, socket and log live there.
  const serverDir = path.join(baseDir, name)
  const dataDir = path.join(serverDir, 'data')
  const socketDir = serverDir
  fs.rmSync(serverDir, { recursive: true, force: true })
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const superuser = { user: 'postgres', password: randomBytes(12).toString('hex') }
  const pwfile = path.join(serverDir, 'pwfile')
  fs.writeFileSync(pwfile, superuser.password + '\n', { mode: 0o600 })
  if (identity) {
    for (const owned of [serverDir, dataDir, pwfile]) fs.chownSync(owned, identity.uid, identity.gid)
  }
  await runAs(
    path.join(binDir, 'initdb'),
    [
      '-D',
      dataDir,
      '-U',
      superuser.user,
      '--pwfile',
      pwfile,
      '--auth=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync'
    ],
    identity
  )
  fs.rmSync(pwfile)
  const serverPort = port ?? (await freePort())
  const options = [
    `-p ${serverPort}`,
    `-k ${socketDir}`,
    `-c listen_addresses=127.0.0.1`,
    `-c fsync=off`,
    `-c synchronous_commit=off`,
    `-c full_page_writes=off`,
    `-c max_connections=100`,
    ...settings.map((setting) => `-c ${setting}`)
  ].join(' ')
  await runAs(
    path.join(binDir, 'pg_ctl'),
    ['-D', dataDir, '-o', options, '-l', path.join(serverDir, 'server.log'), '-w', '-t', '60', 'start'],
    identity
  )
  /** @type {ServerInfo} */
  const info = { major, host: '127.0.0.1', port: serverPort, dataDir, socketDir, binDir, superuser }
  if (target) {
    const admin = { user: TARGET_ADMIN, password: randomBytes(12).toString('hex') }
    await withClient(serverUrl(info, 'postgres'), (client) =>
      client.query(`CREATE ROLE ${TARGET_ADMIN} LOGIN CREATEDB CREATEROLE PASSWORD '${admin.password}'`)
    )
    info.admin = admin
  }
  return info
}

/** @param {ServerInfo} info @param {'fast' | 'immediate'} [mode] */
export async function stopServer(info, mode = 'fast') {
  await runAs(path.join(info.binDir, 'pg_ctl'), ['-D', info.dataDir, '-m', mode, '-w', 'stop'], serverIdentity()).catch(
    () => undefined
  )
}

/** @param {ServerInfo} info */
export async function restartServer(info) {
  // With no log file the restarted server would hold our output pipe open, and pg_ctl never returns.
  const log = path.join(path.dirname(info.dataDir), 'server.log')
  await runAs(
    path.join(info.binDir, 'pg_ctl'),
    ['-D', info.dataDir, '-l', log, '-m', 'immediate', '-w', 'restart'],
    serverIdentity()
  )
}

/**
 * A postgresql:// URL for a database on the server, as the superuser unless a login is given.
 * @param {ServerInfo} info
 * @param {string} database
 * @param {Login} [login]
 */
export function serverUrl(info, database, login = info.superuser) {
  const user = encodeURIComponent(login.user)
  const password = encodeURIComponent(login.password)
  return `postgresql://${user}:${password}@${info.host}:${info.port}/${encodeURIComponent(database)}`
}

/**
 * @template T
 * @param {string} url
 * @param {(client: pg.Client) => Promise<T>} work
 * @returns {Promise<T>}
 */
export async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** The folder the servers live in: fast local disk, readable by the server user. */
export function defaultBaseDir(name = 'pg-migrate-testbed') {
  return path.join(os.tmpdir(), `${name}-${process.pid}`)
}

/**
 * Starts a 14 source and a 17 target.
 * @param {string} baseDir
 * @returns {Promise<{ source: ServerInfo, target: ServerInfo }>}
 */
export async function startServerPair(baseDir) {
  const [source, target] = await Promise.all([
    // wal_level = logical: sync: logical streams the source's changes (a restart to change it).
    startServer({ major: 14, baseDir, settings: ['wal_level=logical'] }),
    startServer({ major: 17, baseDir, target: true })
  ])
  return { source, target }
}
