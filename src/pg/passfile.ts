import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Endpoint } from './endpoint.js'

/** Its folder's name holds the pid of the run that made it, so a later run can tell a dead run's. */
const FOLDER_PREFIX = 'pg-migrate-pass-'

/**
 * A libpq password file readable only by us, removed when the run ends. A run killed outright
 * (SIGKILL, a lost runner) cannot remove it: the next run in the same folder does, on start.
 */
export class Passfile {
  readonly path: string
  private readonly lines = new Set<string>()

  constructor(dir: string = os.tmpdir()) {
    removeStalePassfiles(dir)
    const folder = fs.mkdtempSync(path.join(dir, `${FOLDER_PREFIX}${process.pid}-`))
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

/** Removes the passfile folders in `dir` whose run is gone; a live run's (tests run several at once) stays. */
export function removeStalePassfiles(dir: string): void {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    const pid = new RegExp(`^${FOLDER_PREFIX}(\\d+)-`).exec(name)?.[1]
    if (pid !== undefined && !processAlive(Number(pid)))
      fs.rmSync(path.join(dir, name), { recursive: true, force: true })
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: alive, someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
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
