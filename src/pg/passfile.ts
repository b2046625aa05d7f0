import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Endpoint } from './endpoint.js'

/** A libpq password file readable only by us, removed when the run ends. */
export class Passfile {
  readonly path: string
  private readonly lines = new Set<string>()

  constructor(dir: string = os.tmpdir()) {
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
