// The mark a run leaves in its target database while it writes there: which dump it loads. A run
// that ends early leaves it behind, so the next run can resume from the same dump; a run that
// passes removes it. It lives in a schema of its own, which the verify does not compare.
import type pg from 'pg'
import { quoteIdent, quoteLiteral, RUN_SCHEMA } from './sql.js'

export { RUN_SCHEMA }

export interface RunMarker {
  /** The run id the dump's manifest carries. */
  runId: string
  /** The source database the dump is of. */
  database: string
  /** When the run began writing to this target, in the server's words. */
  startedAt: string
  /** The filters it ran with, as JSON of the patterns ('{}' without). */
  scope: string
}

const TABLE = `${quoteIdent(RUN_SCHEMA)}.run`

/** The marker in the connected database, if any. */
export async function readRunMarker(client: pg.Client): Promise<RunMarker | undefined> {
  const { rows: exists } = await client.query(
    `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = 'run'`,
    [RUN_SCHEMA]
  )
  if (exists.length === 0) return undefined
  const { rows } = await client.query<RunMarker>(
    `SELECT run_id AS "runId", database, started_at::text AS "startedAt", scope FROM ${TABLE} LIMIT 1`
  )
  return rows[0]
}

/** Marks the connected database as being loaded from this run's dump (replacing an earlier mark). */
export async function writeRunMarker(client: pg.Client, marker: Omit<RunMarker, 'startedAt'>): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(RUN_SCHEMA)}`)
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (run_id text NOT NULL, database text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), scope text NOT NULL)`
  )
  await client.query(
    `DELETE FROM ${TABLE}; INSERT INTO ${TABLE} (run_id, database, scope) VALUES (${quoteLiteral(marker.runId)}, ${quoteLiteral(marker.database)}, ${quoteLiteral(marker.scope)})`
  )
}

/**
 * Removes the marker: the run passed, and the target holds a whole, verified copy. The database's
 * own settings are in force by now (they were carried after the restore): one may make every
 * transaction read only, so this one says otherwise.
 */
export async function dropRunMarker(client: pg.Client): Promise<void> {
  await client.query('BEGIN READ WRITE')
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(RUN_SCHEMA)} CASCADE`)
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}
