// The oracle for the plan's claims: a real pg_dump 17 of a source database, restored by the real
// pg_restore 17 as the target's managed-style admin with the action's options, every error kept
// (no --exit-on-error), each with the TOC entry it came from.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { serverUrl, withClient } from './servers.js'
import { loadTestbedState, quoteIdent, uniqueName } from './testbed.js'

/**
 * The entries the action leaves out of a restore by a login that is not a superuser (restore.ts,
 * SUPERUSER_ONLY); the plan warns of them instead.
 */
const LEFT_OUT = /^\d+; \d+ \d+ (EVENT TRIGGER|SUBSCRIPTION|COMMENT - EXTENSION|PUBLICATION TABLE|PUBLICATION) /

/**
 * @param {string} program @param {string[]} args @param {Record<string, string>} env
 * @returns {Promise<{ code: number | null, stderr: string }>}
 */
function run(program, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

/** Connection settings for a client program; the password travels in the environment, never argv. */
function clientEnv(
  /** @type {import('./servers.js').ServerInfo} */ server,
  /** @type {{user: string, password: string}} */ login
) {
  return { PGHOST: server.host, PGPORT: String(server.port), PGUSER: login.user, PGPASSWORD: login.password }
}

/**
 * @typedef {{ entry: string, error: string }} RestoreFailure
 * `entry` is the TOC entry's description and tag (`FUNCTION leaky(text)`, `TABLE DATA public t`).
 */

/**
 * pg_restore's errors, each with the TOC entry it names ("from TOC entry 215; 1255 16390 FUNCTION
 * leaky(text) postgres"), the owner left off.
 * @param {string} stderr @returns {RestoreFailure[]}
 */
export function restoreFailures(stderr) {
  /** @type {RestoreFailure[]} */
  const failures = []
  let entry = ''
  for (const line of stderr.split('\n')) {
    const from = /^pg_restore: from TOC entry \d+; \d+ \d+ (.*?) (?:\(no owner\)|\S+)$/.exec(line)
    if (from) entry = from[1]
    const error = /^pg_restore: error: (?:could not execute query: )?(.*)$/.exec(line)
    if (error) failures.push({ entry, error: error[1] })
    if (error) entry = ''
  }
  return failures
}

/**
 * Dumps `sourceDb` from the 14 source with the test bed's pg_dump 17 and restores it as the admin
 * into `targetDb` on the 17 target (by default a new database the admin creates), as the action
 * does with privileges: skip (--no-owner --no-acl --no-tablespaces).
 * @param {string} sourceDb
 * @param {string} [existingTargetDb]
 * @returns {Promise<{ targetDb: string, failures: RestoreFailure[] }>}
 */
export async function restoreAsAdmin(sourceDb, existingTargetDb) {
  const { source, target, clientBinDir } = loadTestbedState()
  const admin = target.admin
  if (!admin) throw new Error('the target has no managed-style admin')
  const targetDb = existingTargetDb ?? uniqueName('restored')
  if (!existingTargetDb)
    await withClient(serverUrl(target, 'postgres', admin), (c) => c.query(`CREATE DATABASE ${quoteIdent(targetDb)}`))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-oracle-'))
  try {
    const dumpDir = path.join(dir, 'dump')
    const dump = await run(
      path.join(clientBinDir, 'pg_dump'),
      ['--format=directory', `--file=${dumpDir}`, `--dbname=${sourceDb}`],
      clientEnv(source, source.superuser)
    )
    if (dump.code !== 0) throw new Error(`pg_dump failed: ${dump.stderr}`)
    const listFile = path.join(dir, 'list')
    const list = await run(path.join(clientBinDir, 'pg_restore'), ['--list', `--file=${listFile}`, dumpDir], {})
    if (list.code !== 0) throw new Error(`pg_restore --list failed: ${list.stderr}`)
    const entries = fs.readFileSync(listFile, 'utf8').split('\n')
    fs.writeFileSync(listFile, entries.filter((line) => !LEFT_OUT.test(line)).join('\n'))
    const restore = await run(
      path.join(clientBinDir, 'pg_restore'),
      // --verbose: only then does pg_restore name the TOC entry of each error.
      [
        '--no-owner',
        '--no-acl',
        '--no-tablespaces',
        '--verbose',
        `--use-list=${listFile}`,
        `--dbname=${targetDb}`,
        dumpDir
      ],
      clientEnv(target, admin)
    )
    return { targetDb, failures: restoreFailures(restore.stderr) }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
