// Functions that only work with the right search_path, used where the restore evaluates them.
import type pg from 'pg'
import { count, list, notInExtension, readOnly, userNamespace } from './catalog.js'
import type { Probe, ProbeContext } from './types.js'

/**
 * pg_restore runs with an empty search_path, and PostgreSQL 17 runs ANALYZE, CREATE INDEX, REFRESH
 * MATERIALIZED VIEW, REINDEX and VACUUM with search_path = pg_catalog, pg_temp. A function called by
 * an index, a check constraint, a generated column or a materialized view, with no SET search_path of
 * its own, then fails if its body names anything outside pg_catalog unqualified — when the restore
 * evaluates it: an index or a generated column always (measured on 17: CREATE INDEX and CREATE TABLE
 * fail on an empty table), a populated materialized view at its REFRESH, a check constraint only
 * when COPY brings rows to check.
 */
interface Candidate {
  oid: number
  fn: string
  language: string
  /** Where it is used, one entry per user. */
  uses: Use[]
}

interface Use {
  usedBy: string
  /** Known from the catalog; null when it depends on rows in `tables`. */
  evaluated: boolean | null
  tables: string[]
}

const SEARCH_PATH_ERRORS = new Set(['42883', '42P01', '42704', '3F000'])

interface CandidateRow {
  oid: number
  fn: string
  language: string
  used_by: string
  evaluated: boolean | null
  tables: string[]
}

async function candidates(ctx: ProbeContext): Promise<Candidate[]> {
  const { rows } = await ctx.source.query<CandidateRow>(candidatesSql(ctx))
  const byFunction = new Map<number, Candidate>()
  for (const row of rows) {
    const candidate = byFunction.get(row.oid) ?? { oid: row.oid, fn: row.fn, language: row.language, uses: [] }
    if (!candidate.uses.some((u) => u.usedBy === row.used_by))
      candidate.uses.push({ usedBy: row.used_by, evaluated: row.evaluated, tables: row.tables })
    byFunction.set(row.oid, candidate)
  }
  return [...byFunction.values()]
}

/** Functions without a search_path of their own, and what evaluates them: indexes, checks, generated columns, materialized views. */
function candidatesSql(ctx: ProbeContext): string {
  const atomic = ctx.sourceMajor >= 14 ? 'AND p.prosqlbody IS NULL' : ''
  const generated = ctx.sourceMajor >= 12 ? `AND a.attgenerated <> ''` : 'AND false'
  // Tables whose rows a domain's check constraint sees: columns of the domain or of its array type.
  const domainTables = `ARRAY(SELECT DISTINCT format('%I.%I', dn.nspname, dc.relname) FROM pg_catalog.pg_attribute da
                               JOIN pg_catalog.pg_class dc ON dc.oid = da.attrelid AND dc.relkind IN ('r', 'p', 'm')
                               JOIN pg_catalog.pg_namespace dn ON dn.oid = dc.relnamespace
                              WHERE da.atttypid IN (co.contypid, (SELECT typarray FROM pg_catalog.pg_type WHERE oid = co.contypid))
                                AND NOT da.attisdropped AND ${ctx.scope.data('dc.oid')})`
  return `WITH used(fn, used_by, evaluated, tables) AS (
       SELECT d.refobjid, format('index %I.%I', n.nspname, c.relname), true, '{}'::text[]
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid AND c.relkind IN ('i', 'I')
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND ${ctx.scope.relation('(SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid = c.oid)')}
       UNION ALL
       SELECT d.refobjid, CASE WHEN co.conrelid <> 0 THEN format('constraint %I on %I.%I', co.conname, tn.nspname, t.relname)
                               ELSE format('constraint %I on domain %s', co.conname, co.contypid::pg_catalog.regtype) END,
              NULL::boolean, CASE WHEN co.conrelid <> 0 THEN ARRAY[format('%I.%I', tn.nspname, t.relname)] ELSE ${domainTables} END
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_constraint co ON co.oid = d.objid AND co.contype = 'c'
         LEFT JOIN pg_catalog.pg_class t ON t.oid = co.conrelid LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
        WHERE d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND CASE WHEN co.conrelid <> 0 THEN ${ctx.scope.relation('co.conrelid')} ELSE ${ctx.scope.inSchema('co.connamespace')} END
       UNION ALL
       -- A generation expression's dependencies are recorded on its column, not on its pg_attrdef row.
       SELECT d.refobjid, format('generated column %I.%I.%I', n.nspname, c.relname, a.attname), true, '{}'::text[]
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.objid AND a.attnum = d.objsubid ${generated}
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid > 0 AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND ${ctx.scope.relation('c.oid')}
       UNION ALL
       SELECT d.refobjid, format('materialized view %I.%I', n.nspname, c.relname), c.relispopulated, '{}'::text[]
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
         JOIN pg_catalog.pg_class c ON c.oid = r.ev_class AND c.relkind = 'm' JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND ${ctx.scope.relation('c.oid')}
     )
     SELECT p.oid::int AS oid, format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS fn,
            l.lanname AS language, u.used_by, u.evaluated, u.tables
       FROM used u JOIN pg_catalog.pg_proc p ON p.oid = u.fn JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
       JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      WHERE ${userNamespace('n.nspname')} AND ${notInExtension('pg_proc', 'p.oid')} AND l.lanname NOT IN ('c', 'internal') ${atomic}
        AND ${ctx.scope.inSchema('p.pronamespace')}
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) AS cfg(setting) WHERE cfg.setting LIKE 'search\\_path=%')
      ORDER BY 2, 4`
}

