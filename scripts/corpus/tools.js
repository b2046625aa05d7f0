// The client tools the corpus runs itself (psql for the build; pg_dump and pg_restore for the ground
// truth), from the same client bundle the action downloads, and a passfile so no password is ever
// on a command line.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { CLIENT_BUNDLE_DIR } from '../../test/support/client-bundle-server.js'

/** The newest client bundle of one major in .testbed/client (scripts/build-client-bundle.sh makes the 17 one). */
export function clientBundleFile(major) {
  const found = clientBundles(major)
  if (found.length === 0) {
    throw new Error(`no PostgreSQL ${major} client bundle in ${CLIENT_BUNDLE_DIR}: run npm run testbed`)
  }
  return path.join(CLIENT_BUNDLE_DIR, found[0].name)
}

export function hasClientBundle(major) {
  return clientBundles(major).length > 0
}

function clientBundles(major) {
  const pattern = new RegExp(`^postgresql-${major}\\.(\\d+)\\.\\d+-x86_64-unknown-linux-gnu\\.tar\\.gz$`)
  return (fs.existsSync(CLIENT_BUNDLE_DIR) ? fs.readdirSync(CLIENT_BUNDLE_DIR) : [])
    .map((name) => ({ name, minor: Number(pattern.exec(name)?.[1] ?? -1) }))
    .filter((bundle) => bundle.minor >= 0)
    .sort((a, b) => b.minor - a.minor)
}

/**
 * Unpacks the bundle under baseDir and returns its bin folder.
 * @param {number} major @param {string} baseDir
 */
export function unpackClient(major, baseDir) {
  const dir = path.join(baseDir, `client-${major}`)
  fs.mkdirSync(dir, { recursive: true })
  execFileSync('tar', ['-xzf', clientBundleFile(major), '-C', dir, '--strip-components=1'])
  return path.join(dir, 'bin')
}

/**
 * A passfile for the given logins (host:port:*:user:password lines).
 * @param {string} file @param {{ host: string, port: number, user: string, password: string }[]} logins
 */
export function writePassfile(file, logins) {
  const escape = (value) => String(value).replace(/[\\:]/g, (c) => `\\${c}`)
  const lines = logins.map((l) => [l.host, l.port, '*', l.user, l.password].map(escape).join(':'))
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 })
}

/**
 * The libpq environment for one login: everything but the password, which comes from the passfile.
 * @param {import('../../test/support/servers.js').ServerInfo} server @param {string} user @param {string} passfile
 */
export function libpqEnv(server, user, passfile) {
  return { PGHOST: server.host, PGPORT: String(server.port), PGUSER: user, PGPASSFILE: passfile }
}

/**
 * Runs a program to its end; resolves with its exit code and output whatever the code.
 * @param {string} program @param {string[]} args
 * @param {{ env?: Record<string, string>, stdinFile?: string, outFile?: string, cwd?: string, timeoutMs?: number }} [options]
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, timedOut: boolean }>}
 */
export function run(program, args, options = {}) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...options.env }
    for (const key of ['PGDATABASE', 'PGSERVICE', 'PGSSLMODE', 'PGOPTIONS'])
      if (!options.env || !(key in options.env)) delete env[key]
    const stdin = options.stdinFile ? fs.openSync(options.stdinFile, 'r') : undefined
    const child = spawn(program, args, { env, cwd: options.cwd, stdio: [stdin ?? 'ignore', 'pipe', 'pipe'] })
    if (stdin !== undefined) fs.closeSync(stdin)
    let timedOut = false
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true
          child.kill('SIGKILL')
        }, options.timeoutMs)
      : undefined
    const out = options.outFile ? fs.createWriteStream(options.outFile) : undefined
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (out ? out.write(chunk) : (stdout += chunk)))
    child.stderr.on('data', (chunk) => (out ? out.write(chunk) : (stderr += chunk)))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (!out) return resolve({ code, stdout, stderr, timedOut })
      out.end(() => resolve({ code, stdout, stderr, timedOut }))
    })
  })
}

/** Like run, but a nonzero exit is an error carrying the end of the output. */
export async function runOk(program, args, options = {}) {
  const result = await run(program, args, options)
  if (result.code !== 0) {
    throw new Error(
      `${path.basename(program)} ${args.join(' ')} exited ${result.code}: ${(result.stdout + result.stderr).slice(-2000)}`
    )
  }
  return result
}
