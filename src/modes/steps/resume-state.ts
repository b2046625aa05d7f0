// What a target that a run left early holds, read against the dump it was being loaded from: which
// of the dump's objects exist (by the names the manifest recorded on the source), which partitions
// are attached, and each table's rows, counted and checksummed as the source's were.
import type pg from 'pg'
import type { Manifest } from '../../artifact/manifest.js'
import type { Log } from '../../base/log.js'
import type { Connector } from '../../pg/connection.js'
import type { Endpoint } from '../../pg/endpoint.js'
import { fingerprintDatabase, type Fingerprint } from '../../verify/fingerprint/index.js'

/** An object's name as pg_identify_object_as_address gives it, as one comparable string. */
export const addressKey = (address: { type: string; names: string[]; args: string[] }): string =>
  JSON.stringify([address.type, address.names, address.args])

export const relationKey = (schema: string, name: string): string => JSON.stringify([schema, name])

export interface TargetState {
  /** addressKey of every object in the catalogs the dump's entries make objects in. */
  objects: Set<string>
  /** relationKey of partitions and partition indexes attached to their parent. */
  attached: Set<string>
  /** The target's tables whose rows move, read as the source's fingerprint was. */
  tables: Fingerprint['tables']
  largeObjects: Fingerprint['largeObjects']
}

/** Catalog names come from the manifest: only catalog-like names go into SQL. */
const CATALOG = /^pg_[a-z_]+$/

/**
 * Reads the target database. Each catalog the manifest names is read whole (its user objects), not
 * object by object: a managed target is often far away, and a round trip per object would cost
 * minutes on a big schema.
 */
export async function readTargetState(
  connector: Connector,
  target: Endpoint,
  manifest: Manifest,
  read: { jobs: number; log: Log }
): Promise<TargetState> {
  const catalogs = new Set(
    Object.values(manifest.toc ?? {}).flatMap((object) => (object.address ? [object.address.catalog] : []))
  )
  const { objects, attached } = await connector.withConnection(target, async (db) => ({
    objects: await existingObjects(db, catalogs, read.log),
    attached: await attachedRelations(db)
  }))
  const fingerprint = await fingerprintDatabase(() => connector.connect(target), {
    level: manifest.sourceFingerprint?.level ?? 'counts',
    jobs: read.jobs,
    validationQueries: [],
    like: manifest.sourceFingerprint?.tables,
    scope: manifest.scope
  })
  return { objects, attached, tables: fingerprint.tables, largeObjects: fingerprint.largeObjects }
}

async function existingObjects(db: pg.Client, catalogs: Set<string>, log: Log): Promise<Set<string>> {
  const objects = new Set<string>()
  for (const catalog of catalogs) {
    // Large objects are loaded all or none (see resume.ts); pg_largeobject has no oid column.
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

async function attachedRelations(db: pg.Client): Promise<Set<string>> {
  const { rows } = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_inherits i
       JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relispartition OR c.relkind IN ('i', 'I')`
  )
  return new Set(rows.map((row) => relationKey(row.schema, row.name)))
}
