import type pg from 'pg'
import type { Row } from './statements.js'
import type { SyncedTable } from './tables.js'

/** A run of changes that becomes one statement: one table, one operation, the same columns. */
export interface Group {
  shape: string
  table: SyncedTable
  kind: 'insert' | 'update' | 'delete'
  keys: string[]
  columns: string[]
  rows: Row[]
  /** Where each key is in `rows`: an update of a row already there replaces it, a delete starts a new group. */
  seen: Map<string, number>
}

/** A group's shape by its columns list: the apply passes the same list for most rows of a table. */
const shapes = { insert: new WeakMap<string[], string>(), update: new WeakMap(), delete: new WeakMap() }
function shapeOf(kind: Group['kind'], columns: string[]): string {
  let shape = shapes[kind].get(columns)
  if (shape === undefined) shapes[kind].set(columns, (shape = `${kind} ${columns.join(',')}`))
  return shape
}

/** Rows per statement. */
const GROUP_ROWS = 500

/**
 * The target's tables whose changes no other table's change can see or undo: no rule, no row
 * security, and no trigger that fires in the apply session (a foreign key is a pair of triggers, on
 * the referencing and the referenced table; as a replica, only ENABLE ALWAYS and ENABLE REPLICA
 * triggers fire). Within one target transaction, the changes of such a table may move before or
 * after those of other tables, so those of many source transactions join one statement; among
 * themselves they keep the source's order. By the source's OIDs.
 */
export async function independentTables(
  target: pg.Client,
  tables: SyncedTable[],
  replicaRole: boolean
): Promise<Set<number>> {
  if (tables.length === 0) return new Set()
  const firing = replicaRole ? `'A', 'R'` : `'A', 'O'`
  const { rows } = await target.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE (n.nspname, c.relname) IN (SELECT s, t FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS u (s, t))
        AND c.relkind = 'r' AND NOT c.relhasrules AND NOT c.relrowsecurity
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgenabled IN (${firing}))`,
    [tables.map((table) => table.schema), tables.map((table) => table.table)]
  )
  const found = new Set(rows.map((row) => `${row.schema}.${row.table}`))
  return new Set(tables.filter((table) => found.has(`${table.schema}.${table.table}`)).map((table) => table.oid))
}

/**
 * The multi-row statements a batch is gathering: at most one per table. One of an independent
 * table stays open while other tables' changes arrive; any other is closed by the next change of
 * another table, so the statements of those keep the source's order. `close` turns a group into
 * its statement, appended to the batch.
 */
export class OpenGroups {
  private readonly open = new Map<number, Group>()

  constructor(
    private readonly independent: Set<number>,
    private readonly close: (group: Group) => void
  ) {}

  get empty(): boolean {
    return this.open.size === 0
  }

  /**
   * Closes every group that must be in the batch before a statement of `table` (of no table, or
   * of any: all of them): that table's own, and all others unless it is independent.
   */
  before(table?: SyncedTable): void {
    if (table && this.independent.has(table.oid)) {
      for (const group of [...this.open.values()])
        if (group.table.oid === table.oid || !this.independent.has(group.table.oid)) this.closeOne(group)
    } else this.closeAll()
  }

  closeAll(): void {
    for (const group of [...this.open.values()]) this.closeOne(group)
  }

  /**
   * Adds a row to its table's group when it fits there, or closes that group and opens another.
   * Rows of an update group have distinct keys and the same columns set: a later update of a row
   * already there replaces it, which leaves the row as the two in order would (no trigger sees it).
   */
  add(table: SyncedTable, kind: Group['kind'], keys: string[], columns: string[], row: Row): void {
    const independent = this.independent.has(table.oid)
    // A Map's iteration goes on past an entry deleted meanwhile.
    for (const other of this.open.values())
      if (other.table.oid !== table.oid && !(independent && this.independent.has(other.table.oid))) this.closeOne(other)
    const shape = shapeOf(kind, columns)
    const key =
      kind === 'insert'
        ? ''
        : keys.length === 1
          ? String(row[keys[0]])
          : JSON.stringify(keys.map((column) => row[column]))
    let group = this.open.get(table.oid)
    const at = group && kind !== 'insert' ? group.seen.get(key) : undefined
    if (group && group.shape === shape && at !== undefined && kind === 'update' && independent) {
      group.rows[at] = row
      return
    }
    if (group && (group.shape !== shape || at !== undefined || group.rows.length >= GROUP_ROWS)) {
      this.closeOne(group)
      group = undefined
    }
    if (!group) this.open.set(table.oid, (group = { shape, table, kind, keys, columns, rows: [], seen: new Map() }))
    if (kind !== 'insert') group.seen.set(key, group.rows.length)
    group.rows.push(row)
  }

  private closeOne(group: Group): void {
    if (this.open.get(group.table.oid) !== group) return
    this.open.delete(group.table.oid)
    this.close(group)
  }
}
