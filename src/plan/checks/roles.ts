// Roles the dump names on the target, and the probes about them.
import type pg from 'pg'
import { powerful, restoreRoleName } from '../../pg/restore-role.js'
import { WHOLE_DATABASE, type ScopeSql } from '../../scope/sql.js'
import { count, distinct, FIRST_NORMAL_OID, list, names, notInExtension, userNamespace } from './catalog.js'
import type { Probe, ProbeContext } from './types.js'

/**
 * Objects pg_dump writes an owner for (ALTER … OWNER TO), as (object, owner oid). Left out: system
 * and extension objects, subscriptions (never restored), and schema public: its entry only carries
 * `ALTER SCHEMA public OWNER TO …`, and the restore keeps the target's own public schema.
 */
const owned = (scope: ScopeSql): string => `
  SELECT format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
           WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'type' ELSE 'table' END, n.nspname, c.relname) AS object, c.relowner AS owner
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_class', 'c.oid')}
     AND ${scope.relation('c.oid')}
  UNION ALL
  SELECT format('schema %I', n.nspname), n.nspowner FROM pg_catalog.pg_namespace n
   WHERE n.oid >= ${FIRST_NORMAL_OID} AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_namespace', 'n.oid')}
     AND ${scope.schema('n.oid')}
  UNION ALL
  SELECT format('function %I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), p.proowner
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
   WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')} AND ${scope.inSchema('p.pronamespace')}
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objid = p.oid AND i.deptype = 'i')
  UNION ALL
  SELECT format('type %I.%I', n.nspname, t.typname), t.typowner FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
   WHERE t.typtype IN ('b', 'd', 'e', 'r') AND t.typrelid = 0 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type a WHERE a.typarray = t.oid)
     AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_type', 't.oid')} AND ${scope.inSchema('t.typnamespace')}
  UNION ALL
  SELECT format('collation %I.%I', n.nspname, o.collname), o.collowner FROM pg_catalog.pg_collation o JOIN pg_catalog.pg_namespace n ON n.oid = o.collnamespace
   WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_collation', 'o.oid')} AND ${scope.inSchema('o.collnamespace')}
  UNION ALL
  SELECT format('conversion %I.%I', n.nspname, o.conname), o.conowner FROM pg_catalog.pg_conversion o JOIN pg_catalog.pg_namespace n ON n.oid = o.connamespace
   WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_conversion', 'o.oid')} AND ${scope.inSchema('o.connamespace')}
  UNION ALL
  SELECT format('operator %I.%s', n.nspname, o.oprname), o.oprowner FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
   WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_operator', 'o.oid')} AND ${scope.inSchema('o.oprnamespace')}
  UNION ALL
  SELECT format('operator class %I.%I', n.nspname, o.opcname), o.opcowner FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_namespace n ON n.oid = o.opcnamespace
   WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_opclass', 'o.oid')} AND ${scope.inSchema('o.opcnamespace')}
  UNION ALL
  SELECT format('operator family %I.%I', n.nspname, o.opfname), o.opfowner FROM pg_catalog.pg_opfamily o JOIN pg_catalog.pg_namespace n ON n.oid = o.opfnamespace
   WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_opfamily', 'o.oid')} AND ${scope.inSchema('o.opfnamespace')}
  UNION ALL
  SELECT format('text search dictionary %I.%I', n.nspname, o.dictname), o.dictowner FROM pg_catalog.pg_ts_dict o JOIN pg_catalog.pg_namespace n ON n.oid = o.dictnamespace
   WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_ts_dict', 'o.oid')} AND ${scope.inSchema('o.dictnamespace')}
  UNION ALL
  SELECT format('text search configuration %I.%I', n.nspname, o.cfgname), o.cfgowner FROM pg_catalog.pg_ts_config o JOIN pg_catalog.pg_namespace n ON n.oid = o.cfgnamespace
   WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_ts_config', 'o.oid')} AND ${scope.inSchema('o.cfgnamespace')}
  UNION ALL
  SELECT format('statistics %I.%I', n.nspname, o.stxname), o.stxowner FROM pg_catalog.pg_statistic_ext o JOIN pg_catalog.pg_namespace n ON n.oid = o.stxnamespace
   WHERE ${userNamespace('n.nspname')} AND ${scope.inSchema('o.stxnamespace')} AND ${scope.relation('o.stxrelid')}
  UNION ALL
  SELECT format('foreign-data wrapper %I', o.fdwname), o.fdwowner FROM pg_catalog.pg_foreign_data_wrapper o
   WHERE o.oid >= ${FIRST_NORMAL_OID} AND ${notInExtension('pg_foreign_data_wrapper', 'o.oid')} AND ${scope.global}
  UNION ALL
  SELECT format('server %I', o.srvname), o.srvowner FROM pg_catalog.pg_foreign_server o WHERE ${notInExtension('pg_foreign_server', 'o.oid')} AND ${scope.global}
  UNION ALL
  SELECT format('event trigger %I', o.evtname), o.evtowner FROM pg_catalog.pg_event_trigger o WHERE ${notInExtension('pg_event_trigger', 'o.oid')} AND ${scope.global}
  UNION ALL
  SELECT format('publication %I', o.pubname), o.pubowner FROM pg_catalog.pg_publication o WHERE ${scope.global}
  UNION ALL
  SELECT format('language %I', o.lanname), o.lanowner FROM pg_catalog.pg_language o
   WHERE o.lanispl AND o.oid >= ${FIRST_NORMAL_OID} AND ${notInExtension('pg_language', 'o.oid')} AND ${scope.global}
  UNION ALL
  SELECT format('large object %s', o.oid), o.lomowner FROM pg_catalog.pg_largeobject_metadata o WHERE ${scope.global}`

