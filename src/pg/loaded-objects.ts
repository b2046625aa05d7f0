// What a target that a run left early holds, read from its catalog, and the tables emptied so they
// can be loaded again: the catalog side of resuming a load (modes/steps/load-missing.ts).
import type pg from 'pg'
import type { Log } from '../base/log.js'
import { count } from '../base/text.js'
import { serverVersionNumber } from './connection.js'

/** An object's name as pg_identify_object_as_address gives it, as one comparable string. */
export const addressKey = (address: { type: string; names: string[]; args: string[] }): string =>
  JSON.stringify([address.type, address.names, address.args])

export const relationKey = (schema: string, name: string): string => JSON.stringify([schema, name])

/** Catalog names come from the manifest: only catalog-like names go into SQL. */
const CATALOG = /^pg_[a-z_]+$/

/** addressKey of every user object in these catalogs, each catalog read whole. */
export async function existingObjects(db: pg.Client, catalogs: Set<string>, log: Log): Promise<Set<string>> {
  const objects = new Set<string>()
  for (const catalog of catalogs) {
    // Large objects are loaded all or none (see modes/steps/load-missing.ts); pg_largeobject has no oid column.
    if (!CATALOG.test(catalog) || catalog === 'pg_largeobject') continue
    // The target's own public schema is older than any user object.
    const user = catalog === 'pg_namespace' ? 'true' : 'o.oid >= 16384'
    try {
      const { rows } = await db.query<{ type: string; names: string[]; args: string[] }>(
        `SELECT a.type, a.object_names AS names, a.object_args AS args
           FROM pg_catalog.${catalog} o
           CROSS JOIN LATERAL pg_catalog.pg_identify_object_as_address('pg_catalog.${catalog}'::pg_catalog.regclass, o.oid, 0) a
          WHERE ${user} AND a.type IS NOT NULL`
      )
      for (const row of rows) objects.add(addressKey(row))
    } catch (error) {
      // Nothing found there: its entries are restored, and one that exists after all fails loudly.
      log.warning(`resume: could not read ${catalog} on the target: ${(error as Error).message}`)
    }
  }
  return objects
}

/** relationKey of partitions and partition indexes attached to their parent. */
export async function attachedRelations(db: pg.Client): Promise<Set<string>> {
  const { rows } = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_inherits i
       JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relispartition OR c.relkind IN ('i', 'I')`
  )
  return new Set(rows.map((row) => relationKey(row.schema, row.name)))
}

/**
 * Empties the tables to load again. Foreign keys that touch them and their user triggers go first
 * (TRUNCATE refuses a referenced table; a trigger would fire on every row loaded): they are then
 * missing, and restored after the data, as pg_restore orders them.
 */
export async function clearForReload(
  db: pg.Client,
  tables: [string, string][],
  largeObjects: boolean,
  log: Log
): Promise<void> {
  if (tables.length > 0) {
    const { rows: found } = await db.query<{ oid: string; name: string }>(
      `SELECT c.oid::text AS oid, pg_catalog.format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           JOIN ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS t(s, r) ON n.nspname = t.s AND c.relname = t.r
          WHERE c.relkind IN ('r', 'p')`,
      [tables.map((t) => t[0]), tables.map((t) => t[1])]
    )
    const oids = found.map((row) => row.oid)
    // A partition's clone of its parent's trigger goes with the parent's (tgparentid: 13 and later).
    const notClone = (await serverVersionNumber(db)) >= 130000 ? 'AND t.tgparentid = 0' : ''
    const { rows: drops } = await db.query<{ sql: string }>(
      `SELECT pg_catalog.format('ALTER TABLE %I.%I DROP CONSTRAINT %I', n.nspname, c.relname, k.conname) AS sql
           FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE k.contype = 'f' AND k.conparentid = 0 AND (k.conrelid = ANY($1::oid[]) OR k.confrelid = ANY($1::oid[]))
         UNION ALL
         SELECT pg_catalog.format('DROP TRIGGER %I ON %I.%I', t.tgname, n.nspname, c.relname)
           FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT t.tgisinternal ${notClone} AND t.tgrelid = ANY($1::oid[])`,
      [oids]
    )
    for (const { sql } of drops) await db.query(sql)
    if (found.length > 0) await db.query(`TRUNCATE ONLY ${found.map((row) => row.name).join(', ')}`)
    log.info(
      `resume: emptied ${count(found.length, 'table')} to load again${drops.length ? `, dropped ${count(drops.length, 'foreign key or trigger', 'foreign keys and triggers')} to restore after them` : ''}`
    )
  }
  if (largeObjects) {
    const { rows } = await db.query<{ n: number }>(
      'SELECT count(pg_catalog.lo_unlink(oid))::int AS n FROM pg_catalog.pg_largeobject_metadata'
    )
    if (rows[0].n > 0) log.info(`resume: removed ${count(rows[0].n, 'large object')} to load them again`)
  }
}
