// What the 15, 16 and 17 release notes (Migration sections) removed or renamed, as data.
export type RemovalKind = 'function' | 'column' | 'setting'

export interface Removal {
  kind: RemovalKind
  /** Function or setting name; for a column, `schema.relation.column`, or `relation.column` with `extension`. */
  name: string
  /** Set for a column of a relation an extension provides (its schema varies). */
  extension?: string
  /** The release that removed it, when known. */
  removedIn?: number
  /** What to use instead, when there is something. */
  replacement?: string
}

/**
 * What the 15, 16 and 17 release notes (Migration sections) removed or renamed, usable without a
 * target connection. With one, the probes also compare the two servers' catalogs, which finds
 * everything this list misses.
 */
export const KNOWN_REMOVALS: Removal[] = [
  { kind: 'function', name: 'pg_start_backup', removedIn: 15, replacement: 'pg_backup_start()' },
  { kind: 'function', name: 'pg_stop_backup', removedIn: 15, replacement: 'pg_backup_stop()' },
  { kind: 'function', name: 'pg_backup_start_time', removedIn: 15 },
  { kind: 'function', name: 'pg_is_in_backup', removedIn: 15 },
  { kind: 'setting', name: 'stats_temp_directory', removedIn: 15 },
  { kind: 'setting', name: 'force_parallel_mode', removedIn: 16, replacement: 'debug_parallel_query' },
  {
    kind: 'setting',
    name: 'vacuum_defer_cleanup_age',
    removedIn: 16,
    replacement: 'hot_standby_feedback or replication slots'
  },
  { kind: 'setting', name: 'promote_trigger_file', removedIn: 16, replacement: 'pg_ctl promote or pg_promote()' },
  { kind: 'setting', name: 'lc_collate', removedIn: 16, replacement: 'pg_database.datcollate' },
  { kind: 'setting', name: 'lc_ctype', removedIn: 16, replacement: 'pg_database.datctype' },
  { kind: 'setting', name: 'old_snapshot_threshold', removedIn: 17 },
  { kind: 'setting', name: 'db_user_namespace', removedIn: 17 },
  { kind: 'setting', name: 'trace_recovery_messages', removedIn: 17 },
  {
    kind: 'column',
    name: 'pg_catalog.pg_stat_bgwriter.checkpoints_timed',
    removedIn: 17,
    replacement: 'pg_stat_checkpointer.num_timed'
  },
  {
    kind: 'column',
    name: 'pg_catalog.pg_stat_bgwriter.checkpoints_req',
    removedIn: 17,
    replacement: 'pg_stat_checkpointer.num_requested'
  },
  {
    kind: 'column',
    name: 'pg_catalog.pg_stat_bgwriter.checkpoint_write_time',
    removedIn: 17,
    replacement: 'pg_stat_checkpointer.write_time'
  },
  {
    kind: 'column',
    name: 'pg_catalog.pg_stat_bgwriter.checkpoint_sync_time',
    removedIn: 17,
    replacement: 'pg_stat_checkpointer.sync_time'
  },
  {
    kind: 'column',
    name: 'pg_catalog.pg_stat_bgwriter.buffers_checkpoint',
    removedIn: 17,
    replacement: 'pg_stat_checkpointer.buffers_written'
  },
  { kind: 'column', name: 'pg_catalog.pg_stat_bgwriter.buffers_backend', removedIn: 17, replacement: 'pg_stat_io' },
  {
    kind: 'column',
    name: 'pg_catalog.pg_stat_bgwriter.buffers_backend_fsync',
    removedIn: 17,
    replacement: 'pg_stat_io'
  },
  {
    kind: 'column',
    name: 'pg_catalog.pg_stat_progress_vacuum.max_dead_tuples',
    removedIn: 17,
    replacement: 'max_dead_tuple_bytes'
  },
  {
    kind: 'column',
    name: 'pg_catalog.pg_stat_progress_vacuum.num_dead_tuples',
    removedIn: 17,
    replacement: 'num_dead_item_ids'
  },
  { kind: 'column', name: 'information_schema.element_types.domain_default', removedIn: 17 },
  {
    kind: 'column',
    name: 'pg_stat_statements.blk_read_time',
    extension: 'pg_stat_statements',
    removedIn: 17,
    replacement: 'shared_blk_read_time'
  },
  {
    kind: 'column',
    name: 'pg_stat_statements.blk_write_time',
    extension: 'pg_stat_statements',
    removedIn: 17,
    replacement: 'shared_blk_write_time'
  },
  {
    kind: 'function',
    name: 'pg_stat_get_bgwriter_timed_checkpoints',
    removedIn: 17,
    replacement: 'pg_stat_get_checkpointer_num_timed()'
  },
  {
    kind: 'function',
    name: 'pg_stat_get_bgwriter_requested_checkpoints',
    removedIn: 17,
    replacement: 'pg_stat_get_checkpointer_num_requested()'
  },
  {
    kind: 'function',
    name: 'pg_stat_get_bgwriter_buf_written_checkpoints',
    removedIn: 17,
    replacement: 'pg_stat_get_checkpointer_buffers_written()'
  },
  {
    kind: 'function',
    name: 'pg_stat_get_checkpoint_write_time',
    removedIn: 17,
    replacement: 'pg_stat_get_checkpointer_write_time()'
  },
  {
    kind: 'function',
    name: 'pg_stat_get_checkpoint_sync_time',
    removedIn: 17,
    replacement: 'pg_stat_get_checkpointer_sync_time()'
  },
  { kind: 'function', name: 'pg_stat_get_buf_written_backend', removedIn: 17, replacement: 'pg_stat_io' },
  { kind: 'function', name: 'pg_stat_get_buf_fsync_backend', removedIn: 17, replacement: 'pg_stat_io' }
]