/**
 * Access control lists pg_dump writes GRANTs for: every user object's, and a system or extension
 * object's when it differs from its initial privileges (pg_init_privs), as pg_dump compares them.
 */
const acls = (scope: ScopeSql): string => `
  SELECT format('%I.%I', n.nspname, c.relname) AS object, c.relowner AS owner, c.relacl AS acl, ip.initprivs AS init
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.objoid = c.oid AND ip.objsubid = 0
   WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${scope.relation('c.oid')}
  UNION ALL
  SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname), c.relowner, a.attacl, ip.initprivs
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.objoid = c.oid AND ip.objsubid = a.attnum
   WHERE a.attacl IS NOT NULL AND NOT a.attisdropped AND ${scope.relation('c.oid')}
  UNION ALL
  SELECT format('schema %I', n.nspname), n.nspowner, n.nspacl, ip.initprivs FROM pg_catalog.pg_namespace n
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND ip.objoid = n.oid AND ip.objsubid = 0
   WHERE n.nspacl IS NOT NULL AND ${scope.schema('n.oid')}
  UNION ALL
  SELECT format('function %I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), p.proowner, p.proacl, ip.initprivs
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND ip.objoid = p.oid AND ip.objsubid = 0
   WHERE p.proacl IS NOT NULL AND ${scope.inSchema('p.pronamespace')}
  UNION ALL
  SELECT format('type %I.%I', n.nspname, t.typname), t.typowner, t.typacl, ip.initprivs
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = 'pg_catalog.pg_type'::pg_catalog.regclass AND ip.objoid = t.oid AND ip.objsubid = 0
   WHERE t.typacl IS NOT NULL AND ${scope.inSchema('t.typnamespace')}
  UNION ALL
  SELECT format('language %I', l.lanname), l.lanowner, l.lanacl, ip.initprivs FROM pg_catalog.pg_language l
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = 'pg_catalog.pg_language'::pg_catalog.regclass AND ip.objoid = l.oid AND ip.objsubid = 0
   WHERE l.lanacl IS NOT NULL AND ${scope.global}
  UNION ALL
  SELECT format('foreign-data wrapper %I', w.fdwname), w.fdwowner, w.fdwacl, ip.initprivs FROM pg_catalog.pg_foreign_data_wrapper w
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = 'pg_catalog.pg_foreign_data_wrapper'::pg_catalog.regclass AND ip.objoid = w.oid AND ip.objsubid = 0
   WHERE w.fdwacl IS NOT NULL AND ${scope.global}
  UNION ALL
  SELECT format('server %I', s.srvname), s.srvowner, s.srvacl, ip.initprivs FROM pg_catalog.pg_foreign_server s
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = 'pg_catalog.pg_foreign_server'::pg_catalog.regclass AND ip.objoid = s.oid AND ip.objsubid = 0
   WHERE s.srvacl IS NOT NULL AND ${scope.global}
  UNION ALL
  SELECT format('large object %s', m.oid), m.lomowner, m.lomacl, NULL FROM pg_catalog.pg_largeobject_metadata m WHERE m.lomacl IS NOT NULL AND ${scope.global}`

