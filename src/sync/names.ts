import { randomBytes } from 'node:crypto'

/**
 * Every replication slot and publication a sync creates starts with this: a later plan finds what
 * a killed run left behind (a slot holds WAL on the source until it is dropped) by this prefix.
 */
export const SYNC_PREFIX = 'pg_migrate_'

/** The SQL pattern that matches the prefix, its underscores taken literally. */
export const SYNC_PREFIX_PATTERN = 'pg\\_migrate\\_%'

/**
 * The name of one database's slot and publication: the prefix, the workflow run id (so the user can
 * tell which run left it) and a few random characters (so two jobs of one run never collide).
 * Slot names allow lower-case letters, digits and underscores, up to 63 characters.
 */
export function syncObjectName(runId: string | undefined): string {
  const run =
    (runId ?? '')
      .replace(/[^0-9a-z]/gi, '')
      .toLowerCase()
      .slice(0, 20) || 'local'
  return `${SYNC_PREFIX}${run}_${randomBytes(3).toString('hex')}`
}
