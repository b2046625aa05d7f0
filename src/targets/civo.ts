import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import type { Endpoint } from '../pg/endpoint.js'

/** The Civo API coordinates that resolve the target (from the civo-* inputs). */
export interface CivoTarget {
  apiKey: string
  database: string
  region: string
  /** An absolute http(s) URL. */
  apiUrl: string
}

/** One database as `GET /v2/databases` lists it; only the fields this action reads. */
interface CivoDatabaseItem {
  id?: string
  name?: string
  software?: string
  software_version?: string
  public_ipv4?: string
  /** Older API responses name the address public_ip. */
  public_ip?: string
  port?: number
  status?: string
  firewall_id?: string
  database_user_info?: { username?: string; password?: string; port?: number }[]
  /** Older API responses carry the login on the item itself. */
  username?: string
  password?: string
}

interface CivoPage {
  page?: number
  per_page?: number
  pages?: number
  items?: CivoDatabaseItem[]
}

/** Which Civo database an endpoint came from: for messages and the firewall hint. */
export interface CivoDatabaseRef {
  id: string
  name: string
  region: string
  firewallId?: string
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
}

/** More pages than any account has databases: a guard against a server that never stops paging. */
const MAX_PAGES = 100

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
  const items = await listDatabases(civo, Math.max(options.connectTimeout, 10))
  const item = pickDatabase(civo, items)
  const name = item.name ?? item.id ?? civo.database
  const user = item.database_user_info?.[0]
  const password = user?.password ?? item.password
  // Masked before anything else can print it.
  if (password) log.mask(password)
  checkDatabase(item, name, options.sourceMajor)

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
    civo: { id: item.id ?? name, name, region: civo.region, firewallId: item.firewall_id || undefined }
  }
  log.info(
    `Civo database "${name}" (${endpoint.civo.id}) in ${civo.region}, PostgreSQL ${item.software_version ?? '?'} at ${host}:${endpoint.port}`
  )
  return endpoint
}

/** Every database of the region, page by page. */
async function listDatabases(civo: CivoTarget, timeoutSeconds: number): Promise<CivoDatabaseItem[]> {
  const items: CivoDatabaseItem[] = []
  let pages = 1
  for (let page = 1; page <= pages && page <= MAX_PAGES; page++) {
    const body = await getJson(
      civo,
      `/v2/databases?region=${encodeURIComponent(civo.region)}&page=${page}`,
      timeoutSeconds
    )
    if (!body || typeof body !== 'object' || !Array.isArray((body as CivoPage).items)) {
      throw new MigrationError('civo-api-url', 'the Civo API answered GET /v2/databases without an items list')
    }
    const data = body as CivoPage
    items.push(...(data.items ?? []))
    pages = Number.isInteger(data.pages) ? (data.pages as number) : 1
  }
  return items
}

async function getJson(civo: CivoTarget, pathAndQuery: string, timeoutSeconds: number): Promise<unknown> {
  const base = new URL(civo.apiUrl)
  const url = `${base.origin}${base.pathname.replace(/\/+$/, '')}${pathAndQuery}`
  const where = `GET ${pathAndQuery}`
  let response: Response
  try {
    response = await fetch(url, {
      headers: { Authorization: `bearer ${civo.apiKey}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutSeconds * 1000)
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name
    throw new MigrationError('civo-unreachable', `could not reach the Civo API at ${base.origin} (${cause})`)
  }
  const text = scrub(await response.text(), civo.apiKey)
  if (response.status === 401 || response.status === 403) {
    throw new MigrationError(
      'civo-key-refused',
      `the Civo API refused the API key (HTTP ${response.status})${civoReason(text)}`
    )
  }
  if (!response.ok) {
    throw new MigrationError(
      'civo-http',
      `the Civo API answered HTTP ${response.status} to ${where}${civoReason(text)}`,
      { facts: { region: civo.region } }
    )
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new MigrationError('civo-api-url', `the Civo API answered ${where} with something that is not JSON`)
  }
}

/** Civo's error body: `{code, reason, details}` or `{result}`. Only these fields, and short. */
function civoReason(text: string): string {
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text)
  } catch {
    return ''
  }
  if (!body || typeof body !== 'object') return ''
  const parts = ['code', 'reason', 'result', 'details']
    .map((field) => body[field])
    .filter((value): value is string => typeof value === 'string' && value.length > 0)
    .map((value) => value.slice(0, 300))
  return parts.length > 0 ? `: ${parts.join(': ')}` : ''
}

/** A server must never be able to make us print the key, even by echoing it. */
function scrub(text: string, secret: string): string {
  return secret ? text.split(secret).join('***') : text
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

function checkDatabase(item: CivoDatabaseItem, name: string, sourceMajor: number | undefined): void {
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
  const major = Number.parseInt(item.software_version ?? '', 10)
  if (sourceMajor !== undefined && Number.isInteger(major) && major < sourceMajor) {
    throw new MigrationError(
      'downgrade',
      `Civo database "${name}" runs PostgreSQL ${item.software_version}, older than the source's ${sourceMajor}: a downgrade`,
      { hint: `create a Civo database with PostgreSQL ${sourceMajor} or newer` }
    )
  }
}

/**
 * What to do when a Civo target cannot be reached: its firewall admits only listed addresses, and a
 * hosted runner's address changes from run to run.
 */
export function civoFirewallHint(ref: CivoDatabaseRef, port = 5432): string {
  const firewall = ref.firewallId ?? '<firewall>'
  return (
    `the Civo database firewall must admit this runner's IP address: add it in the Civo dashboard (Databases → ${ref.name} → Firewall) ` +
    `or \`civo firewall rule create ${firewall} --startport ${port} --cidr <runner ip>/32 --region ${ref.region}\``
  )
}

/** Whether an endpoint came from resolveCivoTarget. */
export function isCivoEndpoint(endpoint: Endpoint | undefined): endpoint is CivoEndpoint {
  return Boolean(endpoint && (endpoint as Partial<CivoEndpoint>).civo)
}
