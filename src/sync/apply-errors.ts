// Why the apply stops: a table the copy does not have, a table whose shape changed, a batch the
// target refused.
import type { Pgoutput } from 'pg-logical-replication'
import { MigrationError } from '../base/errors.js'
import { quoteIdent } from '../pg/sql.js'
import { formatLsn } from './lsn.js'
import type { SyncedTable } from './tables.js'

/** The copied table a change names; another one is a table renamed or replaced on the source. */
export function knownTable(known: Map<string, SyncedTable>, relation: Pgoutput.MessageRelation): SyncedTable {
  const table = known.get(`${relation.schema}.${relation.name}`)
  if (!table)
    throw new MigrationError(
      'sync-source-changed',
      `the source changed its schema during the sync: table ${quoteIdent(relation.schema)}.${quoteIdent(relation.name)} is not the one that was copied (renamed or replaced)`
    )
  return table
}

/**
 * pgoutput describes a table again whenever it changed: a column added, dropped, renamed or
 * retyped on the source during the sync cannot be replayed on the copy, which has the old shape.
 */
export function checkUnchanged(table: SyncedTable, relation: Pgoutput.MessageRelation): void {
  const was = table.columns.map((column) => `${column.name} ${column.type}`).join(', ')
  const now = relation.columns.map((column) => `${column.name} ${column.typeOid}`).join(', ')
  if (was === now) return
  const before = new Set(table.columns.map((column) => column.name))
  const after = new Set(relation.columns.map((column) => column.name))
  const added = [...after].filter((column) => !before.has(column))
  const dropped = [...before].filter((column) => !after.has(column))
  const detail = [
    added.length ? `column ${added.join(', ')} added` : '',
    dropped.length ? `column ${dropped.join(', ')} dropped` : '',
    !added.length && !dropped.length ? 'a column changed its type or position' : ''
  ]
    .filter(Boolean)
    .join('; ')
  throw new MigrationError(
    'sync-source-changed',
    `the source changed its schema during the sync: table ${table.name}: ${detail}`
  )
}

/** A failed batch, named by the table the error names (or the batch's range of the source's WAL). */
export function applyFailure(error: unknown, range: { first?: bigint; last?: bigint }): MigrationError {
  const failure = error as { message?: string; schema?: string; table?: string }
  const table = failure.schema && failure.table ? ` to ${failure.schema}.${failure.table}` : ''
  const at =
    range.first === undefined
      ? ''
      : range.first === range.last
        ? ` at ${formatLsn(range.first)}`
        : ` at ${formatLsn(range.first)}–${formatLsn(range.last ?? range.first)}`
  return new MigrationError(
    'sync-apply',
    `applying a source change${table}${at} to the target failed: ${failure.message ?? String(error)}`
  )
}
