// What a target that a run left early holds, read against the dump it was being loaded from: which
// of the dump's objects exist (by the names the manifest recorded on the source), which partitions
// are attached, and each table's rows, counted and checksummed as the source's were.
import type { Manifest } from '../../artifact/manifest.js'
import type { Log } from '../../base/log.js'
import type { Connector } from '../../pg/connection.js'
import type { Endpoint } from '../../pg/endpoint.js'
import { attachedRelations, existingObjects } from '../../pg/loaded-objects.js'
import { fingerprintDatabase, type Fingerprint } from '../../verify/fingerprint/index.js'

export interface TargetState {
  /** addressKey of every object in the catalogs the dump's entries make objects in. */
  objects: Set<string>
  /** relationKey of partitions and partition indexes attached to their parent. */
  attached: Set<string>
  /** The target's tables whose rows move, read as the source's fingerprint was. */
  tables: Fingerprint['tables']
  largeObjects: Fingerprint['largeObjects']
}

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
