import * as core from '@actions/core'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { parse, toClientConfig } from 'pg-connection-string'
import { onCancel, throwIfCancelled } from '../cancel.js'
import { InputError, MigrationError } from '../errors.js'

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof SSL_MODES)[number]

/** One side of the migration, parsed from a postgresql:// URL. Never logged whole: it holds a password. */
export interface Endpoint {
  /** The input it came from, so messages can name it. */
  input: string
  host: string
  port: number
  user: string
  password?: string
  database: string
  /** libpq's sslmode; undefined means libpq's default (prefer). */
  sslmode?: SslMode
  /** sslrootcert, sslcert, sslkey paths, passed on to pg and the client tools alike. */
  sslFiles: { rootcert?: string; cert?: string; key?: string }
  /** Seconds to wait for a connection before giving up. */
  connectTimeout: number
}

/**
 * Parses a postgresql:// URL with pg-connection-string. Errors never repeat the URL: it may hold a
 * password.
 */
export function parseDatabaseUrl(input: string, url: string, connectTimeout = 10): Endpoint {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new InputError(
      `${input} is not a postgresql:// URL`,
      `set ${input} to postgresql://user:password@host:5432/database (keep it in a secret)`
    )
  }
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(url)
  } catch {
    throw new InputError(
      `${input} could not be parsed as a URL`,
      'percent-encode special characters in the user and password'
    )
  }
  if (parsed.password) core.setSecret(parsed.password)
  const sslmode = parsed.sslmode as string | undefined
  if (sslmode !== undefined && !(SSL_MODES as readonly string[]).includes(sslmode)) {
    throw new InputError(`${input} has an unknown sslmode "${sslmode}"`, `use one of ${SSL_MODES.join(', ')}`)
  }
  const database = databaseFromUrl(input, url)
  if (!database) {
    throw new InputError(`${input} names no database`, `end the URL with the database name, e.g. …:5432/app`)
  }
  if (!parsed.host || parsed.host.startsWith('/')) {
    throw new InputError(`${input} names no TCP host`, 'give the server host name or IP address')
  }
  const port = parsed.port ? Number(parsed.port) : 5432
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InputError(`${input} has an invalid port`, 'use a port between 1 and 65535')
  }
  return {
    input,
    host: parsed.host,
    port,
    user: parsed.user || os.userInfo().username,
    password: parsed.password || undefined,
    database,
    sslmode: sslmode as SslMode | undefined,
    sslFiles: {
      rootcert: parsed.sslrootcert as string | undefined,
      cert: parsed.sslcert as string | undefined,
      key: parsed.sslkey as string | undefined
    },
    connectTimeout
  }
}

/**
 * The database name, percent-decoded as libpq decodes it. pg-connection-string uses decodeURI, which
 * leaves %3B, %3D, %24, %2C… encoded: a database named `a;b` would be looked up as `a%3Bb`.
 */
function databaseFromUrl(input: string, url: string): string | undefined {
  const raw = /^postgres(?:ql)?:\/\/[^/?#]*\/([^?#]*)/.exec(url)?.[1]
  if (!raw) return undefined
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new InputError(
      `${input} has a malformed percent-escape in the database name`,
      'percent-encode the database name, e.g. with encodeURIComponent'
    )
  }
}

/** The same server and login, another database. */
export function withDatabase(endpoint: Endpoint, database: string): Endpoint {
  return { ...endpoint, database }
}

/** host:port/database, for messages: never the user or the password. */
export function describe(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}/${endpoint.database}`
}

function pgConfig(endpoint: Endpoint, ssl: boolean): pg.ClientConfig {
  // Rebuild through pg-connection-string with libpq semantics, so sslmode means for pg exactly
  // what it means for pg_dump and pg_restore.
  const params = new URLSearchParams()
  const mode = ssl
    ? endpoint.sslmode === 'allow' || endpoint.sslmode === 'prefer'
      ? 'require'
      : endpoint.sslmode
    : 'disable'
  if (mode) params.set('sslmode', mode)
  if (endpoint.sslFiles.rootcert) params.set('sslrootcert', endpoint.sslFiles.rootcert)
  if (endpoint.sslFiles.cert) params.set('sslcert', endpoint.sslFiles.cert)
  if (endpoint.sslFiles.key) params.set('sslkey', endpoint.sslFiles.key)
  const query = params.size > 0 ? `?${params}` : ''
  const config = toClientConfig(parse(`postgresql://placeholder/${query}`, { useLibpqCompat: true }))
  return {
    ...config,
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    database: endpoint.database,
    application_name: 'pg-migrate-action',
    connectionTimeoutMillis: endpoint.connectTimeout * 1000
  }
}

