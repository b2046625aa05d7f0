// Built-in functions, columns and settings the source has and the target does not.
import { objectMoves } from '../../scope/dependencies.js'
import { count, crosses, distinct, list, names, notInExtension, userNamespace } from './catalog.js'
import { KNOWN_REMOVALS, type Removal } from './known-removals.js'
import type { Probe, ProbeContext } from './types.js'

export { KNOWN_REMOVALS, type Removal, type RemovalKind } from './known-removals.js'

/** The known removals that lie between the two majors. */
export function knownRemovals(sourceMajor: number, targetMajor: number): Removal[] {
  return KNOWN_REMOVALS.filter((r) => r.removedIn !== undefined && crosses(sourceMajor, targetMajor, r.removedIn))
}

const keyOf = (r: Pick<Removal, 'kind' | 'name'>) => `${r.kind}:${r.name}`

/**
 * What the target lacks: built-in functions (by name), pg_catalog and information_schema columns and
 * settings the source has and the target does not, plus the known removals between the majors
 * (which add replacements, and extension columns the target database cannot show yet).
 */
async function removals(ctx: ProbeContext): Promise<Removal[]> {
  const known = knownRemovals(ctx.sourceMajor, ctx.targetMajor)
  if (!ctx.target || ctx.targetMajor <= ctx.sourceMajor) return known
  const functions = `SELECT DISTINCT proname AS name FROM pg_catalog.pg_proc WHERE pronamespace = 'pg_catalog'::pg_catalog.regnamespace`
  const columns = `SELECT format('%s.%s.%s', n.nspname, c.relname, a.attname) AS name FROM pg_catalog.pg_attribute a
                     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname IN ('pg_catalog', 'information_schema') AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND a.attnum > 0 AND NOT a.attisdropped`
  const settings = `SELECT name FROM pg_catalog.pg_settings`
  const found: Removal[] = []
  for (const [kind, sql] of [
    ['function', functions],
    ['column', columns],
    ['setting', settings]
  ] as const) {
    const [before, after] = await Promise.all([names(ctx.source, sql), names(ctx.target, sql)])
    const present = new Set(after)
    for (const name of before) if (!present.has(name)) found.push({ kind, name })
  }
  const byKey = new Map(known.map((r) => [keyOf(r), r]))
  const merged = found.map((r) => byKey.get(keyOf(r)) ?? r)
  const seen = new Set(merged.map(keyOf))
  return [...merged, ...known.filter((r) => !seen.has(keyOf(r)))]
}

const removalsByContext = new WeakMap<ProbeContext, Promise<Removal[]>>()

function removalsFor(ctx: ProbeContext): Promise<Removal[]> {
  let result = removalsByContext.get(ctx)
  if (!result) {
    result = removals(ctx)
    removalsByContext.set(ctx, result)
  }
  return result
}

/** How a removal reads in a finding: `pg_stop_backup() → pg_backup_stop()`. */
export function describeRemoval(r: Removal): string {
  const name =
    r.kind === 'function'
      ? `${r.name}()`
      : r.kind === 'column'
        ? r.name.replace(/^pg_catalog\./, '')
        : `setting ${r.name}`
  return r.replacement ? `${name} → ${r.replacement}` : name
}

const escape = (name: string) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** True when SQL text mentions the removed name: a call, a column of the relation, or a setting read or set. */
export function mentions(text: string, r: Removal): boolean {
  if (r.kind === 'function') return new RegExp(`(?<![\\w$])"?${escape(r.name)}"?\\s*\\(`, 'i').test(text)
  if (r.kind === 'column') {
    const parts = r.name.split('.')
    const [relation, column] = parts.slice(-2)
    const word = (w: string) => new RegExp(`(?<![\\w$])"?${escape(w)}"?(?![\\w$])`, 'i')
    return word(relation).test(text) && word(column).test(text)
  }
  const setting = escape(r.name)
  return new RegExp(
    `(current_setting|set_config)\\s*\\(\\s*'${setting}'|\\bSHOW\\s+"?${setting}\\b|\\bSET\\s+(LOCAL\\s+|SESSION\\s+)?"?${setting}\\b`,
    'i'
  ).test(text)
}

