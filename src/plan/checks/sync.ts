// What `sync: logical` needs of the source, and what an earlier sync may have left on it.
import { formatBytes } from '../../base/files.js'
import { SYNC_PREFIX_PATTERN } from '../../sync/names.js'
import { syncedTableCondition } from '../../sync/tables.js'
import { count, list, names } from './catalog.js'
import type { Probe, ProbeContext } from './types.js'

const syncing = (ctx: ProbeContext): boolean => ctx.sync === 'logical'

/** Plans whose estimate exceeds max_slot_wal_keep_size: the estimate's severity depends on what it found. */
const walHeldTooLarge = new WeakSet<ProbeContext>()

/** What the copy is assumed to move per second when the WAL a slot holds is estimated (the lab's 1 GB took ~20 s). */
const ASSUMED_COPY_BYTES_PER_SECOND = 50 * 1024 * 1024

/**
 * A slot holds WAL on the source until it is dropped. A sync drops its own on every exit it sees;
 * one killed without a chance to (SIGKILL, a lost runner) leaves its publication, and its slot too
 * when the server has not yet noticed the dead connection. Checked on every plan, synced or not.
 */
export const syncLeftoversProbe: Probe = {
  id: 'sync-leftovers',
  severity: 'warning',
  message: (objects) =>
    `${count(objects.length, 'replication slot or publication', 'replication slots or publications')} left on the source by an earlier sync: ${list(objects)}`,
  hint: (_ctx, objects) => {
    const drops = objects.map((object) => {
      const name = /pg_migrate_\w+/.exec(object)?.[0] ?? ''
      return object.startsWith('replication slot')
        ? `SELECT pg_drop_replication_slot('${name}');`
        : `DROP PUBLICATION ${name};`
    })
    return `a slot keeps WAL on the source until it is dropped: once no run uses them, drop them on the source: ${drops.join(' ')}`
  },
  find: (ctx) =>
    names(
      ctx.source,
      `SELECT format('replication slot %s (%s, holding %s of WAL)', slot_name,
                     CASE WHEN active THEN 'active' ELSE 'inactive' END,
                     pg_catalog.pg_size_pretty(pg_catalog.pg_wal_lsn_diff(
                       CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END,
                       restart_lsn))) AS name
         FROM pg_catalog.pg_replication_slots WHERE slot_name LIKE '${SYNC_PREFIX_PATTERN}' AND database = current_database()
       UNION ALL
       SELECT format('publication %s', pubname) FROM pg_catalog.pg_publication WHERE pubname LIKE '${SYNC_PREFIX_PATTERN}'
       ORDER BY 1`
    )
}

export const syncWalLevelProbe: Probe = {
  id: 'sync-wal-level',
  severity: 'blocker',
  message: (objects) => `sync: logical needs wal_level = logical on the source (it is ${objects[0]})`,
  hint: 'set wal_level = logical on the source and restart it (managed: turn on logical replication in the provider, e.g. rds.logical_replication = 1 or cloudsql.logical_decoding = on), or use sync: none',
  async find(ctx) {
    if (!syncing(ctx)) return []
    const { rows } = await ctx.source.query<{ level: string }>(`SELECT current_setting('wal_level') AS level`)
    return rows[0].level === 'logical' ? [] : [rows[0].level]
  }
}

export const syncReplicationLoginProbe: Probe = {
  id: 'sync-replication-login',
  severity: 'blocker',
  message: (objects) => `the source login ${objects[0]} may not open a replication connection (it lacks REPLICATION)`,
  hint: (_ctx, objects) =>
    `as a superuser on the source: ALTER ROLE ${objects[0]} REPLICATION (on RDS: GRANT rds_replication TO ${objects[0]}), or use a login that has it`,
  async find(ctx) {
    if (!syncing(ctx)) return []
    // RDS and Aurora grant the right through a role instead of the attribute.
    return names(
      ctx.source,
      `SELECT pg_catalog.quote_ident(r.rolname) AS name FROM pg_catalog.pg_roles r
        WHERE r.rolname = current_user AND NOT r.rolsuper AND NOT r.rolreplication
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles p WHERE p.rolname = 'rds_replication' AND pg_catalog.pg_has_role(r.oid, p.oid, 'MEMBER'))`
    )
  }
}

export const syncCapacityProbe: Probe = {
  id: 'sync-no-free-slot',
  severity: 'blocker',
  message: (objects) => `the source has no room for the sync's replication connection: ${list(objects)}`,
  hint: 'drop unused replication slots on the source (SELECT slot_name, active FROM pg_replication_slots), or raise max_replication_slots / max_wal_senders and restart it',
  async find(ctx) {
    if (!syncing(ctx)) return []
    return names(
      ctx.source,
      `SELECT format('all %s replication slots are taken', current_setting('max_replication_slots')) AS name
        WHERE (SELECT count(*) FROM pg_catalog.pg_replication_slots) >= current_setting('max_replication_slots')::int
       UNION ALL
       SELECT format('all %s WAL senders are busy', current_setting('max_wal_senders'))
        WHERE (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender') >= current_setting('max_wal_senders')::int`
    )
  }
}

/**
 * UPDATE and DELETE are replayed by the row's key: a table without a primary key or a replica
 * identity cannot be replayed, and putting it in a publication makes those statements fail on the
 * source itself ("cannot update table … because it does not have a replica identity").
 */