/** Transient at start: a server restarting or a pooler warming up. Worth a bounded retry. */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: string }).code
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === '57P03' || code === '53300'
}

export interface ConnectOptions {
  /** Attempts for transient refusals, with doubling backoff from retryDelayMs. */
  attempts?: number
  retryDelayMs?: number
  /** Connect even though the run is cancelled: only to undo what this run did (drop a database it created). */
  afterCancel?: boolean
}

/**
 * Connects with pg, retrying transient refusals a bounded number of times. For sslmode allow or
 * prefer (libpq's default), tries TLS first and falls back to plain as libpq does.
 */
export async function connect(endpoint: Endpoint, options: ConnectOptions = {}): Promise<pg.Client> {
  const attempts = options.attempts ?? 3
  let delay = options.retryDelayMs ?? 1000
  const tryTls = endpoint.sslmode !== undefined && endpoint.sslmode !== 'disable'
  for (let attempt = 1; ; attempt++) {
    if (!options.afterCancel) throwIfCancelled()
    try {
      return await connectOnce(endpoint, tryTls)
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw explainConnectError(endpoint, error)
      core.info(
        `${endpoint.input}: ${(error as Error).message}; retrying in ${delay / 1000}s (${attempt}/${attempts - 1})`
      )
      await new Promise((resolve) => setTimeout(resolve, delay))
      delay *= 2
    }
  }
}

