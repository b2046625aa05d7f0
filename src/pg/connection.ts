import net from 'node:net'
import pg from 'pg'
import { parse, toClientConfig } from 'pg-connection-string'
import { MigrationError } from '../base/errors.js'
import type { RunScope } from '../base/scope.js'
import { describe, type Endpoint } from './endpoint.js'

export interface ConnectOptions {
  /** Attempts for transient refusals, with doubling backoff from retryDelayMs. */
  attempts?: number
  retryDelayMs?: number
  /** Connect even though the run is cancelled: only to undo what this run did (drop a database it created). */
  afterCancel?: boolean
  /** A logical replication connection (walsender): takes CREATE_REPLICATION_SLOT and START_REPLICATION. */
  replication?: boolean
  /** Every transaction of the session READ ONLY (default_transaction_read_only): for sessions that only read. */
  readOnly?: boolean
}

/**
 * The first statement of every session, as pg_dump's: an empty search_path, so pg_catalog (always
 * searched first when not listed) is the only schema any function, operator or type name resolves
 * in; pg_temp is never searched for functions or operators, and the action creates no temporary
 * objects. A SET rather than a startup option: poolers refuse `options`, and RESET still finds the
 * database's own search_path for the user's validation queries. Every other statement may then use
 * unqualified pg_catalog names; one that runs on another search_path must qualify everything.
 */
export const SECURE_SEARCH_PATH = `SELECT pg_catalog.set_config('search_path', '', false)`

/** Puts the session back on the pinned search_path after a statement that had to run on another. */
export async function pinSearchPath(client: pg.Client): Promise<void> {
  await client.query(SECURE_SEARCH_PATH)
}

/**
 * Opens connections for one run. Every connection it opens is closed when the run is cancelled,
 * its running query cancelled first, so nothing keeps working on the servers after the action.
 */
export class Connector {
  /** `readOnly`: every session of the run reads only (plan and validate modes). */
  constructor(
    private readonly scope: RunScope,
    private readonly defaults: Pick<ConnectOptions, 'readOnly'> = {}
  ) {}

  /**
   * Connects with pg, retrying transient refusals a bounded number of times. For sslmode allow or
   * prefer (libpq's default, also when the URL gives none), tries TLS first and falls back to plain
   * as libpq does: pg_dump in the same run would use TLS, so the action's own sessions must too.
   */
  async connect(endpoint: Endpoint, connectOptions: ConnectOptions = {}): Promise<pg.Client> {
    const options = { ...connectOptions, readOnly: this.defaults.readOnly === true || connectOptions.readOnly === true }
    const attempts = options.attempts ?? 3
    let delay = options.retryDelayMs ?? 1000
    const tryTls = endpoint.sslmode !== 'disable'
    for (let attempt = 1; ; attempt++) {
      if (!options.afterCancel) this.scope.cancellation.throwIfCancelled()
      try {
        const client = this.track(
          endpoint,
          await connectOnce(endpoint, tryTls, options.replication === true),
          options.afterCancel === true
        )
        await secureSession(client, options.readOnly === true)
        return client
      } catch (error) {
        if (attempt >= attempts || !isTransient(error)) throw explainConnectError(endpoint, error)
        this.scope.log.info(
          `${endpoint.input}: ${(error as Error).message}; retrying in ${delay / 1000}s (${attempt}/${attempts - 1})`
        )
        await new Promise((resolve) => setTimeout(resolve, delay))
        delay *= 2
      }
    }
  }

  /** Runs `work` with a connection, closing it after. */
  async withConnection<T>(
    endpoint: Endpoint,
    work: (client: pg.Client) => Promise<T>,
    options: ConnectOptions = {}
  ): Promise<T> {
    const client = await this.connect(endpoint, options)
    try {
      return await work(client)
    } finally {
      await client.end().catch(() => undefined)
    }
  }

  private track(endpoint: Endpoint, client: pg.Client, afterCancel: boolean): pg.Client {
    // An idle client's socket error must not crash the action: it surfaces on the next query.
    client.on('error', (error) => this.scope.log.debug(`${endpoint.input}: connection error: ${error.message}`))
    // A connection opened to undo this run's work after a cancel must live until that is done.
    if (afterCancel) return client
    const forget = this.scope.cancellation.onCancel(() => {
      // A backend busy with a query would only notice the closed socket when the query ends. pg has
      // no public way to ask whether a query runs, and an idle backend ignores a cancel request.
      const { processID, secretKey } = client as unknown as { processID?: number; secretKey?: number }
      if (processID !== undefined && secretKey !== undefined) sendCancelRequest(endpoint, processID, secretKey)
      client.end().catch(() => undefined)
    })
    client.once('end', forget)
    return client
  }
}

