import type { Pgoutput } from 'pg-logical-replication'
import type { SyncedTable } from './tables.js'

/** What the apply needs of a table's columns with every change, worked out once per Relation message. */
export interface RelationColumns {
  /** The columns a change carries, in order. */
  names: string[]
  /** Those an update may set when its key changed: all but GENERATED ALWAYS identity columns. */
  settable: string[]
  /** Those an update sets when its key did not change: the key's own columns need not be set. */
  settableKeyKept: string[]
}

/** By the parser's relation object, which stands for the table until the source describes it again. */
const known = new WeakMap<Pgoutput.MessageRelation, RelationColumns>()

export function relationColumns(table: SyncedTable, relation: Pgoutput.MessageRelation): RelationColumns {
  let columns = known.get(relation)
  if (columns) return columns
  const names = relation.columns.map((column) => column.name)
  // GENERATED ALWAYS identity columns can only be set to DEFAULT; the source could not give them
  // another value either.
  const always = new Set(table.columns.filter((column) => column.always).map((column) => column.name))
  const settable = names.filter((column) => !always.has(column))
  const keys = new Set(relation.keyColumns)
  columns = { names, settable, settableKeyKept: settable.filter((column) => !keys.has(column)) }
  known.set(relation, columns)
  return columns
}