/** Each ACL entry pg_dump would write, minus the owner's own: (object, owner, grantee, grantor); grantee 0 is PUBLIC. */
const aclEntries = (scope: ScopeSql): string => `
  SELECT acl.object, acl.owner, e.grantee, e.grantor, e.privilege_type
    FROM (${acls(scope)}) acl CROSS JOIN LATERAL pg_catalog.aclexplode(acl.acl) e
   WHERE acl.acl IS DISTINCT FROM acl.init AND NOT (e.grantee = acl.owner AND e.grantor = acl.owner)`

/** Roles named whatever the privileges setting: policies, user mappings, functions that SET ROLE. */
const alwaysNamed = (scope: ScopeSql): string => `
  SELECT r.rolname AS name FROM pg_catalog.pg_policy p CROSS JOIN LATERAL pg_catalog.unnest(p.polroles) AS u(role)
    JOIN pg_catalog.pg_roles r ON r.oid = u.role
   WHERE ${scope.relation('p.polrelid')}
  UNION
  SELECT m.usename FROM pg_catalog.pg_user_mappings m WHERE m.umuser <> 0 AND ${scope.global}
  UNION
  SELECT pg_catalog.substr(c.cfg, pg_catalog.strpos(c.cfg, '=') + 1)
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace CROSS JOIN LATERAL pg_catalog.unnest(p.proconfig) AS c(cfg)
   WHERE c.cfg ~ '^(role|session_authorization)=' AND c.cfg !~ '=(none|default)$'
     AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')} AND ${scope.inSchema('p.pronamespace')}`

/** Objects the restore leaves out when the target login is not a superuser (see restore.ts). */
const SKIPPED_FOR_NON_SUPERUSER = `o.object !~ '^(event trigger|publication) '`

/** Roles named only when owners and grants are kept: owners, grantees, grantors, default privileges. */
const keepNamed = (ownedObjects: string, scope: ScopeSql) => `
  SELECT r.rolname AS name FROM (${ownedObjects}) o JOIN pg_catalog.pg_roles r ON r.oid = o.owner
  UNION
  SELECT r.rolname FROM (${aclEntries(scope)}) e JOIN pg_catalog.pg_roles r ON r.oid IN (e.grantee, e.grantor)
  UNION
  SELECT r.rolname FROM pg_catalog.pg_default_acl d CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) e
    JOIN pg_catalog.pg_roles r ON r.oid IN (d.defaclrole, e.grantee, e.grantor)
   WHERE CASE WHEN d.defaclnamespace <> 0 THEN ${scope.schema('d.defaclnamespace')} ELSE ${scope.global} END`

/**
 * The roles the dump names on the target: in policies (`CREATE POLICY … TO role` is written even with
 * --no-owner --no-acl), user mappings and functions' SET ROLE always; owners, grantees, grantors and
 * default privileges only when privileges are kept. Database and role settings are not in a dump
 * made without --create, so their roles are not named. PUBLIC is not a role.
 */
export async function rolesReferenced(
  source: pg.Client,
  privileges: 'skip' | 'keep',
  targetIsSuperuser = true,
  scope: ScopeSql = WHOLE_DATABASE
): Promise<string[]> {
  const ownedObjects = targetIsSuperuser
    ? owned(scope)
    : `SELECT * FROM (${owned(scope)}) o WHERE ${SKIPPED_FOR_NON_SUPERUSER}`
  const sql =
    privileges === 'keep' ? `${alwaysNamed(scope)} UNION ${keepNamed(ownedObjects, scope)}` : alwaysNamed(scope)
  return distinct(await names(source, `SELECT name FROM (${sql}) named WHERE name IS NOT NULL AND name <> ''`))
}

/** Roles the dump names that the target lacks; remembered per context, two probes ask. */
const missingByContext = new WeakMap<ProbeContext, Promise<string[]>>()

