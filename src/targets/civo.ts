import type { Cancellation } from '../base/cancellation.js'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import type { Endpoint } from '../pg/endpoint.js'
import {
  listDatabases,
  majorOf,
  postgresVersions,
  type CivoDatabaseItem,
  type CivoTarget,
  type CivoVersions
} from './civo-api.js'
import { ensureDatabase, type CivoCreate } from './civo-create.js'

export type { CivoTarget } from './civo-api.js'

/** Which Civo database an endpoint came from: for messages and the firewall hint. */
export interface CivoDatabaseRef {
  id: string
  name: string
  region: string
  firewallId?: string
  /** The run created it (civo-create). */
  created?: boolean
}

/** A target resolved from the Civo API. */
export interface CivoEndpoint extends Endpoint {
  civo: CivoDatabaseRef
}

export interface ResolveCivoOptions {
  /** The input the endpoint is named after in messages. */
  input: string
  /** The database to connect to on the Civo server; default the maintenance database. */
  targetDatabase?: string
  /** Seconds for each database connection (the API call gets at least 10). */
  connectTimeout: number
  /** The source's major, when known: an older Civo database is refused (a downgrade). */
  sourceMajor?: number
  /** Create the database when it does not exist. */
  create?: CivoCreate
  /** Stops a wait for a database being created. */
  cancellation?: Cancellation
}

/**
 * Finds `civo.database` (a name or an id) in `civo.region` through the Civo API and turns it into the
 * target endpoint: its public IPv4 address, the first database user's login, sslmode=require.
 * Refuses a database that is missing, ambiguous, not Ready, not PostgreSQL, or older than the source.
 */
export async function resolveCivoTarget(
  civo: CivoTarget,
  options: ResolveCivoOptions,
  log: Log
): Promise<CivoEndpoint> {
  const timeoutSeconds = Math.max(options.connectTimeout, 10)
  const items = await listDatabases(civo, timeoutSeconds)
  const { item, created, versions } = options.create
    ? await ensureDatabase(civo, options.create, items, {
        log,
        timeoutSeconds,
        cancellation: options.cancellation,
        sourceMajor: options.sourceMajor
      })
    : { item: pickDatabase(civo, items), created: false, versions: await offeredVersions(civo, timeoutSeconds, log) }
  const name = item.name ?? item.id ?? civo.database
  const user = item.database_user_info?.[0]
  const password = user?.password ?? item.password
  // Masked before anything else can print it.
  if (password) log.mask(password)
  checkDatabase(item, name, options.sourceMajor, versions)

  const host = item.public_ipv4 || item.public_ip
  if (!host) {
    throw new MigrationError('civo-no-address', `Civo database "${name}" has no public IPv4 address`)
  }
  const username = user?.username ?? item.username
  if (!username || !password) {
    throw new MigrationError('civo-no-login', `the Civo API returned no login for database "${name}"`, {
      facts: { name }
    })
  }
  const endpoint: CivoEndpoint = {
    input: options.input,
    host,
    port: user?.port || item.port || 5432,
    user: username,
    password,
    database: options.targetDatabase ?? 'postgres',
    sslmode: 'require',
    sslFiles: {},
    connectTimeout: options.connectTimeout,
    civo: { id: item.id ?? name, name, region: civo.region, firewallId: item.firewall_id || undefined, created }
  }
  log.info(
    `Civo database "${name}" (${endpoint.civo.id}) in ${civo.region}, PostgreSQL ${item.software_version ?? '?'} at ${host}:${endpoint.port}`
  )
  return endpoint
}

function pickDatabase(civo: CivoTarget, items: CivoDatabaseItem[]): CivoDatabaseItem {
  const wanted = civo.database
  const byId = items.find((item) => item.id === wanted)
  if (byId) return byId
  let byName = items.filter((item) => item.name === wanted)
  if (byName.length === 0) byName = items.filter((item) => item.name?.toLowerCase() === wanted.toLowerCase())
  if (byName.length === 1) return byName[0]
  if (byName.length > 1) {
    throw new MigrationError(
      'civo-ambiguous',
      `${byName.length} Civo databases in ${civo.region} are named "${wanted}" (ids ${byName.map((item) => item.id).join(', ')})`
    )
  }
  const names = items.map((item) => item.name ?? item.id).filter(Boolean)
  throw new MigrationError(
    'civo-not-found',
    `no Civo database "${wanted}" in ${civo.region}${names.length > 0 ? ` (found: ${names.join(', ')})` : ' (the region has none)'}`
  )
}

/** What Civo offers, for the log and the downgrade hint; an API without the list is no reason to stop. */
async function offeredVersions(civo: CivoTarget, timeoutSeconds: number, log: Log): Promise<CivoVersions | undefined> {
  try {
    const versions = await postgresVersions(civo, timeoutSeconds)
    log.info(
      `Civo offers PostgreSQL ${versions.offered.join(', ')}${versions.default ? ` (default ${versions.default})` : ''}`
    )
    return versions
  } catch (error) {
    log.info(`could not list the PostgreSQL versions Civo offers: ${(error as Error).message}`)
    return undefined
  }
}

function checkDatabase(
  item: CivoDatabaseItem,
  name: string,
  sourceMajor: number | undefined,
  versions: CivoVersions | undefined
): void {
  if (item.status?.toLowerCase() !== 'ready') {
    throw new MigrationError(
      'civo-not-ready',
      `Civo database "${name}" is ${item.status ?? 'in an unknown state'}, not Ready`,
      {
        hint: `wait until it is Ready (civo database show ${name}) and run again`
      }
    )
  }
  if (!/postgres/i.test(item.software ?? '')) {
    throw new MigrationError(
      'civo-not-postgres',
      `Civo database "${name}" runs ${item.software ?? 'unknown software'}, not PostgreSQL`
    )
  }
  const major = majorOf(item.software_version)
  if (sourceMajor !== undefined && Number.isInteger(major) && major < sourceMajor) {
    const newer = versions?.offered.filter((version) => majorOf(version) >= sourceMajor) ?? []
    throw new MigrationError(
      'downgrade',
      `Civo database "${name}" runs PostgreSQL ${item.software_version}, older than the source's ${sourceMajor}: a downgrade`,
      {
        hint: `create a Civo database with PostgreSQL ${sourceMajor} or newer${newer.length > 0 ? ` (Civo offers ${newer.join(', ')})` : ''}`
      }
    )
  }
}

/** The Civo CLI line that admits an address to the database's port, for a person to run. */
export function civoFirewallCommand(ref: CivoDatabaseRef, port = 5432): string {
  return `civo firewall rule create ${ref.firewallId ?? '<firewall>'} --startport ${port} --cidr <runner ip>/32 --region ${ref.region}`
}

/** Whether an endpoint came from resolveCivoTarget. */
export function isCivoEndpoint(endpoint: Endpoint | undefined): endpoint is CivoEndpoint {
  return Boolean(endpoint && (endpoint as Partial<CivoEndpoint>).civo)
}
