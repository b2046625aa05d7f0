// A PostgreSQL 17 that stands in for a Civo database: TLS on (Civo serves TLS only, the action asks for
// sslmode=require), and a firewall made real with pg_hba.conf — the managed login is admitted only
// while a Civo firewall rule of the API double covers the runner's address and the database port.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { ruleAdmits } from './civo-api.js'
import { startServer } from './servers.js'

/** @typedef {import('./servers.js').ServerInfo} ServerInfo */

/**
 * A throwaway self-signed certificate, ssl = on, and a wait until a TLS handshake succeeds.
 * @param {string} baseDir
 * @param {string} [name]
 * @returns {Promise<ServerInfo>}
 */
export async function startTlsServer(baseDir, name = 'pg17-tls') {
  const server = await startServer({ major: 17, baseDir, name, target: true })
  const { uid, gid } = fs.statSync(server.dataDir)
  const key = path.join(server.dataDir, 'server.key')
  const crt = path.join(server.dataDir, 'server.crt')
  execFileSync(
    'openssl',
    [
      ...'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2'.split(' '),
      ...['-subj', '/CN=127.0.0.1', '-keyout', key, '-out', crt]
    ],
    { stdio: 'pipe' }
  )
  for (const file of [key, crt]) {
    fs.chmodSync(file, 0o600)
    if (process.getuid?.() === 0) fs.chownSync(file, uid, gid)
  }
  await asSuperuser(server, async (client) => {
    await client.query('ALTER SYSTEM SET ssl = on')
    await client.query('SELECT pg_reload_conf()')
  })
  // The reload is asynchronous: wait until a TLS handshake succeeds.
  await until(() => canLogIn(server, server.superuser), true)
  return server
}

/**
 * Makes the server's firewall follow the double's rules: returns the double's onRulesChange. The
 * superuser keeps its way in (the test and the double need it); every other login needs a rule that
 * admits `address` to the server's port. Nothing is admitted until the first change.
 * @param {ServerInfo} server
 * @param {string} address the address the double's IP echo answers
 */
export async function firewallLogins(server, address) {
  const apply = async (/** @type {boolean} */ admitted) => {
    const lines = [
      'local all all scram-sha-256',
      `host all ${server.superuser.user} 127.0.0.1/32 scram-sha-256`,
      ...(admitted ? ['host all all 127.0.0.1/32 scram-sha-256'] : [])
    ]
    // Written in place: the file keeps its owner, the server's user.
    fs.writeFileSync(path.join(server.dataDir, 'pg_hba.conf'), lines.join('\n') + '\n')
    await asSuperuser(server, (client) => client.query('SELECT pg_reload_conf()'))
    // Answer only once the server applies it, as a firewall that has applied the rule.
    await until(() => canLogIn(server, /** @type {import('./servers.js').Login} */ (server.admin)), admitted)
  }
  await apply(false)
  return {
    /** @param {string} _firewallId @param {import('./civo-api.js').CivoRule[]} rules */
    onRulesChange: (_firewallId, rules) => apply(rules.some((rule) => ruleAdmits(rule, address, server.port))),
    /** Whether the managed login gets in now. */
    admitted: () => canLogIn(server, /** @type {import('./servers.js').Login} */ (server.admin))
  }
}

/** @template T @param {ServerInfo} server @param {(client: pg.Client) => Promise<T>} work */
async function asSuperuser(server, work) {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.superuser.user,
    password: server.superuser.password,
    database: 'postgres'
  })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** @param {ServerInfo} server @param {import('./servers.js').Login} login */
async function canLogIn(server, login) {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    ...login,
    database: 'postgres',
    ssl: { rejectUnauthorized: false }
  })
  try {
    await client.connect()
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** @param {() => Promise<boolean>} check @param {boolean} wanted */
async function until(check, wanted) {
  for (let attempt = 0; attempt < 100; attempt++) {
    if ((await check()) === wanted) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`the server's logins did not become ${wanted ? 'admitted' : 'refused'} within 5 s`)
}
