import type pg from 'pg'
import { scopeMoves, scopeSql } from '../../scope/sql.js'
import { fingerprintDatabaseSettings } from './settings-fingerprint.js'
import { readInventory } from './inventory.js'
import { fingerprintLargeObjects } from './large-objects.js'
import { runValidationQueries } from './queries.js'
import { fingerprintSequences } from './sequences.js'
import { closeSession, openSessions } from './session.js'
import { fingerprintTables } from './tables.js'
import type { Connect, Fingerprint, FingerprintOptions } from './types.js'

export type * from './types.js'
export { PINNED_SETTINGS } from './session.js'
export { displayName, showName } from './sql.js'
export { aclItems, sortAcl } from './inventory.js'
export { fingerprintSequences } from './sequences.js'

/**
 * Describes one database: its objects, every table's rows, sequences, large objects and the
 * results of the user's validation queries. Opens `jobs` read-only sessions (inside `snapshot` when
 * given) and closes them before returning.
 */
export async function fingerprintDatabase(connect: Connect, options: FingerprintOptions): Promise<Fingerprint> {
  const takenAt = new Date().toISOString()
  const sessions = await openSessions(connect, options.jobs, { snapshot: options.snapshot })
  const scope = scopeSql(options.scope)
  // Outside the whole database, large objects and the database's settings do not move (pg_dump).
  const whole = scope.global === 'true'
  try {
    const [main] = sessions
    const serverVersion = await readServerVersion(main)
    const inventory = options.inventory && whole ? options.inventory : await readInventory(main, scope)
    const moves = scopeMoves(options.scope)
    const sequences = options.sequences
      ? options.sequences.filter((s) => moves.data(s.schema, s.name))
      : await fingerprintSequences(main, scope)
    const largeObjects = whole ? await fingerprintLargeObjects(main, options.level) : { count: 0, checksum: null }
    const tables = await fingerprintTables(sessions, options.level, options.onProgress, { ...options, scope })
    const queries = await runValidationQueries(main, options.validationQueries, options.queryTimeoutMs)
    const snapshot = options.snapshot ? { snapshot: options.snapshot } : {}
    return {
      serverVersion,
      takenAt,
      ...snapshot,
      level: options.level,
      inventory,
      tables,
      sequences,
      largeObjects,
      queries,
      ...(whole ? { databaseSettings: await fingerprintDatabaseSettings(main) } : {}),
      ...(options.scope ? { scope: options.scope } : {})
    }
  } finally {
    await Promise.all(sessions.map(closeSession))
  }
}

async function readServerVersion(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ version: string }>(`SELECT current_setting('server_version') AS version`)
  return rows[0].version
}
