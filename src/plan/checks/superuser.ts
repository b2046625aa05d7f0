// Objects only a superuser may create, for targets whose login is not one (managed databases).
import { parameterVerdicts } from '../../settings/carry-settings.js'
import {
  count,
  crosses,
  dumpedAsFunction,
  FIRST_NORMAL_OID,
  list,
  names,
  notInExtension,
  userNamespace
} from './catalog.js'
import type { Probe, ProbeContext } from './types.js'

/** The restore leaves event triggers out for a non-superuser (CREATE EVENT TRIGGER needs one). */
export const eventTriggersProbe: Probe = {
  id: 'event-triggers-not-migrated',
  severity: 'warning',
  message: (objects) =>
    `${count(objects.length, 'event trigger')} will not be migrated (only a superuser may create one): ${list(objects)}`,
  hint: 'recreate them on the target as a superuser after the migration, if the provider allows it; until then they do not fire',
  async find(ctx) {
    if (ctx.targetIsSuperuser) return []
    return names(
      ctx.source,
      `SELECT format('event trigger %I', evtname) AS name FROM pg_catalog.pg_event_trigger o
        WHERE ${notInExtension('pg_event_trigger', 'o.oid')} AND ${ctx.scope.global} ORDER BY 1`
    )
  }
}

/** Subscriptions are never restored: a copy would start pulling changes from the publisher at once. */
export const subscriptionsProbe: Probe = {
  id: 'subscriptions-not-migrated',
  severity: 'warning',
  message: (objects) => `${count(objects.length, 'subscription')} will not be migrated: ${list(objects)}`,
  hint: 'create them again on the target when it should start replicating (CREATE SUBSCRIPTION needs a superuser, or pg_create_subscription from 16 on)',
  find: (ctx) =>
    names(
      ctx.source,
      `SELECT format('subscription %I', subname) AS name FROM pg_catalog.pg_subscription
        WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) AND ${ctx.scope.global} ORDER BY 1`
    )
}

/** The restore leaves publications out for a non-superuser (FOR ALL TABLES needs one; the rest follow the tables' owner). */
export const publicationsProbe: Probe = {
  id: 'publications-not-migrated',
  severity: 'warning',
  message: (objects) =>
    `${count(objects.length, 'publication')} will not be migrated (the target login is not a superuser): ${list(objects)}`,
  hint: 'create them again on the target (CREATE PUBLICATION … FOR TABLE …) once the subscribers are ready to move',
  async find(ctx) {
    if (ctx.targetIsSuperuser) return []
    return names(
      ctx.source,
      `SELECT format('publication %I%s', pubname, CASE WHEN puballtables THEN ' (FOR ALL TABLES)' ELSE '' END) AS name FROM pg_catalog.pg_publication
        WHERE ${ctx.scope.global} ORDER BY 1`
    )
  }
}

/**
 * Functions in an untrusted language (C, internal, plperlu, plpython3u, pltclu…) can only be created
 * by a superuser. Only the functions the dump creates with CREATE FUNCTION count: aggregates (whose
 * prolang is internal) are CREATE AGGREGATE, and a range type's constructors come with CREATE TYPE.
 */
export const untrustedFunctionsProbe: Probe = {
  id: 'untrusted-language-functions',
  severity: 'blocker',
  message: (objects) =>
    `${count(objects.length, 'function')} ${objects.length === 1 ? 'is' : 'are'} written in an untrusted language, which only a superuser may use: ${list(objects)}`,
  hint: 'rewrite them in a trusted language (SQL, PL/pgSQL, PL/Perl…) or drop them on the source; otherwise migrate as a superuser of the target, with accept-source-code: true',
  async find(ctx) {
    if (ctx.targetIsSuperuser) return []
    // Python 2 functions are reported by pg15-plpython2 when that crossing applies: no fix here helps them.
    const skip = crosses(ctx.sourceMajor, ctx.targetMajor, 15) ? ['plpythonu', 'plpython2u'] : []
    return names(
      ctx.source,
      `SELECT format('function %I.%I(%s) (%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid), l.lanname) AS name
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace JOIN pg_catalog.pg_language l ON l.oid = p.prolang
        WHERE NOT l.lanpltrusted AND l.lanname <> ALL($1) AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')}
          AND ${dumpedAsFunction('p')} AND ${ctx.scope.inSchema('p.pronamespace')}
        ORDER BY 1`,
      [skip]
    )
  }
}

