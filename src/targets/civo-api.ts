import { MigrationError } from '../base/errors.js'

/** The Civo API coordinates that resolve the target (from the civo-* inputs). */
export interface CivoTarget {
  apiKey: string
  database: string
  region: string
  /** An absolute https URL (http only on loopback: the key must never travel in clear). */
  apiUrl: string
}

export type CivoMethod = 'GET' | 'POST' | 'DELETE'

/** Options of one API call. */
export interface CivoCall {
  body?: Record<string, unknown>
  timeoutSeconds?: number
  /** A 404 answers undefined (a DELETE of what is already gone). */
  notFoundIsFine?: boolean
  /** What a 403 means for this call; default: the key is refused. */
  onForbidden?: (status: number, reason: string) => MigrationError
}

/**
 * One call to the Civo API: the key as a bearer token, the region as a query parameter (as Civo's own
 * client sends it on every call), JSON both ways. Errors are one line and never repeat the key,
 * even when the server echoes it.
 */
export async function civoRequest(
  civo: CivoTarget,
  method: CivoMethod,
  pathAndQuery: string,
  call: CivoCall = {}
): Promise<unknown> {
  const base = new URL(civo.apiUrl)
  const separator = pathAndQuery.includes('?') ? '&' : '?'
  const withRegion = /[?&]region=/.test(pathAndQuery)
    ? pathAndQuery
    : `${pathAndQuery}${separator}region=${encodeURIComponent(civo.region)}`
  const url = `${base.origin}${base.pathname.replace(/\/+$/, '')}${withRegion}`
  const where = `${method} ${pathAndQuery}`
  let response: Response
  try {
    response = await fetch(url, {
      method,
      headers: {
        Authorization: `bearer ${civo.apiKey}`,
        Accept: 'application/json',
        ...(call.body ? { 'Content-Type': 'application/json' } : {})
      },
      body: call.body ? JSON.stringify({ region: civo.region, ...call.body }) : undefined,
      signal: AbortSignal.timeout(Math.max(call.timeoutSeconds ?? 10, 5) * 1000)
    })
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name
    throw new MigrationError('civo-unreachable', `could not reach the Civo API at ${base.origin} (${cause})`)
  }
  const text = scrub(await response.text(), civo.apiKey)
  if (response.status === 404 && call.notFoundIsFine) return undefined
  if (response.status === 403 && call.onForbidden) throw call.onForbidden(403, civoReason(text))
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
  if (text.trim() === '') return undefined
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
    .map((value) => value.slice(0, 300).replace(/[\r\n]+/g, ' '))
  return parts.length > 0 ? `: ${parts.join(': ')}` : ''
}

/** A server must never be able to make us print the key, even by echoing it. */
function scrub(text: string, secret: string): string {
  return secret ? text.split(secret).join('***') : text
}

/** Whether a URL may carry a secret: https anywhere, plain http only to this machine. */
export function isSafeApiUrl(raw: string): boolean {
  if (!URL.canParse(raw)) return false
  const url = new URL(raw)
  if (url.protocol === 'https:') return true
  return url.protocol === 'http:' && isLoopback(url.hostname)
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}

/** One database as `GET /v2/databases` lists it; only the fields this action reads. */
export interface CivoDatabaseItem {
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

/** More pages than any account has databases: a guard against a server that never stops paging. */
const MAX_PAGES = 100

/** Every database of the region, page by page. */
export async function listDatabases(civo: CivoTarget, timeoutSeconds: number): Promise<CivoDatabaseItem[]> {
  const items: CivoDatabaseItem[] = []
  let pages = 1
  for (let page = 1; page <= pages && page <= MAX_PAGES; page++) {
    const body = await civoRequest(
      civo,
      'GET',
      `/v2/databases?region=${encodeURIComponent(civo.region)}&page=${page}`,
      { timeoutSeconds }
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

/** The PostgreSQL versions Civo offers (`GET /v2/databases/versions`), newest first. */
export interface CivoVersions {
  offered: string[]
  /** The one Civo marks as its default, when it marks one. */
  default?: string
}

/** Asks Civo which PostgreSQL versions it offers: `{<software>: [{software_version, default}]}`. */
export async function postgresVersions(civo: CivoTarget, timeoutSeconds: number): Promise<CivoVersions> {
  const body = await civoRequest(civo, 'GET', '/v2/databases/versions', { timeoutSeconds })
  const entries = body && typeof body === 'object' ? Object.entries(body as Record<string, unknown>) : []
  const listed = entries.find(([software]) => /postgres/i.test(software))?.[1]
  if (!Array.isArray(listed)) {
    throw new MigrationError('civo-http', 'the Civo API lists no PostgreSQL versions (GET /v2/databases/versions)', {
      facts: { region: civo.region }
    })
  }
  const versions = listed.filter(
    (entry): entry is { software_version: string; default?: boolean } =>
      Boolean(entry) && typeof (entry as { software_version?: unknown }).software_version === 'string'
  )
  const offered = versions.map((entry) => entry.software_version).sort((a, b) => majorOf(b) - majorOf(a))
  return { offered, default: versions.find((entry) => entry.default)?.software_version }
}

/** The major of a Civo software_version such as "17" or "16.4"; NaN when it has none. */
export function majorOf(version: string | undefined): number {
  return Number.parseInt(version ?? '', 10)
}