async function missingRoles(ctx: ProbeContext): Promise<string[]> {
  const target = ctx.target
  if (!target) return []
  let missing = missingByContext.get(ctx)
  if (!missing) {
    missing = rolesReferenced(ctx.source, ctx.privileges, ctx.targetIsSuperuser, ctx.scope).then(async (roles) => {
      const present = new Set(
        await names(target, 'SELECT rolname AS name FROM pg_catalog.pg_roles WHERE rolname = ANY($1)', [roles])
      )
      return roles.filter((role) => !present.has(role))
    })
    missingByContext.set(ctx, missing)
  }
  return missing
}

export const missingRolesProbe: Probe = {
  id: 'missing-roles',
  severity: (ctx) => (ctx.roles === 'fail' ? 'blocker' : 'warning'),
  message: (roles, ctx) =>
    ctx.roles === 'fail'
      ? `${count(roles.length, 'role')} the dump names ${roles.length === 1 ? 'does' : 'do'} not exist on the target: ${list(roles)}`
      : `${count(roles.length, 'role')} the dump names will be created NOLOGIN on the target: ${list(roles)}`,
  hint: (ctx) =>
    ctx.roles === 'fail'
      ? 'create them on the target first (CREATE ROLE name NOLOGIN, with LOGIN and a password for the roles your applications connect as), or set roles: create-missing'
      : 'they are created without LOGIN and without passwords: give LOGIN and a password on the target to the roles your applications connect as',
  find: missingRoles
}

/** With roles: create-missing the target login creates them, which takes CREATEROLE. */
export const rolesNotCreatableProbe: Probe = {
  id: 'roles-not-creatable',
  severity: 'blocker',
  message: (roles) =>
    `roles: create-missing, but the target login may not create roles, and ${count(roles.length, 'role')} ${roles.length === 1 ? 'is' : 'are'} missing: ${list(roles)}`,
  hint: 'create the roles on the target first, or use a target login with CREATEROLE',
  async find(ctx) {
    if (ctx.roles !== 'create-missing' || ctx.targetIsSuperuser || !ctx.target) return []
    const { rows } = await ctx.target.query<{ rolcreaterole: boolean }>(
      'SELECT rolsuper OR rolcreaterole AS rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user'
    )
    if (rows[0]?.rolcreaterole) return []
    return missingRoles(ctx)
  }
}

/** Each object the dump would restore with an owner, and that owner, sorted by owner. */
async function objectsWithOwners(ctx: ProbeContext): Promise<{ object: string; owner: string }[]> {
  const { rows } = await ctx.source.query<{ object: string; owner: string }>(
    `SELECT o.object, r.rolname AS owner FROM (${owned(ctx.scope)}) o JOIN pg_catalog.pg_roles r ON r.oid = o.owner
      WHERE ${SKIPPED_FOR_NON_SUPERUSER} ORDER BY 2, 1`
  )
  return rows
}

/**
 * With privileges kept the restore runs ALTER … OWNER TO role, which a non-superuser may only do for
 * roles it can SET ROLE to (16+; member of before). Roles it created itself it can grant itself
 * (it holds ADMIN OPTION on them); roles like the bootstrap superuser it can never take on.
 */
export const ownerNotAssignableProbe: Probe = {
  id: 'owner-not-assignable',
  severity: 'blocker',
  message: (objects) =>
    `${count(objects.length, 'object')} would be owned by roles the target login cannot assign ownership to: ${list(objects)}`,
  hint: 'ALTER … OWNER TO needs the target login to be able to SET ROLE to the owner: as a superuser, GRANT the role TO the login (WITH SET TRUE), change the owner on the source, or set privileges: skip',
  async find(ctx) {
    if (ctx.privileges !== 'keep' || ctx.targetIsSuperuser || !ctx.target) return []
    const rows = await objectsWithOwners(ctx)
    const owners = distinct(rows.map((row) => row.owner))
    const canSet =
      ctx.targetMajor >= 16 ? `pg_catalog.pg_has_role(r.oid, 'SET')` : `pg_catalog.pg_has_role(r.oid, 'MEMBER')`
    const canGrant =
      ctx.targetMajor >= 16
        ? `pg_catalog.pg_has_role(r.oid, 'MEMBER WITH ADMIN OPTION')`
        : `(NOT r.rolsuper AND (SELECT rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user))`
    const blocked = new Set(
      await names(
        ctx.target,
        `SELECT r.rolname AS name FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1) AND NOT ${canSet} AND NOT ${canGrant}`,
        [owners]
      )
    )
    return rows.filter((row) => blocked.has(row.owner)).map((row) => `${row.object} (owner ${row.owner})`)
  }
}

