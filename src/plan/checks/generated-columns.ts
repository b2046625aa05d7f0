// Generated columns that differ between a parent table and its child.
import { count, list, names } from './catalog.js'
import type { Probe } from './types.js'

/**
 * From 16 a child's column must be generated exactly when its parent's is (inheritance and
 * partitions alike). 14 let a child generate a column its parent stores plainly; the restore then
 * fails on CREATE TABLE … INHERITS or on ATTACH PARTITION.
 */
export const generatedInheritanceProbe: Probe = {
  id: 'pg16-generated-inheritance',
  severity: 'blocker',
  appliesTo: { crossing: 16 },
  reference:
    'PostgreSQL 16 release notes, Migration to Version 16 (GENERATED restrictions on inherited and partitioned tables)',
  message: (objects) =>
    `${count(objects.length, 'column')} ${objects.length === 1 ? 'is' : 'are'} generated in a child table but not in its parent (or the reverse), which PostgreSQL 16 refuses: ${list(objects)}`,
  hint: 'on the source, make the generation status match: detach the child (ALTER TABLE child NO INHERIT parent, or DETACH PARTITION), ALTER TABLE child ALTER COLUMN col DROP EXPRESSION, and attach it again; or make the parent column generated too',
  async find(ctx) {
    if (ctx.sourceMajor < 12) return []
    return names(
      ctx.source,
      `SELECT format('%I.%I.%I (%s; parent %I.%I: %s)', cn.nspname, c.relname, ca.attname,
                     CASE WHEN ca.attgenerated <> '' THEN 'generated' ELSE 'not generated' END, pn.nspname, p.relname,
                     CASE WHEN pa.attgenerated <> '' THEN 'generated' ELSE 'not generated' END) AS name
         FROM pg_catalog.pg_inherits i
         JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
         JOIN pg_catalog.pg_class p ON p.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
         JOIN pg_catalog.pg_attribute ca ON ca.attrelid = c.oid AND ca.attnum > 0 AND NOT ca.attisdropped
         JOIN pg_catalog.pg_attribute pa ON pa.attrelid = p.oid AND pa.attname = ca.attname AND NOT pa.attisdropped
        WHERE ca.attgenerated <> pa.attgenerated AND c.relkind IN ('r', 'p', 'f') AND ${ctx.scope.relation('c.oid')}
        ORDER BY 1`
    )
  }
}
