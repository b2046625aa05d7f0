// Loads one application's schema into a database of its own on the source, the way its installer
// does (psql, file after file, stopping at the first error), as a role that owns the database and
// what it creates, as an application's database is usually set up.
import path from 'node:path'
import { serverUrl, withClient } from '../../test/support/servers.js'
import { ident } from './regress.js'
import { libpqEnv, run } from './tools.js'

/** The database and owner role of an app on the source. */
export function appNames(app) {
  const base = app.name.replace(/[^a-z0-9]+/g, '_')
  return { database: `app_${base}`, owner: `app_${base}_owner` }
}

/**
 * @param {{ server: import('../../test/support/servers.js').ServerInfo, app: import('./apps-fetch.js').FetchedApp,
 *   psql: string, passfile: string }} options
 * @returns {Promise<{ database: string, owner: string, loaded: boolean, error?: string }>}
 */
export async function loadApp({ server, app, psql, passfile }) {
  const { database, owner } = appNames(app)
  await withClient(serverUrl(server, 'postgres'), async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${ident(database)}`)
    const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [owner])
    if (!rowCount) await client.query(`CREATE ROLE ${ident(owner)} NOLOGIN`)
    await client.query(`CREATE DATABASE ${ident(database)} OWNER ${ident(owner)} TEMPLATE template0 ENCODING 'UTF8'`)
  })
  // Objects a schema file creates in public belong to the owner too, as on 15 and later.
  await withClient(serverUrl(server, database), (client) =>
    client.query(`ALTER SCHEMA public OWNER TO ${ident(owner)}`)
  )
  const files = app.sqlFiles.flatMap((file) => ['-f', file])
  const before = (app.before ?? []).flatMap((sql) => ['-c', sql])
  const after = (app.after ?? []).flatMap((sql) => ['-c', sql])
  const { code, stdout, stderr } = await run(
    psql,
    [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      ...(app.singleTransaction ? ['--single-transaction'] : []),
      '-d',
      database,
      '-c',
      `SET ROLE ${ident(owner)}`,
      ...before,
      ...files,
      ...after
    ],
    {
      env: { ...libpqEnv(server, server.superuser.user, passfile), PGOPTIONS: '-c client_min_messages=error' },
      cwd: path.dirname(app.sqlFiles[0])
    }
  )
  if (code === 0) return { database, owner, loaded: true }
  const error = (stderr || stdout).trim().split('\n').slice(0, 4).join(' ')
  return { database, owner, loaded: false, error }
}
