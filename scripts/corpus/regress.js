// Builds PostgreSQL's regression database the way pg_regress does: a fresh database from template0
// with lc_* 'C', then every test of parallel_schedule, one after the other, through psql. Errors are
// part of the suite (many tests check that something fails) and are only counted.
import fs from 'node:fs'
import path from 'node:path'
import { serverIdentity, serverUrl, withClient } from '../../test/support/servers.js'
import { libpqEnv, run } from './tools.js'

export const REGRESSION_DB = 'regression'

/** The slowest test of the suite takes seconds; this is only there so no test can hang the build. */
const TEST_TIMEOUT_MS = 120_000

/** Tests of parallel_schedule in order ("test: a b c" lines; "ignore:" lines name no test). */
export function scheduledTests(regressDir) {
  return fs
    .readFileSync(path.join(regressDir, 'parallel_schedule'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('test:'))
    .flatMap((line) => line.slice('test:'.length).trim().split(/\s+/))
}

/**
 * Roles, tablespaces and databases an earlier build left behind: the suite creates them cluster-wide
 * and some of its tests fail differently when they exist already.
 * @param {import('../../test/support/servers.js').ServerInfo} server
 */
export async function dropLeftovers(server) {
  const url = serverUrl(server, 'postgres')
  const databases = await withClient(url, async (client) => {
    const { rows } = await client.query(
      `SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE 'regression\\_%' OR datname LIKE 'regress\\_%'`,
      [REGRESSION_DB]
    )
    for (const { datname } of rows) await client.query(`DROP DATABASE ${ident(datname)}`)
    return (await client.query('SELECT datname FROM pg_database WHERE datallowconn')).rows.map((r) => r.datname)
  })
  const roles = await withClient(url, async (client) =>
    (await client.query(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'regress\\_%'`)).rows.map((r) => r.rolname)
  )
  if (roles.length > 0) {
    for (const database of databases) {
      await withClient(serverUrl(server, database), (client) =>
        client.query(`DROP OWNED BY ${roles.map(ident).join(', ')} CASCADE`)
      )
    }
  }
  await withClient(url, async (client) => {
    for (const role of roles) await client.query(`DROP ROLE ${ident(role)}`)
    const { rows } = await client.query(`SELECT spcname FROM pg_tablespace WHERE spcname LIKE 'regress\\_%'`)
    for (const { spcname } of rows) await client.query(`DROP TABLESPACE ${ident(spcname)}`)
  })
}

/**
 * @param {{ server: import('../../test/support/servers.js').ServerInfo, regressDir: string, workDir: string,
 *   psql: string, passfile: string, log?: (line: string) => void }} options
 * @returns {Promise<{ tests: number, testsWithErrors: number, errors: number, timedOut: string[] }>}
 */
export async function buildRegressionDatabase({ server, regressDir, workDir, psql, passfile, log = () => {} }) {
  await dropLeftovers(server)
  // The server reads data/ (COPY FROM) and writes results/ (COPY TO) as its own OS user: both live
  // in the work folder, which that user can enter, not in the checkout.
  const srcDir = path.join(workDir, 'src')
  const buildDir = path.join(workDir, 'build')
  const resultsDir = path.join(buildDir, 'results')
  const outDir = path.join(workDir, 'out')
  fs.rmSync(workDir, { recursive: true, force: true })
  fs.mkdirSync(resultsDir, { recursive: true })
  fs.mkdirSync(outDir, { recursive: true })
  fs.cpSync(regressDir, srcDir, { recursive: true })
  const identity = serverIdentity()
  if (identity) {
    for (const dir of [workDir, buildDir]) fs.chmodSync(dir, 0o755)
    fs.chownSync(resultsDir, identity.uid, identity.gid)
  }
  await withClient(serverUrl(server, 'postgres'), async (client) => {
    await client.query(`CREATE DATABASE ${REGRESSION_DB} TEMPLATE template0`)
    for (const [setting, value] of [
      ['lc_messages', 'C'],
      ['lc_monetary', 'C'],
      ['lc_numeric', 'C'],
      ['lc_time', 'C'],
      ['bytea_output', 'hex'],
      ['timezone_abbreviations', 'Default']
    ])
      await client.query(`ALTER DATABASE ${REGRESSION_DB} SET ${setting} TO '${value}'`)
  })
  // pg_regress's environment (initialize_environment in pg_regress.c); the library folder has no
  // regress.so, so only the tests' C functions fail.
  const env = {
    ...libpqEnv(server, server.superuser.user, passfile),
    PGAPPNAME: 'pg_regress',
    PG_ABS_SRCDIR: srcDir,
    PG_ABS_BUILDDIR: buildDir,
    PG_LIBDIR: path.join(workDir, 'no-libdir'),
    PG_DLSUFFIX: '.so',
    LC_MESSAGES: 'C',
    LANG: 'C',
    LC_ALL: '',
    PGTZ: 'America/Los_Angeles',
    PGDATESTYLE: 'Postgres, MDY',
    PGOPTIONS: '-c intervalstyle=postgres_verbose'
  }
  const tests = scheduledTests(regressDir)
  let errors = 0
  let testsWithErrors = 0
  /** @type {string[]} */
  const timedOut = []
  for (const [index, test] of tests.entries()) {
    const sqlFile = path.join(srcDir, 'sql', `${test}.sql`)
    const outFile = path.join(outDir, `${test}.out`)
    if (!fs.existsSync(sqlFile)) {
      log(`  ${test}: no sql/${test}.sql, skipped`)
      continue
    }
    // A test written for a newer psql can wait forever (an unknown command before \watch): cut it off.
    const { timedOut: cut } = await run(psql, ['-X', '-a', '-q', '-d', REGRESSION_DB], {
      env,
      stdinFile: sqlFile,
      outFile,
      cwd: srcDir,
      timeoutMs: TEST_TIMEOUT_MS
    })
    if (cut) {
      timedOut.push(test)
      log(`  ${test}: stopped after ${TEST_TIMEOUT_MS / 1000} s`)
    }
    const found = (fs.readFileSync(outFile, 'utf8').match(/^(psql:\S+ )?ERROR: /gm) ?? []).length
    errors += found
    if (found > 0) testsWithErrors++
    if ((index + 1) % 25 === 0) log(`  ${index + 1}/${tests.length} tests run (${test})`)
  }
  return { tests: tests.length, testsWithErrors, errors, timedOut }
}

/** @param {string} name */
export function ident(name) {
  return '"' + name.replaceAll('"', '""') + '"'
}
