import type pg from 'pg'
import { hash64 } from './sql.js'
import type { LargeObjectsFingerprint, VerifyLevel } from './types.js'

/**
 * pg_dump keeps large-object OIDs, so each object hashes as OID plus a digest of its content.
 * lo_get reads an object whole (1 GB at most) and needs SELECT on it: the restoring role owns what
 * it restored, and pg_dump needed the same right on the source.
 */
export async function fingerprintLargeObjects(client: pg.Client, level: VerifyLevel): Promise<LargeObjectsFingerprint> {
  const checksum =
    level === 'full'
      ? `coalesce(sum(${hash64(`m.oid::text || ':' || encode(sha256(lo_get(m.oid)), 'hex')`)}), 0)::text`
      : 'NULL::text'
  // The effective ACL, items sorted: NULL is the owner's default, and a restore grants in its own order.
  const acl = `(SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(m.lomacl, acldefault('L', m.lomowner))) a)`
  const privileges = `coalesce(sum(${hash64(`m.oid::text || ':' || pg_get_userbyid(m.lomowner) || ':' || coalesce(${acl}, '')`)}), 0)::text`
  const { rows } = await client.query<{ count: string; checksum: string | null; privileges: string }>(
    `SELECT count(*)::text AS count, ${checksum} AS checksum, ${privileges} AS privileges FROM pg_largeobject_metadata m`
  )
  return { count: Number(rows[0].count), checksum: rows[0].checksum, privileges: rows[0].privileges }
}
