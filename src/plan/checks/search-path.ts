// Functions that only work with the right search_path, used where the restore evaluates them.
import type pg from 'pg'
import { count, list, notInExtension, readOnly, userNamespace } from './catalog.js'
import type { Probe, ProbeContext } from './types.js'

/**
 * pg_restore runs with an empty search_path, and PostgreSQL 17 runs ANALYZE, CREATE INDEX, REFRESH
 * MATERIALIZED VIEW, REINDEX and VACUUM with search_path = pg_catalog, pg_temp. A function called by
 * an index, a check constraint, a generated column or a materialized view, with no SET search_path of
 * its own, then fails if its body names anything outside pg_catalog unqualified.
 */
interface Candidate {
  oid: number
  fn: string
  language: string
  used_by: string
}

const SEARCH_PATH_ERRORS = new Set(['42883', '42P01', '42704', '3F000'])

async function candidates(ctx: ProbeContext): Promise<Candidate[]> {
  const atomic = ctx.sourceMajor >= 14 ? 'AND p.prosqlbody IS NULL' : ''
  const generated = ctx.sourceMajor >= 12 ? `AND a.attgenerated <> ''` : 'AND false'
  const { rows } = await ctx.source.query<Candidate>(
    `WITH used(fn, used_by) AS (
       SELECT d.refobjid, format('index %I.%I', n.nspname, c.relname)
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid AND c.relkind IN ('i', 'I')
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
       UNION ALL
       SELECT d.refobjid, CASE WHEN co.conrelid <> 0 THEN format('constraint %I on %I.%I', co.conname, tn.nspname, t.relname)
                               ELSE format('constraint %I on domain %s', co.conname, co.contypid::pg_catalog.regtype) END
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_constraint co ON co.oid = d.objid AND co.contype = 'c'
         LEFT JOIN pg_catalog.pg_class t ON t.oid = co.conrelid LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
        WHERE d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
       UNION ALL
       SELECT d.refobjid, format('generated column %I.%I.%I', n.nspname, c.relname, a.attname)
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
         JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum ${generated}
         JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
       UNION ALL
       SELECT d.refobjid, format('materialized view %I.%I', n.nspname, c.relname)
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
         JOIN pg_catalog.pg_class c ON c.oid = r.ev_class AND c.relkind = 'm' JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
     )
     SELECT p.oid::int AS oid, format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS fn,
            l.lanname AS language, pg_catalog.string_agg(DISTINCT u.used_by, ', ' ORDER BY u.used_by) AS used_by
       FROM used u JOIN pg_catalog.pg_proc p ON p.oid = u.fn JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
       JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')} AND l.lanname NOT IN ('c', 'internal') ${atomic}
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) AS cfg(setting) WHERE cfg.setting LIKE 'search\\_path=%')
      GROUP BY p.oid, n.nspname, p.proname, l.lanname
      ORDER BY 2`
  )
  return rows
}

interface Verdicts {
  /** SQL functions whose body fails to resolve with the restore's search_path. */
  failing: string[]
  /** Functions in other languages: names are resolved only when they run, so no check is possible. */
  unverified: string[]
}

/**
 * SQL function bodies are checked for real: the language validator parses them with
 * search_path = pg_catalog, pg_temp, as the restore and PostgreSQL 17's maintenance commands will.
 */
async function verify(source: pg.Client, all: Candidate[]): Promise<Verdicts> {
  const verdicts: Verdicts = { failing: [], unverified: [] }
  const sql = all.filter((c) => c.language === 'sql')
  for (const c of all.filter((c) => c.language !== 'sql'))
    verdicts.unverified.push(`${c.fn} (${c.language}), used by ${c.used_by}`)
  if (sql.length === 0) return verdicts
  await readOnly(source, async () => {
    await source.query(`SET LOCAL search_path = pg_catalog, pg_temp`)
    await source.query(`SET LOCAL check_function_bodies = on`)
    for (const c of sql) {
      await source.query('SAVEPOINT probe_function')
      try {
        await source.query('SELECT pg_catalog.fmgr_sql_validator($1::pg_catalog.oid)', [c.oid])
        await source.query('RELEASE SAVEPOINT probe_function')
      } catch (error) {
        await source.query('ROLLBACK TO SAVEPOINT probe_function')
        const { code, message } = error as { code?: string; message: string }
        if (code && SEARCH_PATH_ERRORS.has(code)) verdicts.failing.push(`${c.fn}, used by ${c.used_by}: ${message}`)
        else verdicts.unverified.push(`${c.fn} (sql, not checked: ${message}), used by ${c.used_by}`)
      }
    }
  })
  return verdicts
}

const verdictsByContext = new WeakMap<ProbeContext, Promise<Verdicts>>()

function verdicts(ctx: ProbeContext): Promise<Verdicts> {
  let result = verdictsByContext.get(ctx)
  if (!result) {
    result = candidates(ctx).then((all) => verify(ctx.source, all))
    verdictsByContext.set(ctx, result)
  }
  return result
}

const REFERENCE =
  'PostgreSQL 17 release notes, Migration to Version 17 (safe search_path during maintenance operations); pg_restore runs with an empty search_path'

export const searchPathProbe: Probe = {
  id: 'function-search-path',
  severity: 'blocker',
  reference: REFERENCE,
  message: (objects) =>
    `${count(objects.length, 'function')} used by indexes, constraints, generated columns or materialized views ${objects.length === 1 ? 'names' : 'name'} objects outside pg_catalog without a schema and ${objects.length === 1 ? 'has' : 'have'} no SET search_path: the restore fails on them (and PostgreSQL 17 maintenance would too): ${list(objects, 3)}`,
  hint: 'on the source, give each function its own search path (ALTER FUNCTION … SET search_path = public, pg_temp) or schema-qualify the names in its body',
  find: async (ctx) => (await verdicts(ctx)).failing
}

export const searchPathUnverifiedProbe: Probe = {
  id: 'function-search-path-unverified',
  severity: 'warning',
  reference: REFERENCE,
  message: (objects) =>
    `${count(objects.length, 'function')} used by indexes, constraints, generated columns or materialized views ${objects.length === 1 ? 'has' : 'have'} no SET search_path; if ${objects.length === 1 ? 'its body names' : 'their bodies name'} objects outside pg_catalog without a schema, the restore fails: ${list(objects, 3)}`,
  hint: 'on the source, give each function its own search path (ALTER FUNCTION … SET search_path = public, pg_temp) or make sure its body qualifies every name',
  find: async (ctx) => (await verdicts(ctx)).unverified
}