/** Definitions the restore parses: a removed function or column there makes the restore fail. */
function restoredDefinitions(ctx: ProbeContext): string {
  const atomic =
    ctx.sourceMajor >= 14
      ? `UNION ALL
         SELECT format('function %I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), pg_catalog.pg_get_functiondef(p.oid)
           FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
          WHERE p.prosqlbody IS NOT NULL AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')}
            AND ${ctx.scope.inSchema('p.pronamespace')}`
      : ''
  return `
    SELECT format('%s %I.%I', CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, n.nspname, c.relname) AS object,
           pg_catalog.pg_get_viewdef(c.oid) AS body
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('v', 'm') AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_class', 'c.oid')}
       AND ${ctx.scope.relation('c.oid')}
    UNION ALL
    SELECT format('index %I.%I', n.nspname, c.relname), pg_catalog.pg_get_indexdef(i.indexrelid)
      FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL) AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_class', 'i.indrelid')}
       AND ${ctx.scope.relation('i.indrelid')}
    UNION ALL
    SELECT format('constraint %I on %I.%s', co.conname, n.nspname, COALESCE(pg_catalog.quote_ident(t.relname), pg_catalog.format_type(co.contypid, NULL))),
           pg_catalog.pg_get_constraintdef(co.oid)
      FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_namespace n ON n.oid = co.connamespace LEFT JOIN pg_catalog.pg_class t ON t.oid = co.conrelid
     WHERE co.contype = 'c' AND ${userNamespace('n.nspname')}
       AND CASE WHEN co.conrelid <> 0 THEN ${ctx.scope.relation('co.conrelid')} ELSE ${ctx.scope.inSchema('co.connamespace')} END
    UNION ALL
    SELECT format('default %I.%I.%I', n.nspname, c.relname, a.attname), pg_catalog.pg_get_expr(d.adbin, d.adrelid)
      FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      JOIN pg_catalog.pg_class c ON c.oid = d.adrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_class', 'c.oid')} AND ${ctx.scope.relation('c.oid')}
    UNION ALL
    SELECT format('policy %I on %I.%I', p.polname, n.nspname, c.relname),
           concat_ws(' ', pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
      FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE ${ctx.scope.relation('c.oid')}
    UNION ALL
    SELECT format('trigger %I on %I.%I', t.tgname, n.nspname, c.relname), pg_catalog.pg_get_triggerdef(t.oid)
      FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT t.tgisinternal AND t.tgqual IS NOT NULL AND ${userNamespace('n.nspname')} AND ${ctx.scope.relation('c.oid')}
    UNION ALL
    SELECT format('rule %I on %I.%I', r.rulename, n.nspname, c.relname), pg_catalog.pg_get_ruledef(r.oid)
      FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE r.rulename <> '_RETURN' AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_class', 'c.oid')} AND ${ctx.scope.relation('c.oid')}
    ${atomic}`
}

/** Function bodies kept as text: restored without a look (check_function_bodies is off), they fail when run. */
function functionBodies(ctx: ProbeContext): string {
  const atomic = ctx.sourceMajor >= 14 ? 'AND p.prosqlbody IS NULL' : ''
  return `
    SELECT format('function %I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS object, p.prosrc AS body
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace JOIN pg_catalog.pg_language l ON l.oid = p.prolang
     WHERE l.lanname NOT IN ('c', 'internal') ${atomic} AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')}
       AND ${ctx.scope.inSchema('p.pronamespace')}`
}

/**
 * Views and SQL-standard function bodies record which columns they read (pg_depend), also of
 * system views (pg_stat_bgwriter is not pinned), so those are matched exactly.
 */
