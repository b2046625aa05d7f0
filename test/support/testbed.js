// What an integration test sees of the shared servers: URLs and small helpers to make databases.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { runAction } from './run-action.js'
import { serverUrl, withClient } from './servers.js'

export const STATE_ENV = 'PG_MIGRATE_TESTBED_STATE'

/**
 * @typedef {import('./servers.js').ServerInfo} ServerInfo
 * @typedef {{ baseDir: string, source: ServerInfo, target: ServerInfo, clientTemplate: string, clientBinDir: string }} TestbedState
 */

/** @returns {TestbedState} */
export function loadTestbedState() {
  const file = process.env[STATE_ENV]
  if (!file || !fs.existsSync(file)) {
    throw new Error(`no test bed: ${STATE_ENV} is unset; run integration tests through npm test`)
  }
  return JSON.parse(fs.readFileSync(file, 'utf8'))
}

/** A database name no other test uses. @param {string} prefix */
export function uniqueName(prefix) {
  return `${prefix}_${randomBytes(4).toString('hex')}`
}

/** @param {string} value */
export function quoteLiteral(value) {
  return "'" + value.replaceAll("'", "''") + "'"
}

/** @param {string} name */
export function quoteIdent(name) {
  return '"' + name.replaceAll('"', '""') + '"'
}

export function loadTestbed() {
  const state = loadTestbedState()
  const { source, target } = state
  const admin = target.admin
  if (!admin) throw new Error('the target server has no managed-style admin')
  return {
    ...state,
    /** @param {string} database */
    sourceUrl: (database) => serverUrl(source, database),
    /** The managed-style admin's URL: what the action gets as target-url. @param {string} database */
    targetUrl: (database) => serverUrl(target, database, admin),
    /** The target's superuser: for tests that inspect or tamper, never for the action. @param {string} database */
    targetSuperUrl: (database) => serverUrl(target, database),
    /**
     * Creates a database on the source and runs setup SQL in it.
     * @param {string} name @param {string} [sql]
     */
    async createSourceDatabase(name, sql) {
      await withClient(serverUrl(source, 'postgres'), (client) => client.query(`CREATE DATABASE ${quoteIdent(name)}`))
      if (sql) await withClient(serverUrl(source, name), (client) => client.query(sql))
    },
    /** An empty target database owned by the managed admin, as a hosted provider creates it. @param {string} name */
    async createTargetDatabase(name) {
      await withClient(serverUrl(target, 'postgres', admin), (client) =>
        client.query(`CREATE DATABASE ${quoteIdent(name)}`)
      )
    },
    /**
     * The action's inputs for a migration between two test databases as the managed admin.
     * @param {string} source @param {string} target @param {Record<string, string>} [extra]
     * @returns {Record<string, string>}
     */
    actionInputs: (source, target, extra = {}) => ({
      'source-url': serverUrl(state.source, source),
      'target-url': serverUrl(state.target, target, admin),
      'client-download-url': state.clientTemplate,
      jobs: '2',
      ...extra
    }),
    /**
     * Runs the action with the test bed's client download, one tool cache (so the client is fetched
     * and checked once per file, not per run), no artifact upload, and the rows through the dump.
     * @param {string} toolCache
     * @returns {(inputs: Record<string, string>, options?: Parameters<typeof runAction>[1]) => ReturnType<typeof runAction>}
     */
    runner:
      (toolCache) =>
      (inputs, options = {}) =>
        runAction(
          // The dump path, which these runs were written against: without an artifact, auto would stream.
          {
            'client-download-url': state.clientTemplate,
            jobs: '2',
            'upload-artifact': 'false',
            'copy-method': 'dump',
            ...inputs
          },
          { toolCache, ...options }
        ),
    /** @param {'source' | 'target'} side @param {string} database @param {string} sql */
    async query(side, database, sql) {
      const url = side === 'source' ? serverUrl(source, database) : serverUrl(target, database)
      return withClient(url, (client) => client.query(sql))
    }
  }
}

export { withClient }

/**
 * A test's own check, independent of the product's fingerprint: every table's rows as sorted text,
 * hashed, under the same pinned settings on both sides.
 * @param {string} url @returns {Promise<Record<string, string>>}
 */
export async function tableDigests(url) {
  return withClient(url, async (client) => {
    await client.query(
      "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET IntervalStyle = postgres"
    )
    const { rows: tables } = await client.query(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        ORDER BY 1, 2`
    )
    /** @type {Record<string, string>} */
    const digests = {}
    for (const { schema, name } of tables) {
      const { rows } = await client.query(
        `SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest, count(*) AS n FROM ${quoteIdent(schema)}.${quoteIdent(name)} t`
      )
      digests[`${schema}.${name}`] = `${rows[0].n}:${rows[0].digest}`
    }
    return digests
  })
}
