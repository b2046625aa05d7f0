// Inheritance children whose column order a restore cannot keep.
import type pg from 'pg'
import { WHOLE_DATABASE, type ScopeSql } from '../../scope/sql.js'
import { count, list, notInExtension, userNamespace } from './catalog.js'
import type { Probe } from './types.js'

/** A table as the restore rebuilds it: its parents and its own columns, in source order. */
export interface InheritingTable {
  name: string
  /** Qualified names of its parents, in the order of INHERITS (…). */
  parents: string[]
  /** Every column, in physical (attnum) order. */
  columns: { name: string; local: boolean }[]
}

/**
 * The order a restore gives each table's columns. pg_dump writes an inheritance child as
 * CREATE TABLE child (its local columns) INHERITS (parents): the server puts the parents' columns
 * first, parent after parent as the parents come out of their own restore, a column inherited twice
 * where it first appears, then the child's columns that no parent has, in their order. A column
 * both inherited and local merges into the inherited place. Partitions are written as tables of
 * their own and attached (pg_dump 17), so they keep their order; they are not given here.
 */
export function restoredColumnOrder(tables: InheritingTable[]): Map<string, string[]> {
  const byName = new Map(tables.map((t) => [t.name, t]))
  const orders = new Map<string, string[]>()
  const orderOf = (name: string, seen: Set<string>): string[] => {
    const known = orders.get(name)
    if (known) return known
    const table = byName.get(name)
    if (!table) return []
    // A parent this cannot see (an extension's table): no prediction, the source order stands.
    const unknown = table.parents.some((parent) => !byName.has(parent))
    let order = table.columns.map((c) => c.name)
    if (table.parents.length > 0 && !unknown && !seen.has(name)) {
      seen.add(name)
      order = []
      for (const parent of table.parents)
        for (const column of orderOf(parent, seen)) if (!order.includes(column)) order.push(column)
      for (const column of table.columns) if (column.local && !order.includes(column.name)) order.push(column.name)
    }
    orders.set(name, order)
    return order
  }
  for (const table of tables) orderOf(table.name, new Set())
  return orders
}

/** Every user table in an inheritance tree (not partitions), with its parents and columns. */
async function inheritingTables(source: pg.Client, scope: ScopeSql): Promise<InheritingTable[]> {
  const { rows } = await source.query<{
    name: string
    parents: string[] | null
    columns: string[]
    local: boolean[]
  }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name,
            (SELECT pg_catalog.array_agg(format('%I.%I', pn.nspname, p.relname) ORDER BY i.inhseqno)
               FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
               JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
              WHERE i.inhrelid = c.oid) AS parents,
            pg_catalog.array_agg(a.attname::text ORDER BY a.attnum) AS columns,
            pg_catalog.array_agg(a.attislocal ORDER BY a.attnum) AS local
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition
        AND (c.relhassubclass OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid))
        AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_class', 'c.oid')} AND ${scope.relation('c.oid')}
      GROUP BY c.oid, n.nspname, c.relname
      ORDER BY 1`
  )
  return rows.map((row) => ({
    name: row.name,
    parents: row.parents ?? [],
    columns: row.columns.map((name, i) => ({ name, local: row.local[i] }))
  }))
}

/** Tables whose columns come out of the restore in another order, as `table (source order → restored order)`. */
export async function columnOrderChanges(source: pg.Client, scope: ScopeSql = WHOLE_DATABASE): Promise<string[]> {
  const tables = await inheritingTables(source, scope)
  const restored = restoredColumnOrder(tables)
  return tables.flatMap((table) => {
    const before = table.columns.map((c) => c.name)
    const after = restored.get(table.name)
    if (!after || after.join('\u0000') === before.join('\u0000')) return []
    return [`${table.name} (${before.join(', ')} → ${after.join(', ')})`]
  })
}

export const columnOrderProbe: Probe = {
  id: 'inheritance-column-order',
  severity: 'warning',
  message: (objects) =>
    `${count(objects.length, 'inheritance child', 'inheritance children')} will have ${objects.length === 1 ? 'its' : 'their'} columns in another order after the restore (pg_dump recreates a child with its parents' columns first; a column added to a parent after the child existed moves): ${list(objects, 3)}`,
  hint: 'the data and column names stay the same, but positional INSERT … VALUES without a column list and SELECT * see the new order; name the columns in such statements',
  find: (ctx) => columnOrderChanges(ctx.source, ctx.scope)
}