/**
 * Other objects whose CREATE needs a superuser: procedural languages, foreign-data wrappers, access
 * methods, operator classes and families, text search parsers and templates, base and shell types,
 * aggregates whose state is of type internal, LEAKPROOF functions, binary-coercible casts, and casts
 * and transforms on types the restoring login will not own (they need ownership of the type).
 * Extension members are left out: the extension script creates them. So are objects another CREATE
 * makes by itself (array and multirange types, range constructors), which the dump does not write.
 */
export const superuserObjectsProbe: Probe = {
  id: 'superuser-only-objects',
  severity: 'blocker',
  message: (objects) =>
    `${count(objects.length, 'object')} can only be created by a superuser, and the target login is not one: ${list(objects)}`,
  hint: 'drop them from the source if unused (or replace them there by an extension the target offers that provides them), or migrate as a superuser of the target, with accept-source-code: true',
  async find(ctx) {
    if (ctx.targetIsSuperuser) return []
    // Python 2 is reported by pg15-plpython2 when that crossing applies.
    const skip = crosses(ctx.sourceMajor, ctx.targetMajor, 15) ? ['plpythonu', 'plpython2u'] : []
    return names(
      ctx.source,
      `${globalObjectsSql(ctx)}\n       UNION ALL\n${schemaObjectsSql(ctx)}\n       ORDER BY 1`,
      [skip]
    )
  }
}

/** Objects of the whole database only a superuser creates: languages, wrappers, access methods, transforms, casts. */
function globalObjectsSql(ctx: ProbeContext): string {
  // A type the restore creates (user schema, not from an extension) is owned by the restoring login.
  const restoredType = (oid: string) =>
    `EXISTS (SELECT 1 FROM pg_catalog.pg_type rt JOIN pg_catalog.pg_namespace rtn ON rtn.oid = rt.typnamespace
              WHERE rt.oid = ${oid} AND rt.oid >= ${FIRST_NORMAL_OID} AND ${userNamespace('rtn.nspname')} AND ${notInExtension('pg_type', 'rt.oid')}
                AND ${ctx.scope.inSchema('rt.typnamespace')})`
  return `SELECT format('language %I', l.lanname) AS name FROM pg_catalog.pg_language l
        WHERE l.lanispl AND l.oid >= ${FIRST_NORMAL_OID} AND l.lanname <> ALL($1) AND ${notInExtension('pg_language', 'l.oid')} AND ${ctx.scope.global}
       UNION ALL
       SELECT format('foreign-data wrapper %I', w.fdwname) FROM pg_catalog.pg_foreign_data_wrapper w
        WHERE w.oid >= ${FIRST_NORMAL_OID} AND ${notInExtension('pg_foreign_data_wrapper', 'w.oid')} AND ${ctx.scope.global}
       UNION ALL
       SELECT format('access method %I', a.amname) FROM pg_catalog.pg_am a
        WHERE a.oid >= ${FIRST_NORMAL_OID} AND ${notInExtension('pg_am', 'a.oid')} AND ${ctx.scope.global}
       UNION ALL
       SELECT format('transform for %s language %I', pg_catalog.format_type(tr.trftype, NULL), l.lanname)
         FROM pg_catalog.pg_transform tr JOIN pg_catalog.pg_language l ON l.oid = tr.trflang
        WHERE tr.oid >= ${FIRST_NORMAL_OID} AND ${notInExtension('pg_transform', 'tr.oid')} AND ${ctx.scope.global}
          AND (NOT l.lanpltrusted OR NOT ${restoredType('tr.trftype')})
       UNION ALL
       SELECT format('cast (%s AS %s)%s', pg_catalog.format_type(c.castsource, NULL), pg_catalog.format_type(c.casttarget, NULL),
                     CASE WHEN c.castmethod = 'b' THEN ' WITHOUT FUNCTION' ELSE ' between types the target login will not own' END)
         FROM pg_catalog.pg_cast c
        WHERE c.oid >= ${FIRST_NORMAL_OID} AND ${notInExtension('pg_cast', 'c.oid')} AND ${ctx.scope.global}
          AND (c.castmethod = 'b' OR NOT (${restoredType('c.castsource')} OR ${restoredType('c.casttarget')}))`
}