/** Runs `work` with a connection, closing it after. */
export async function withConnection<T>(
  endpoint: Endpoint,
  work: (client: pg.Client) => Promise<T>,
  options: ConnectOptions = {}
): Promise<T> {
  const client = await connect(endpoint, options)
  try {
    return await work(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** `server_version_num`, e.g. 170004: what a statement may use depends on it. */
export async function serverVersionNumber(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ num: number }>(`SELECT current_setting('server_version_num')::int AS num`)
  return rows[0].num
}

async function connectOnce(endpoint: Endpoint, tls: boolean): Promise<pg.Client> {
  const client = new pg.Client(pgConfig(endpoint, tls))
  try {
    await client.connect()
  } catch (error) {
    await client.end().catch(() => undefined)
    const fallback = endpoint.sslmode === 'allow' || endpoint.sslmode === 'prefer'
    if (tls && fallback && /does not support SSL/i.test((error as Error).message)) return connectOnce(endpoint, false)
    throw error
  }
  // An idle client's socket error must not crash the action: it surfaces on the next query.
  client.on('error', (error) => core.debug(`${endpoint.input}: connection error: ${error.message}`))
  open.set(client, endpoint)
  client.once('end', () => open.delete(client))
  return client
}

/** Every connection still open, so a cancelled run can close them and the process can exit. */
const open = new Map<pg.Client, Endpoint>()

onCancel(() => {
  for (const [client, endpoint] of open) {
    // A backend busy with a query would only notice the closed socket when the query ends: cancel
    // the query first, so nothing keeps running on the servers after the action is gone.
    const { processID, secretKey, activeQuery } = client as unknown as {
      processID?: number
      secretKey?: number
      activeQuery?: unknown
    }
    if (activeQuery && processID !== undefined && secretKey !== undefined)
      sendCancelRequest(endpoint, processID, secretKey)
    client.end().catch(() => undefined)
  }
})

/** The protocol's CancelRequest: a fresh socket, 16 bytes, no login (the server checks the key). */
function sendCancelRequest(endpoint: Endpoint, processID: number, secretKey: number): void {
  const packet = Buffer.alloc(16)
  packet.writeInt32BE(16, 0)
  packet.writeInt32BE(80877102, 4)
  packet.writeInt32BE(processID, 8)
  packet.writeInt32BE(secretKey, 12)
  const socket = net.connect(endpoint.port, endpoint.host, () => socket.end(packet))
  socket.setTimeout(2000, () => socket.destroy())
  socket.on('error', () => undefined)
}

/** Turns a driver error into one line that names the input and what to do. */
export function explainConnectError(endpoint: Endpoint, error: unknown): MigrationError {
  const { code, message } = error as { code?: string; message: string }
  const where = `${endpoint.input} (${describe(endpoint)})`
  switch (code) {
    case '28P01':
      return new MigrationError(
        `${where}: password authentication failed for user "${endpoint.user}"`,
        // The server answers the same for an unknown user, so both are worth checking.
        `check the user name and password in ${endpoint.input}`
      )
    case '28000':
      return new MigrationError(
        `${where}: the server refused user "${endpoint.user}": ${message}`,
        `check the user in ${endpoint.input} and the server's pg_hba.conf`
      )
    case '3D000':
      return new MigrationError(
        `${where}: database "${endpoint.database}" does not exist`,
        `create it or fix the database name in ${endpoint.input}`
      )
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return new MigrationError(
        `${where}: cannot reach the server (${code})`,
        `check the host and port in ${endpoint.input}; a managed database's firewall must admit this runner's IP address`
      )
  }
  if (/does not support SSL/i.test(message)) {
    return new MigrationError(
      `${where}: the server does not support SSL (TLS) connections, and sslmode=${endpoint.sslmode} requires them`,
      `turn TLS on at the server, or set sslmode=prefer in ${endpoint.input} to accept a plain connection`
    )
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) {
    return new MigrationError(
      `${where}: the server's TLS certificate was refused (sslmode=${endpoint.sslmode}): ${message}`,
      `set sslrootcert in ${endpoint.input} to the CA certificate that signed the server's${endpoint.sslmode === 'verify-full' ? ', and connect by the host name the certificate names' : ''}`
    )
  }
  if (/timeout/i.test(message)) {
    return new MigrationError(
      `${where}: no answer within ${endpoint.connectTimeout}s`,
      `check the host and port in ${endpoint.input}; a managed database's firewall must admit this runner's IP address (raise connect-timeout for slow networks)`
    )
  }
  return new MigrationError(`${where}: ${message}`)
}

/**
 * Environment for pg_dump, pg_restore and psql: connection details in libpq variables and the
 * password in a private passfile, so no secret ever appears in a child's argv.
 */
export function clientEnvironment(endpoint: Endpoint, passfile: Passfile): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: endpoint.host,
    PGPORT: String(endpoint.port),
    PGUSER: endpoint.user,
    PGDATABASE: endpoint.database,
    PGAPPNAME: 'pg-migrate-action',
    PGCONNECT_TIMEOUT: String(endpoint.connectTimeout),
    PGPASSFILE: passfile.path
  }
  if (endpoint.sslmode) env.PGSSLMODE = endpoint.sslmode
  if (endpoint.sslFiles.rootcert) env.PGSSLROOTCERT = endpoint.sslFiles.rootcert
  if (endpoint.sslFiles.cert) env.PGSSLCERT = endpoint.sslFiles.cert
  if (endpoint.sslFiles.key) env.PGSSLKEY = endpoint.sslFiles.key
  passfile.add(endpoint)
  return env
}

/** A libpq password file readable only by us, removed when the run ends. */
export class Passfile {
  readonly path: string
  private readonly lines = new Set<string>()

  constructor(dir: string = process.env.RUNNER_TEMP || os.tmpdir()) {
    const folder = fs.mkdtempSync(path.join(dir, 'pg-migrate-'))
    this.path = path.join(folder, 'pgpass')
    fs.writeFileSync(this.path, '', { mode: 0o600 })
  }

  add(endpoint: Endpoint): void {
    if (!endpoint.password) return
    const escape = (value: string): string => value.replace(/[\\:]/g, (c) => `\\${c}`)
    // Any database: the same login reaches the others when databases lists several.
    const line = [endpoint.host, String(endpoint.port), '*', endpoint.user, endpoint.password].map(escape).join(':')
    if (this.lines.has(line)) return
    this.lines.add(line)
    fs.writeFileSync(this.path, [...this.lines].join('\n') + '\n', { mode: 0o600 })
  }

  remove(): void {
    fs.rmSync(path.dirname(this.path), { recursive: true, force: true })
  }
}
