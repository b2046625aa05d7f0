import { createHash } from 'node:crypto'
import type pg from 'pg'
import { MigrationError } from '../../base/errors.js'
import type { QueryFingerprint } from './types.js'

export const DEFAULT_QUERY_TIMEOUT_MS = 300_000
/**
 * A validation query waiting on a lock waits on someone else's work, perhaps the action's own load:
 * it gives up after this rather than after the whole statement timeout.
 */
export const VALIDATION_LOCK_TIMEOUT_MS = 10_000

/** Every value as the server printed it: parsing into JS values could hide a difference (float, bigint). */
const RAW_TEXT = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig

/**
 * Runs the user's validation queries inside the read-only session, each in a savepoint with its own
 * timeout: a failing query is recorded and the next one still runs. The search path is the one the
 * user would get without our pin, since their SQL names tables the way they do in psql.
 */
export async function runValidationQueries(
  client: pg.Client,
  queries: string[],
  timeoutMs = DEFAULT_QUERY_TIMEOUT_MS
): Promise<QueryFingerprint[]> {
  const results: QueryFingerprint[] = []
  for (const sql of queries) {
    await client.query('SAVEPOINT validation_query')
    await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`)
    await client.query(`SET LOCAL lock_timeout = ${Math.min(VALIDATION_LOCK_TIMEOUT_MS, Math.max(1, timeoutMs))}`)
    await client.query('SET LOCAL search_path TO DEFAULT')
    results.push(await runOne(client, sql))
    // Rolling back to the savepoint also undoes the SET LOCALs, and an aborted query's state.
    await client.query('ROLLBACK TO SAVEPOINT validation_query').catch((error: Error) => {
      throw new MigrationError(
        'validation-query',
        `validation query ended the verification transaction: ${error.message}`,
        { hint: `validation queries must be single read-only statements; remove transaction control from: ${sql}` }
      )
    })
  }
  return results
}

async function runOne(client: pg.Client, sql: string): Promise<QueryFingerprint> {
  try {
    // The extended protocol takes exactly one statement: "SELECT 1; DELETE …" is refused outright.
    const config: pg.QueryArrayConfig & { queryMode: 'extended' } = {
      text: sql,
      rowMode: 'array',
      queryMode: 'extended',
      types: RAW_TEXT
    }
    const result = await client.query<(string | null)[]>(config)
    let checksum = 0n
    for (const row of result.rows) checksum += hashRow(row)
    return {
      sql,
      columns: (result.fields ?? []).map((field) => field.name),
      rowCount: result.rows.length,
      checksum: checksum.toString()
    }
  } catch (error) {
    return { sql, columns: [], rowCount: 0, checksum: '0', error: errorLine(error) }
  }
}

/**
 * The failure as the report keeps it: the message's first line, cut short. A message can quote the
 * value that failed (a cast of a file's contents, a secret column), and the report travels further
 * than the database does.
 */
function errorLine(error: unknown): string {
  const { code, message } = error as { code?: string; message: string }
  // Data exceptions (class 22) end with the offending value: "invalid input syntax for type integer: …".
  const first = code?.startsWith('22') ? message.split(/\n|: /)[0] : message.split('\n')[0]
  return first.length > 120 ? `${first.slice(0, 120)}…` : first
}

/** JSON keeps NULL apart from the string "null" and a value with a comma apart from two values. */
function hashRow(row: (string | null)[]): bigint {
  return createHash('sha256').update(JSON.stringify(row)).digest().readBigInt64BE(0)
}