/**
 * A grant made by someone other than the owner is dumped inside SET SESSION AUTHORIZATION grantor,
 * which only a superuser may run.
 */
export const aclGrantorProbe: Probe = {
  id: 'acl-grantor-not-owner',
  severity: 'blocker',
  message: (objects) =>
    `${count(objects.length, 'grant')} ${objects.length === 1 ? 'was' : 'were'} made by a role other than the object's owner; the dump replays them with SET SESSION AUTHORIZATION, which needs a superuser: ${list(objects)}`,
  hint: 'on the source, revoke these grants and grant them again as the owner, or set privileges: skip',
  async find(ctx) {
    if (ctx.privileges !== 'keep' || ctx.targetIsSuperuser) return []
    return distinct(
      await names(
        ctx.source,
        `SELECT format('%s: %s to %s by %s', e.object, e.privilege_type, CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(ge.rolname) END,
                       pg_catalog.quote_ident(gr.rolname)) AS name
           FROM (${aclEntries(ctx.scope)}) e JOIN pg_catalog.pg_roles gr ON gr.oid = e.grantor LEFT JOIN pg_catalog.pg_roles ge ON ge.oid = e.grantee
          WHERE e.grantor <> e.owner`
      )
    )
  }
}

/**
 * With privileges kept, the restore role becomes each owner (pg/restore-role.ts), and an index
 * expression or a materialized view runs as its table's owner: an owner with rights beyond owning
 * would lend them to the source's code. The restore refuses it; the plan names the objects first.
 */
export const ownerWithPowerProbe: Probe = {
  id: 'owner-with-power',
  severity: 'blocker',
  message: (objects) =>
    `${count(objects.length, 'object')} would be owned on the target by roles with rights beyond owning them (an attribute such as SUPERUSER or CREATEROLE, a predefined role, or the target login), and the source's code in them runs as their owner: ${list(objects)}`,
  hint: 'own them on the source by roles without such rights on the target, set privileges: skip, or set accept-source-code: true to trust the source with them',
  async find(ctx) {
    if (ctx.privileges !== 'keep' || ctx.acceptSourceCode || !ctx.target) return []
    const rows = await objectsWithOwners(ctx)
    const flagged = new Set(
      await names(
        ctx.target,
        `SELECT r.rolname AS name FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1) AND EXISTS (
           SELECT 1 FROM pg_catalog.pg_roles x WHERE (x.oid = r.oid OR pg_catalog.pg_has_role(r.oid, x.oid, 'MEMBER')) AND ${powerful('x')})`,
        [distinct(rows.map((row) => row.owner))]
      )
    )
    return rows.filter((row) => flagged.has(row.owner)).map((row) => `${row.object} (owner ${row.owner})`)
  }
}

/** Without accept-source-code the target login creates the run's restore role (pg/restore-role.ts). */
export const restoreRoleNotCreatableProbe: Probe = {
  id: 'restore-role-not-creatable',
  severity: 'blocker',
  message: (roles) =>
    `the target login may not create roles, and the restore runs the source's code as a role the run creates: ${list(roles)}`,
  hint: "use a target login with CREATEROLE (a managed database's admin has it), or set accept-source-code: true to run the source's functions with the login's rights",
  async find(ctx) {
    if (ctx.acceptSourceCode || !ctx.target) return []
    const { rows } = await ctx.target.query<{ can: boolean; database: string }>(
      'SELECT rolsuper OR rolcreaterole AS can, pg_catalog.current_database() AS database FROM pg_catalog.pg_roles WHERE rolname = current_user'
    )
    if (rows[0]?.can !== false) return []
    return [restoreRoleName(ctx.targetDatabase ?? rows[0].database)]
  }
}