/** Whether any of the tables holds a row (COPY then checks it); one that cannot be read counts as full. */
async function anyRows(source: pg.Client, tables: string[]): Promise<boolean> {
  for (const table of tables) {
    await source.query('SAVEPOINT probe_rows')
    try {
      const { rowCount } = await source.query(`SELECT 1 FROM ${table} LIMIT 1`)
      await source.query('RELEASE SAVEPOINT probe_rows')
      if (rowCount) return true
    } catch {
      await source.query('ROLLBACK TO SAVEPOINT probe_rows')
      return true
    }
  }
  return false
}

interface Verdicts {
  /** SQL functions whose body fails to resolve with the restore's search_path, where the restore evaluates them. */
  failing: string[]
  /** Functions in other languages (resolved only when they run), and SQL ones the restore does not evaluate. */
  unverified: string[]
}

const usedBy = (uses: Use[]) => uses.map((u) => u.usedBy).join(', ')

/**
 * SQL function bodies are checked for real: the language validator parses them with
 * search_path = pg_catalog, pg_temp, as the restore and PostgreSQL 17's maintenance commands will.
 */
async function verify(source: pg.Client, all: Candidate[]): Promise<Verdicts> {
  const verdicts: Verdicts = { failing: [], unverified: [] }
  const sql = all.filter((c) => c.language === 'sql')
  for (const c of all.filter((c) => c.language !== 'sql'))
    verdicts.unverified.push(`${c.fn} (${c.language}), used by ${usedBy(c.uses)}`)
  if (sql.length === 0) return verdicts
  await readOnly(source, async () => {
    // A policy on a table would run the source's own code for this read: refused (counts as rows) instead.
    await source.query('SET LOCAL row_security = off')
    const evaluated = new Map<number, Use[]>()
    for (const c of sql) {
      const uses: Use[] = []
      for (const use of c.uses) if (use.evaluated ?? (await anyRows(source, use.tables))) uses.push(use)
      evaluated.set(c.oid, uses)
    }
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
        const uses = evaluated.get(c.oid) ?? []
        if (!code || !SEARCH_PATH_ERRORS.has(code))
          verdicts.unverified.push(`${c.fn} (sql, not checked: ${message}), used by ${usedBy(c.uses)}`)
        else if (uses.length > 0) verdicts.failing.push(`${c.fn}, used by ${usedBy(uses)}: ${message}`)
        else
          verdicts.unverified.push(
            `${c.fn} (sql: ${message}), used by ${usedBy(c.uses)}, which this restore does not evaluate (no rows to check, or the view is not populated); a REFRESH on 17 or a later restore with rows fails`
          )
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
