import type pg from 'pg'
import { fingerprintDatabaseSettings } from './database-settings.js'
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
  try {
    const [main] = sessions
    const serverVersion = await readServerVersion(main)
    const inventory = await readInventory(main)
    const sequences = options.sequences ?? (await fingerprintSequences(main))
    const largeObjects = await fingerprintLargeObjects(main, options.level)
    const tables = await fingerprintTables(sessions, options.level, options.onProgress, options)
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
      databaseSettings: await fingerprintDatabaseSettings(main)
    }
  } finally {
    await Promise.all(sessions.map(closeSession))
  }
}

async function readServerVersion(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ version: string }>(`SELECT current_setting('server_version') AS version`)
  return rows[0].version
}