async function columnDependents(
  ctx: ProbeContext
): Promise<{ object: string; column: string; extension: string | null }[]> {
  const { rows } = await ctx.source.query<{ object: string; column: string; extension: string | null }>(
    `SELECT CASE WHEN d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                 THEN (SELECT format('%s %I.%I', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'rule on' END, n.nspname, c.relname)
                         FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                        WHERE r.oid = d.objid)
                 ELSE pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) END AS object,
            CASE WHEN x.extname IS NULL THEN format('%s.%s.%s', rn.nspname, rc.relname, ra.attname) ELSE format('%s.%s', rc.relname, ra.attname) END AS column,
            x.extname AS extension
       FROM pg_catalog.pg_depend d
       JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
       JOIN pg_catalog.pg_attribute ra ON ra.attrelid = rc.oid AND ra.attnum = d.refobjsubid
       LEFT JOIN pg_catalog.pg_depend xd ON xd.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND xd.objid = rc.oid AND xd.deptype = 'e'
       LEFT JOIN pg_catalog.pg_extension x ON x.oid = xd.refobjid
      WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjsubid > 0
        AND d.classid IN ('pg_catalog.pg_rewrite'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass)
        AND (rn.nspname IN ('pg_catalog', 'information_schema') OR x.extname IS NOT NULL)
        AND ${objectMoves(ctx.scope, 'd.classid', 'd.objid')}`
  )
  return rows
}

interface Uses {
  /** Restore fails: restored definitions that call removed functions or read removed columns. */
  restore: string[]
  /** Restores, fails when run: function bodies, and settings read anywhere. */
  runtime: string[]
}

async function scanSource(ctx: ProbeContext): Promise<Uses> {
  const all = await removalsFor(ctx)
  const uses: Uses = { restore: [], runtime: [] }
  if (all.length === 0) return uses
  const columns = new Map(
    all.filter((r) => r.kind === 'column').map((r) => [r.extension ? `${r.extension}:${r.name}` : r.name, r])
  )
  for (const dependent of await columnDependents(ctx)) {
    const removal = columns.get(dependent.extension ? `${dependent.extension}:${dependent.column}` : dependent.column)
    if (removal) uses.restore.push(`${dependent.object} (${describeRemoval(removal)})`)
  }
  const functions = all.filter((r) => r.kind === 'function')
  const settings = all.filter((r) => r.kind === 'setting')
  const { rows: restored } = await ctx.source.query<{ object: string; body: string | null }>(restoredDefinitions(ctx))
  for (const { object, body } of restored) {
    if (!body) continue
    for (const r of functions) if (mentions(body, r)) uses.restore.push(`${object} (${describeRemoval(r)})`)
    for (const r of settings) if (mentions(body, r)) uses.runtime.push(`${object} (${describeRemoval(r)})`)
  }
  const { rows: bodies } = await ctx.source.query<{ object: string; body: string | null }>(functionBodies(ctx))
  for (const { object, body } of bodies) {
    if (!body) continue
    for (const r of all) if (mentions(body, r)) uses.runtime.push(`${object} (${describeRemoval(r)})`)
  }
  return { restore: distinct(uses.restore), runtime: distinct(uses.runtime) }
}

const usesByContext = new WeakMap<ProbeContext, Promise<Uses>>()

function usesFor(ctx: ProbeContext): Promise<Uses> {
  let result = usesByContext.get(ctx)
  if (!result) {
    result = scanSource(ctx)
    usesByContext.set(ctx, result)
  }
  return result
}

const REFERENCE = 'PostgreSQL 15, 16 and 17 release notes, Migration to Version 15/16/17'

export const removedBuiltinsProbe: Probe = {
  id: 'removed-builtins',
  severity: 'blocker',
  reference: REFERENCE,
  message: (objects) =>
    `${count(objects.length, 'object')} ${objects.length === 1 ? 'uses' : 'use'} built-in functions or columns the target no longer has, so the restore would fail: ${list(objects)}`,
  hint: 'on the source, rewrite them with the replacement shown (or drop them), then migrate',
  find: async (ctx) => (await usesFor(ctx)).restore
}

export const removedBuiltinsInCodeProbe: Probe = {
  id: 'removed-builtins-in-code',
  severity: 'warning',
  reference: REFERENCE,
  message: (objects) =>
    `${count(objects.length, 'object')} ${objects.length === 1 ? 'refers' : 'refer'} to built-in functions, columns or settings the target no longer has; ${objects.length === 1 ? 'it restores' : 'they restore'} but will fail when run: ${list(objects)}`,
  hint: 'update them to the replacement shown, on the source before migrating or on the target after',
  find: async (ctx) => (await usesFor(ctx)).runtime
}