/** Objects in the dumped schemas only a superuser creates: operator classes and families, text search parsers and templates, base types, and more. */
function schemaObjectsSql(ctx: ProbeContext): string {
  return `       SELECT format('operator class %I.%I USING %I', n.nspname, o.opcname, a.amname)
         FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_namespace n ON n.oid = o.opcnamespace JOIN pg_catalog.pg_am a ON a.oid = o.opcmethod
         JOIN pg_catalog.pg_opfamily f ON f.oid = o.opcfamily
        WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_opclass', 'o.oid')} AND ${ctx.scope.inSchema('o.opcnamespace')}
          AND (f.opfname <> o.opcname OR f.opfnamespace <> o.opcnamespace)
       UNION ALL
       -- A class made without FAMILY makes a family of its name, which the dump creates on its own and
       -- DROP OPERATOR CLASS leaves behind: the pair is named once, by the family, whose DROP takes both.
       SELECT format('operator family %I.%I USING %I%s', n.nspname, f.opfname, a.amname,
                     CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_opclass o WHERE o.opcfamily = f.oid AND o.opcname = f.opfname
                                          AND o.opcnamespace = f.opfnamespace)
                          THEN ' (with its operator class of the same name)' ELSE '' END)
         FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace JOIN pg_catalog.pg_am a ON a.oid = f.opfmethod
        WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_opfamily', 'f.oid')} AND ${ctx.scope.inSchema('f.opfnamespace')}
       UNION ALL
       SELECT format('text search parser %I.%I', n.nspname, p.prsname) FROM pg_catalog.pg_ts_parser p JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace
        WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_ts_parser', 'p.oid')} AND ${ctx.scope.inSchema('p.prsnamespace')}
       UNION ALL
       SELECT format('text search template %I.%I', n.nspname, t.tmplname) FROM pg_catalog.pg_ts_template t JOIN pg_catalog.pg_namespace n ON n.oid = t.tmplnamespace
        WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_ts_template', 't.oid')} AND ${ctx.scope.inSchema('t.tmplnamespace')}
       UNION ALL
       SELECT format('%s %I.%I', CASE t.typtype WHEN 'p' THEN 'shell type' ELSE 'base type' END, n.nspname, t.typname)
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
        WHERE (t.typtype = 'b' OR (t.typtype = 'p' AND NOT t.typisdefined)) AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_type', 't.oid')}
          AND ${ctx.scope.inSchema('t.typnamespace')}
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)
       UNION ALL
       SELECT format('aggregate %I.%I(%s) with a transition state of type internal', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
         FROM pg_catalog.pg_aggregate a JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE 'pg_catalog.internal'::pg_catalog.regtype IN (a.aggtranstype, a.aggmtranstype) AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')}
          AND ${ctx.scope.inSchema('p.pronamespace')}
       UNION ALL
       SELECT format('LEAKPROOF function %I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE p.proleakproof AND ${dumpedAsFunction('p')} AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')}
          AND ${ctx.scope.inSchema('p.pronamespace')}`
}

/** Without accept-source-code the restore runs as the run's restore role, which has only what PUBLIC is granted. */
const restoreRunsAsLogin = (ctx: ProbeContext): boolean => ctx.acceptSourceCode === true

/**
 * CREATE FUNCTION … SET name = value needs the right to set the parameter, as SET does: a superuser's
 * parameters (log_statement…) and custom ones the target does not know need a superuser, or from 15
 * a granted SET. Parameters the target lacks altogether are reported by removed-setting-in-function.
 * The restore role makes the functions unless accept-source-code is true: then a grant to the login counts.
 */