export const syncReplicaIdentityProbe: Probe = {
  id: 'sync-no-replica-identity',
  severity: 'blocker',
  message: (objects) =>
    `${count(objects.length, 'table')} without a primary key or replica identity cannot be kept in step (their updates and deletes cannot be replayed): ${list(objects)}`,
  hint: 'add a primary key (ALTER TABLE … ADD PRIMARY KEY …), or ALTER TABLE … REPLICA IDENTITY USING INDEX <unique index> (or REPLICA IDENTITY FULL), or use sync: none',
  async find(ctx) {
    if (!syncing(ctx)) return []
    return names(
      ctx.source,
      `SELECT format('%I.%I', n.nspname, c.relname) AS name
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE ${syncedTableCondition()}
          AND (c.relreplident = 'n'
               OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
               OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
        ORDER BY 1`
    )
  }
}

/** CREATE PUBLICATION … FOR TABLE needs CREATE on the database and ownership of every table. */
export const syncPublicationProbe: Probe = {
  id: 'sync-publication-not-creatable',
  severity: 'blocker',
  message: (objects) => `the source login cannot create the sync's publication: ${list(objects)}`,
  hint: "connect as the tables' owner (a login that is a member of the owning role) with CREATE on the database, or GRANT CREATE ON DATABASE … TO the login",
  async find(ctx) {
    if (!syncing(ctx)) return []
    return names(
      ctx.source,
      `SELECT 'no CREATE privilege on the database' AS name
        WHERE NOT pg_catalog.has_database_privilege(current_database(), 'CREATE')
       UNION ALL
       SELECT * FROM (SELECT format('table %I.%I is owned by %I', n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner))
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE ${syncedTableCondition()} AND NOT pg_catalog.pg_has_role(c.relowner, 'USAGE')
        ORDER BY 1) owned`
    )
  }
}

export const syncUnloggedProbe: Probe = {
  id: 'sync-unlogged-tables',
  severity: 'warning',
  message: (objects) =>
    `${count(objects.length, 'unlogged table')} write no WAL, so changes to them during the sync are not replayed: ${list(objects)}`,
  hint: 'stop writing to them before the dump starts, or make them logged (ALTER TABLE … SET LOGGED); verify at cutover compares them',
  async find(ctx) {
    if (!syncing(ctx)) return []
    return names(
      ctx.source,
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relpersistence = 'u' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`
    )
  }
}

export const syncLargeObjectsProbe: Probe = {
  id: 'sync-large-objects',
  severity: 'warning',
  message: (objects) =>
    `the source holds ${objects[0]}: logical decoding does not carry large objects, so one written during the sync is not replayed`,
  hint: 'do not write large objects while the sync runs; verify at cutover compares them and fails if one changed',
  async find(ctx) {
    if (!syncing(ctx)) return []
    const { rows } = await ctx.source.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_catalog.pg_largeobject_metadata'
    )
    return rows[0].n > 0 ? [count(rows[0].n, 'large object')] : []
  }
}

/**
 * The slot keeps every WAL segment written after it from the start of the copy until the target
 * has caught up: about the source's write rate times the copy's duration. Sampled over two seconds.
 */
export const syncWalHeldProbe: Probe = {
  id: 'sync-wal-held',
  severity: (ctx) => (walHeldTooLarge.has(ctx) ? 'blocker' : 'warning'),
  message: (objects) => `while the copy runs, the sync's slot will hold WAL on the source: ${objects[0]}`,
  hint: (ctx) =>
    walHeldTooLarge.has(ctx)
      ? 'max_slot_wal_keep_size is smaller than that: the slot would be invalidated before the target catches up; raise it, or sync at a quieter time'
      : 'make sure the source has that much free disk beyond its usual WAL; the slot is dropped at cutover',
  async find(ctx) {
    if (!syncing(ctx)) return []
    const { rows } = await ctx.source.query<{ size: string; before: string }>(
      `SELECT pg_catalog.pg_database_size(current_database())::text AS size, pg_catalog.pg_current_wal_lsn()::text AS before`
    )
    await ctx.source.query('SELECT pg_catalog.pg_sleep(2)')
    const { rows: after } = await ctx.source.query<{ written: string; keep: string | null }>(
      `SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), $1)::text AS written,
              ${ctx.sourceMajor >= 13 ? `current_setting('max_slot_wal_keep_size')` : 'NULL'} AS keep`,
      [rows[0].before]
    )
    const size = Number(rows[0].size)
    const rate = Number(after[0].written) / 2
    const copySeconds = Math.max(1, size / ASSUMED_COPY_BYTES_PER_SECOND)
    const held = rate * copySeconds
    const keepMb = after[0].keep === null ? -1 : parseSize(after[0].keep)
    if (keepMb >= 0 && held > keepMb * 1024 * 1024) walHeldTooLarge.add(ctx)
    return [
      `about ${formatBytes(held)} (database ${formatBytes(size)}, WAL written at ${formatBytes(rate)}/s, copy estimated at ${Math.round(copySeconds)} s${keepMb >= 0 ? `; max_slot_wal_keep_size ${after[0].keep}` : ''})`
    ]
  }
}

/** max_slot_wal_keep_size as SHOW prints it (e.g. 10GB, 512MB, -1), in MB. */
function parseSize(text: string): number {
  const match = /^(-?\d+)\s*(kB|MB|GB|TB)?$/.exec(text.trim())
  if (!match) return -1
  const value = Number(match[1])
  if (value < 0) return -1
  const factor: Record<string, number> = { kB: 1 / 1024, MB: 1, GB: 1024, TB: 1024 * 1024 }
  return value * factor[match[2] ?? 'MB']
}

export const SYNC_PROBES: readonly Probe[] = [
  syncWalLevelProbe,
  syncReplicationLoginProbe,
  syncCapacityProbe,
  syncPublicationProbe,
  syncReplicaIdentityProbe,
  syncUnloggedProbe,
  syncLargeObjectsProbe,
  syncWalHeldProbe,
  syncLeftoversProbe
]
