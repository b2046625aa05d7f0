// Schema public lost its CREATE for everyone in 15.
import { count, list, names } from './catalog.js'
import type { Probe } from './types.js'

/**
 * From 15 a new database's schema public grants CREATE only to its owner (pg_database_owner). A
 * dump carries the source's grant on public only when privileges are kept; with privileges: skip
 * the roles that created objects in public on the source cannot create there on the target.
 */
export const publicSchemaCreateProbe: Probe = {
  id: 'pg15-public-schema-create',
  severity: 'warning',
  appliesTo: { crossing: 15 },
  reference:
    'PostgreSQL 15 release notes, Migration to Version 15 (PUBLIC creation permission on the public schema removed)',
  message: (roles) =>
    `${count(roles.length, 'role')} created objects in schema public on the source but will not be allowed to create there on the target (PostgreSQL 15 took CREATE on public away from PUBLIC): ${list(roles)}`,
  hint: (_ctx, roles) =>
    `if they still need to (migrations, temporary tables in public), run on the target as the database owner: GRANT CREATE ON SCHEMA public TO ${roles.join(', ')}`,
  async find(ctx) {
    if (ctx.privileges === 'keep') return []
    return names(
      ctx.source,
      `WITH public_schema AS (SELECT oid, nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'public'),
            owners AS (
              SELECT c.relowner AS owner FROM pg_catalog.pg_class c, public_schema s WHERE c.relnamespace = s.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
                AND ${ctx.scope.relation('c.oid')}
              UNION SELECT p.proowner FROM pg_catalog.pg_proc p, public_schema s WHERE p.pronamespace = s.oid AND ${ctx.scope.inSchema('s.oid')}
              UNION SELECT t.typowner FROM pg_catalog.pg_type t, public_schema s WHERE t.typnamespace = s.oid AND t.typtype IN ('d', 'e', 'r')
                AND ${ctx.scope.inSchema('s.oid')})
       SELECT pg_catalog.quote_ident(r.rolname) AS name FROM owners o JOIN pg_catalog.pg_roles r ON r.oid = o.owner, public_schema s
        WHERE r.oid <> s.nspowner AND NOT r.rolsuper
        ORDER BY 1`
    )
  }
}
