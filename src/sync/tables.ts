import type pg from 'pg'
import { serverVersionNumber } from '../pg/connection.js'
import { isUserSchema } from '../pg/sql.js'

/**
 * The tables a sync publishes: every permanent plain table and partition in a user schema that no
 * extension owns. Leaf tables, never a partitioned root (12 cannot publish one, and changes are
 * reported per partition anyway); unlogged tables write no WAL and cannot be published.
 * `alias` is the pg_class row, `namespace` its pg_namespace row.
 */
export function syncedTableCondition(alias = 'c', namespace = 'n'): string {
  return `${alias}.relkind = 'r' AND ${alias}.relpersistence = 'p' AND ${isUserSchema(namespace)}
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                     AND d.objid = ${alias}.oid AND d.deptype = 'e')`
}

/** One published table as the source describes it: the columns a change carries, in order. */
export interface SyncedTable {
  oid: number
  /** Qualified and quoted, ready for SQL text. */
  name: string
  schema: string
  table: string
  /**
   * Columns pgoutput sends (not dropped, not generated), with their type OIDs and the type's schema
   * and name (for casts; quoted by the action); `always`: GENERATED ALWAYS AS IDENTITY; `viaText`: see below.
   */
  columns: SyncedColumn[]
  /**
   * A unique or exclusion index besides the replica identity's: updates of several rows in one
   * statement could then collide where one at a time, in the source's order, did not.
   */
  otherUnique: boolean
}

export interface SyncedColumn {
  name: string
  type: number
  typeSchema: string
  typeName: string
  always: boolean
  /**
   * An array, a composite (or a domain over one), or a type whose array literal's delimiter is not
   * a comma: a multi-row statement takes its values as text[] and casts them (statements.ts).
   */
  viaText?: boolean
}

/** The tables to publish, with their columns, read from `client` (inside the slot's snapshot). */
export async function readSyncedTables(client: pg.Client): Promise<SyncedTable[]> {
  const version = await serverVersionNumber(client)
  const notGenerated = version >= 120000 ? `AND a.attgenerated = ''` : ''
  const { rows } = await client.query<{
    oid: number
    name: string
    schema: string
    table: string
    columns: SyncedColumn[] | null
    otherUnique: boolean
  }>(
    `SELECT c.oid::int AS oid, format('%I.%I', n.nspname, c.relname) AS name, n.nspname AS schema, c.relname AS table,
            (SELECT json_agg(json_build_object('name', a.attname, 'type', a.atttypid::int, 'typeSchema', tn.nspname,
                                               'typeName', t.typname, 'always', a.attidentity = 'a',
                                               'viaText', t.typcategory IN ('A', 'C') OR t.typdelim <> ',') ORDER BY a.attnum)
               FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
               JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ${notGenerated}) AS columns,
            EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND (i.indisunique OR i.indisexclusion)
                       AND NOT (CASE c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END))
              AS "otherUnique"
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${syncedTableCondition()}
      ORDER BY n.nspname, c.relname`
  )
  return rows.map((row) => ({ ...row, columns: row.columns ?? [] }))
}