/** Pins the session before anything else runs in it; a session that cannot be pinned is not used. */
async function secureSession(client: pg.Client, readOnly: boolean): Promise<void> {
  const readOnlyPin = readOnly ? `, pg_catalog.set_config('default_transaction_read_only', 'on', false)` : ''
  try {
    await client.query(`${SECURE_SEARCH_PATH}${readOnlyPin}`)
  } catch (error) {
    await client.end().catch(() => undefined)
    throw error
  }
}

/** `server_version_num`, e.g. 170004: what a statement may use depends on it. */
export async function serverVersionNumber(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ num: number }>(`SELECT current_setting('server_version_num')::int AS num`)
  return rows[0].num
}

function pgConfig(endpoint: Endpoint, ssl: boolean, replication: boolean): pg.ClientConfig {
  // Rebuild through pg-connection-string with libpq semantics, so sslmode means for pg exactly
  // what it means for pg_dump and pg_restore.
  const params = new URLSearchParams()
  const mode = ssl ? (fallsBackToPlain(endpoint) ? 'require' : endpoint.sslmode) : 'disable'
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
    connectionTimeoutMillis: endpoint.connectTimeout * 1000,
    // node-postgres sends it in the startup packet; its types do not list it.
    ...(replication ? ({ replication: 'database' } as pg.ClientConfig) : {})
  }
}

/** Transient at start: a server restarting or a pooler warming up. Worth a bounded retry. */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: string }).code
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === '57P03' || code === '53300'
}

async function connectOnce(endpoint: Endpoint, tls: boolean, replication: boolean): Promise<pg.Client> {
  const client = new pg.Client(pgConfig(endpoint, tls, replication))
  try {
    await client.connect()
  } catch (error) {
    await client.end().catch(() => undefined)
    if (tls && fallsBackToPlain(endpoint) && /does not support SSL/i.test((error as Error).message))
      return connectOnce(endpoint, false, replication)
    throw error
  }
  return client
}

/** libpq's allow and prefer (its default): TLS when the server offers it, plain when it does not. */
function fallsBackToPlain(endpoint: Endpoint): boolean {
  return endpoint.sslmode === undefined || endpoint.sslmode === 'allow' || endpoint.sslmode === 'prefer'
}

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

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'])

/** Turns a driver error into one line that names the input; its kind lets the action word the fix. */
export function explainConnectError(endpoint: Endpoint, error: unknown): MigrationError {
  const { code, message } = error as { code?: string; message: string }
  const where = `${endpoint.input} (${describe(endpoint)})`
  const failure = (kind: ConstructorParameters<typeof MigrationError>[0], text: string) =>
    new MigrationError(kind, text, {
      input: endpoint.input,
      facts: { sslmode: endpoint.sslmode ?? '', connectTimeout: endpoint.connectTimeout }
    })
  if (code === '28P01')
    return failure('authentication', `${where}: password authentication failed for user "${endpoint.user}"`)
  if (code === '28000')
    return failure('role-refused', `${where}: the server refused user "${endpoint.user}": ${message}`)
  if (code === '3D000') return failure('missing-database', `${where}: database "${endpoint.database}" does not exist`)
  if (code && UNREACHABLE.has(code)) return failure('unreachable', `${where}: cannot reach the server (${code})`)
  if (/does not support SSL/i.test(message)) {
    return failure(
      'tls-unsupported',
      `${where}: the server does not support SSL (TLS) connections, and sslmode=${endpoint.sslmode} requires them`
    )
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) {
    return failure(
      'tls-certificate',
      `${where}: the server's TLS certificate was refused (sslmode=${endpoint.sslmode}): ${message}`
    )
  }
  // The socket closed before the server said a word: not a PostgreSQL server there, or a proxy or
  // firewall that accepts and drops. "Connection terminated unexpectedly" names neither; a reset is the
  // same hang-up, seen when the peer closed with the startup packet unread.
  if (code === 'ECONNRESET' || /Connection terminated unexpectedly/i.test(message))
    return failure(
      'unreachable',
      `${where}: cannot reach a PostgreSQL server: the connection to ${endpoint.host}:${endpoint.port} closed before the server answered`
    )
  if (/timeout/i.test(message))
    return failure('connect-timeout', `${where}: no answer within ${endpoint.connectTimeout}s`)
  return failure('connection', `${where}: ${message}`)
}
