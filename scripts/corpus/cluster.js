// The source server with the regression database: built once (about three minutes), then cached as a
// tarball of the stopped cluster's data directory, keyed by server major and suite version, so later
// runs start from it in seconds.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {
  REPO_ROOT,
  restartServer,
  serverIdentity,
  serverUrl,
  startServer,
  stopServer,
  withClient
} from '../../test/support/servers.js'
import { buildRegressionDatabase, REGRESSION_DB } from './regress.js'

export const CORPUS_DIR = path.join(REPO_ROOT, '.testbed', 'corpus')

/** The fetched suite of one major: its folder and upstream version (scripts/corpus/fetch-suite.sh). */
export function fetchSuite(suite) {
  const dir = path.join(CORPUS_DIR, `suite-${suite}`)
  if (!fs.existsSync(path.join(dir, 'VERSION'))) {
    execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'corpus', 'fetch-suite.sh'), String(suite)], {
      stdio: 'inherit'
    })
  }
  return { regressDir: path.join(dir, 'regress'), version: fs.readFileSync(path.join(dir, 'VERSION'), 'utf8').trim() }
}

/**
 * @typedef {{ buildSeconds: number, tests: number, testsWithErrors: number, errors: number }} BuildFacts
 * @typedef {{ server: import('../../test/support/servers.js').ServerInfo, cached: boolean, seconds: number,
 *   build: BuildFacts, cacheFile: string }} SourceCluster
 */

/**
 * Starts the source server holding the regression database, from the cache when there is one.
 * @param {{ major: number, suite: number, baseDir: string, rebuild: boolean, psql: string, psqlMajor: number,
 *   passfileFor: (server: import('../../test/support/servers.js').ServerInfo) => string,
 *   log: (line: string) => void }} options
 * @returns {Promise<SourceCluster>}
 */
export async function startSourceCluster({ major, suite, baseDir, rebuild, psql, psqlMajor, passfileFor, log }) {
  const started = performance.now()
  const { regressDir, version } = fetchSuite(suite)
  const cacheFile = path.join(CORPUS_DIR, `cluster-pg${major}-suite${version}.tar.zst`)
  const factsFile = cacheFile.replace(/\.tar\.zst$/, '.json')
  // Its own folder: a same-version run starts a target of this major beside it.
  const server = await startServer({ major, baseDir, name: `source-pg${major}` })
  const facts =
    fs.existsSync(cacheFile) && fs.existsSync(factsFile) ? JSON.parse(fs.readFileSync(factsFile, 'utf8')) : undefined
  // A build through an older psql than now available skipped what that psql could not run.
  if (!rebuild && facts && facts.build.psqlMajor === psqlMajor) {
    log(`source: regression database from the cache ${path.relative(REPO_ROOT, cacheFile)}`)
    await swapDataDirectory(server, cacheFile)
    server.superuser.password = facts.password
    return { server, cached: true, seconds: secondsSince(started), build: facts.build, cacheFile }
  }
  log(`source: building the regression database (suite ${version}) on PostgreSQL ${major}`)
  const buildStarted = performance.now()
  const result = await buildRegressionDatabase({
    server,
    regressDir,
    workDir: path.join(baseDir, 'regress-build'),
    psql,
    passfile: passfileFor(server),
    log
  })
  const build = { buildSeconds: secondsSince(buildStarted), psqlMajor, ...result }
  log(`source: built in ${build.buildSeconds} s (${result.tests} tests, ${result.errors} errors as the suite expects)`)
  await stopServer(server)
  fs.mkdirSync(CORPUS_DIR, { recursive: true })
  const partial = `${cacheFile}.partial`
  execFileSync('tar', ['-C', server.dataDir, '--zstd', '-cf', partial, '.'])
  fs.renameSync(partial, cacheFile)
  fs.writeFileSync(factsFile, JSON.stringify({ password: server.superuser.password, build }, null, 2) + '\n', {
    mode: 0o600
  })
  await restartServer(server)
  return { server, cached: false, seconds: secondsSince(started), build, cacheFile }
}

/**
 * Puts the cached data directory in place of the fresh one. pg_ctl restart on a stopped server starts
 * it with the options of its last start (postmaster.opts), which are the fresh server's: same port,
 * socket folder and settings.
 */
async function swapDataDirectory(server, cacheFile) {
  const opts = fs.readFileSync(path.join(server.dataDir, 'postmaster.opts'))
  await stopServer(server)
  fs.rmSync(server.dataDir, { recursive: true, force: true })
  fs.mkdirSync(server.dataDir, { mode: 0o700 })
  execFileSync('tar', ['-C', server.dataDir, '--zstd', '--no-same-owner', '-xf', cacheFile])
  fs.writeFileSync(path.join(server.dataDir, 'postmaster.opts'), opts)
  const identity = serverIdentity()
  if (identity) execFileSync('chown', ['-R', `${identity.uid}:${identity.gid}`, server.dataDir])
  await restartServer(server)
}

/** Size and relation count of the regression database. */
export async function regressionFacts(server) {
  return withClient(serverUrl(server, REGRESSION_DB), async (client) => {
    const { rows } = await client.query(
      `SELECT pg_database_size(current_database())::bigint AS bytes,
              (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%') AS relations,
              (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%') AS tables,
              current_setting('server_version') AS version`
    )
    return {
      bytes: Number(rows[0].bytes),
      relations: Number(rows[0].relations),
      tables: Number(rows[0].tables),
      version: rows[0].version
    }
  })
}

export function secondsSince(started) {
  return Math.round((performance.now() - started) / 100) / 10
}
