import os from 'node:os'
import { parse } from 'pg-connection-string'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'

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

const refused = (message: string, hint: string): MigrationError => new MigrationError('input', message, { hint })

/**
 * Parses a postgresql:// URL with pg-connection-string. Errors never repeat the URL: it may hold a
 * password, which is masked in `log` as soon as it is known.
 */
export function parseDatabaseUrl(input: string, url: string, log: Log, connectTimeout = 10): Endpoint {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw refused(
      `${input} is not a postgresql:// URL`,
      `set ${input} to postgresql://user:password@host:5432/database (keep it in a secret)`
    )
  }
  refuseBadPort(input, url)
  let parsed: ReturnType<typeof parse>
  try {
    // libpq's meaning of sslmode, as pg_dump and pg_restore read the same URL.
    parsed = parse(url, { useLibpqCompat: true })
  } catch (error) {
    if (/verify-ca requires/.test((error as Error).message))
      throw refused(
        `${input} has sslmode=verify-ca without sslrootcert`,
        'add sslrootcert=<path of the CA certificate> to the URL, or use sslmode=verify-full'
      )
    throw refused(`${input} could not be parsed as a URL`, 'percent-encode special characters in the user and password')
  }
  if (parsed.password) log.mask(parsed.password)
  const sslmode = parsed.sslmode as string | undefined
  if (sslmode !== undefined && !(SSL_MODES as readonly string[]).includes(sslmode)) {
    throw refused(`${input} has an unknown sslmode "${sslmode}"`, `use one of ${SSL_MODES.join(', ')}`)
  }
  if (sslmode === 'disable')
    log.warning(
      `${input} has sslmode=disable: rows and checksums cross the network unencrypted; drop it to use TLS when the server offers it`
    )
  const database = databaseFromUrl(input, url)
  if (!database) throw refused(`${input} names no database`, `end the URL with the database name, e.g. …:5432/app`)
  if (!parsed.host || parsed.host.startsWith('/')) {
    throw refused(`${input} names no TCP host`, 'give the server host name or IP address')
  }
  const port = parsed.port ? Number(parsed.port) : 5432
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw refused(`${input} has an invalid port`, 'use a port between 1 and 65535')
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
 * A port the URL parser would refuse with a message about percent-encoding (it cannot tell a bad
 * port from a bad password): checked first, so the line names the port.
 */
function refuseBadPort(input: string, url: string): void {
  const [whole, authority] = /^postgres(?:ql)?:\/\/([^/?#]*)/.exec(url) ?? ['', '']
  // An @ further on means a password holding / ? or #: what looks like host:port is part of it,
  // and must not be echoed. The parser's own message fits that case.
  if (url.slice(whole.length).includes('@')) return
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1)
  // A bracketed IPv6 address holds colons of its own; a list of hosts is libpq's, not checked here.
  if (hostPort.includes(',')) return
  const port = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(hostPort)?.[1]
  if (port === undefined || port === '') return
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    throw refused(`${input} has an invalid port "${port}"`, 'use a port between 1 and 65535, e.g. host:5432')
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
    throw refused(
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