/** Validation queries run on both sides after the restore: one the target cannot run fails the verification. */
export const validationQueriesProbe: Probe = {
  id: 'validation-query-removed-builtins',
  severity: 'blocker',
  reference: REFERENCE,
  message: (objects) =>
    `${count(objects.length, 'validation query', 'validation queries')} ${objects.length === 1 ? 'uses' : 'use'} built-in functions, columns or settings the target no longer has: ${list(objects)}`,
  hint: 'change the validation queries so they run on both servers (for example, read checkpoint counts from pg_stat_checkpointer only on the target side)',
  async find(ctx) {
    if (ctx.validationQueries.length === 0) return []
    const all = await removalsFor(ctx)
    return ctx.validationQueries.flatMap((query, index) =>
      all.filter((r) => mentions(query, r)).map((r) => `query ${index + 1} (${describeRemoval(r)})`)
    )
  }
}

/** Settings a function sets (CREATE FUNCTION … SET name): an unknown name makes CREATE FUNCTION fail on the target. */
export const removedSettingInFunctionProbe: Probe = {
  id: 'removed-setting-in-function',
  severity: 'blocker',
  reference: REFERENCE,
  message: (objects) =>
    `${count(objects.length, 'function')} ${objects.length === 1 ? 'sets' : 'set'} a parameter the target does not know, so CREATE FUNCTION fails there: ${list(objects)}`,
  hint: 'on the source, ALTER FUNCTION … RESET the parameter (or SET its replacement), then migrate',
  async find(ctx) {
    const settings = (await removalsFor(ctx)).filter((r) => r.kind === 'setting')
    if (settings.length === 0) return []
    const { rows } = await ctx.source.query<{ object: string; setting: string }>(
      `SELECT format('function %I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS object,
              pg_catalog.split_part(cfg.setting, '=', 1) AS setting
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace CROSS JOIN LATERAL pg_catalog.unnest(p.proconfig) AS cfg(setting)
        WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')} AND ${ctx.scope.inSchema('p.pronamespace')}
        ORDER BY 1`
    )
    const byName = new Map(settings.map((r) => [r.name, r]))
    return rows.flatMap(({ object, setting }) => {
      const r = byName.get(setting.toLowerCase())
      return r ? [`${object} SET ${describeRemoval(r).replace(/^setting /, '')}`] : []
    })
  }
}

/** ALTER DATABASE / ALTER ROLE … IN DATABASE settings are not in a dump without --create; removed ones could not be set anyway. */
export const removedSettingInDatabaseProbe: Probe = {
  id: 'removed-setting-in-database',
  severity: 'warning',
  reference: REFERENCE,
  message: (objects) =>
    `${count(objects.length, 'database or role setting')} ${objects.length === 1 ? 'names a parameter' : 'name parameters'} the target does not know; ${objects.length === 1 ? 'it is' : 'they are'} not carried over: ${list(objects)}`,
  hint: 'set the replacement on the target with ALTER DATABASE or ALTER ROLE … IN DATABASE, if still wanted',
  async find(ctx) {
    const settings = (await removalsFor(ctx)).filter((r) => r.kind === 'setting')
    if (settings.length === 0) return []
    const { rows } = await ctx.source.query<{ object: string; setting: string }>(
      `SELECT CASE WHEN s.setrole = 0 THEN format('ALTER DATABASE %I', d.datname) ELSE format('ALTER ROLE %I IN DATABASE %I', r.rolname, d.datname) END AS object,
              pg_catalog.split_part(cfg.setting, '=', 1) AS setting
         FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
         LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole CROSS JOIN LATERAL pg_catalog.unnest(s.setconfig) AS cfg(setting)
        WHERE d.datname = pg_catalog.current_database() AND ${ctx.scope.global}
        ORDER BY 1`
    )
    const byName = new Map(settings.map((r) => [r.name, r]))
    return rows.flatMap(({ object, setting }) => {
      const r = byName.get(setting.toLowerCase())
      return r ? [`${object} SET ${describeRemoval(r).replace(/^setting /, '')}`] : []
    })
  }
}