export const functionSettingsProbe: Probe = {
  id: 'function-setting-not-settable',
  severity: 'blocker',
  message: (objects, ctx) =>
    `${count(objects.length, 'function')} ${objects.length === 1 ? 'sets' : 'set'} a parameter the ${restoreRunsAsLogin(ctx) ? 'target login' : "run's restore role"} may not set, so CREATE FUNCTION fails: ${list(objects, 3)}`,
  hint: (ctx) =>
    restoreRunsAsLogin(ctx)
      ? 'on the source, ALTER FUNCTION … RESET the parameter (or set it another way), or have a superuser on the target GRANT SET ON PARAMETER … TO the login (15 and later)'
      : "on the source, ALTER FUNCTION … RESET the parameter (or set it another way), or have a superuser on the target GRANT SET ON PARAMETER … TO the login (15 and later) and set accept-source-code: true (the restore's own role holds only what PUBLIC may do)",
  async find(ctx) {
    if (ctx.targetIsSuperuser || !ctx.target) return []
    const { rows } = await ctx.source.query<{ fn: string; setting: string }>(
      `SELECT format('%s %I.%I(%s)', CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname, p.proname,
                     pg_catalog.pg_get_function_identity_arguments(p.oid)) AS fn,
              pg_catalog.split_part(cfg.setting, '=', 1) AS setting
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace CROSS JOIN LATERAL pg_catalog.unnest(p.proconfig) AS cfg(setting)
        WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')} AND ${ctx.scope.inSchema('p.pronamespace')}
        ORDER BY 1, 2`
    )
    if (rows.length === 0) return []
    const verdicts = await parameterVerdicts(
      ctx.target,
      rows.map((row) => row.setting),
      ctx.targetMajor,
      ctx.targetIsSuperuser,
      restoreRunsAsLogin(ctx) ? undefined : 'public'
    )
    return rows.flatMap(({ fn, setting }) => {
      const verdict = verdicts.get(setting)
      return verdict && !verdict.settable && !verdict.removed ? [`${fn} SET ${setting}: ${verdict.reason}`] : []
    })
  }
}

/**
 * CREATE SERVER needs USAGE on its foreign-data wrapper. A wrapper the restore creates (a trusted
 * extension) belongs to the login; one already in the target database, installed by a superuser,
 * does not, and the login may lack USAGE on it.
 */
export const foreignServerUsageProbe: Probe = {
  id: 'foreign-server-wrapper-usage',
  severity: 'blocker',
  message: (objects, ctx) =>
    `${count(objects.length, 'foreign server')} ${objects.length === 1 ? 'uses' : 'use'} a foreign-data wrapper the target database already has and the ${restoreRunsAsLogin(ctx) ? 'target login' : "run's restore role"} may not use: ${list(objects)}`,
  hint: (ctx) =>
    restoreRunsAsLogin(ctx)
      ? 'have the wrapper owner or a superuser on the target run GRANT USAGE ON FOREIGN DATA WRAPPER … TO the login, then run again'
      : "have the wrapper owner or a superuser on the target run GRANT USAGE ON FOREIGN DATA WRAPPER … TO the login, and set accept-source-code: true (the restore's own role holds only what PUBLIC may do); or GRANT it TO PUBLIC",
  async find(ctx) {
    if (ctx.targetIsSuperuser || !ctx.target) return []
    // Planned from the maintenance database, the target does not exist yet: created from template0, it has no wrapper.
    const { rows: here } = await ctx.target.query<{ name: string }>('SELECT pg_catalog.current_database() AS name')
    if (ctx.targetDatabase !== undefined && here[0].name !== ctx.targetDatabase) return []
    const { rows: servers } = await ctx.source.query<{ server: string; wrapper: string }>(
      `SELECT format('server %I (foreign-data wrapper %I)', s.srvname, w.fdwname) AS server, w.fdwname AS wrapper
         FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
        WHERE ${notInExtension('pg_foreign_server', 's.oid')} AND ${ctx.scope.global} ORDER BY 1`
    )
    if (servers.length === 0) return []
    const unusable = new Set(
      await names(
        ctx.target,
        `SELECT fdwname AS name FROM pg_catalog.pg_foreign_data_wrapper
          WHERE fdwname = ANY($1) AND NOT pg_catalog.has_foreign_data_wrapper_privilege(${restoreRunsAsLogin(ctx) ? '' : `'public', `}oid, 'USAGE')`,
        [servers.map((s) => s.wrapper)]
      )
    )
    return servers.filter((s) => unusable.has(s.wrapper)).map((s) => s.server)
  }
}
