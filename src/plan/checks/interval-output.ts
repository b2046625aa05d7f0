// interval's text output stopped being immutable in 15.
import { count, list, names, notInExtension, userNamespace } from './catalog.js'
import type { Probe } from './types.js'

/** An interval value cast to text somewhere in a stored expression tree (1186 is interval's fixed OID). */
const INTERVAL_TO_TEXT = `'\\{COERCEVIAIO :arg \\{(VAR|OPEXPR|FUNCEXPR|CONST|PARAM)[^{}]*:(vartype|opresulttype|funcresulttype|consttype|paramtype) 1186 '`

/**
 * 15 marked interval's output function stable (it follows IntervalStyle), so an index or a
 * generated column built on interval::text is refused from then on.
 */
export const intervalTextProbe: Probe = {
  id: 'pg15-interval-text-expression',
  severity: 'blocker',
  appliesTo: { crossing: 15 },
  reference: 'PostgreSQL 15 release notes, Migration to Version 15 (interval output function marked stable)',
  message: (objects) =>
    `${count(objects.length, 'index', 'indexes')} or generated columns cast interval values to text, which PostgreSQL 15 no longer accepts there: ${list(objects)}`,
  hint: 'on the source, base them on an immutable expression instead (extract(epoch FROM col), or the interval itself), then migrate',
  async find(ctx) {
    const generated =
      ctx.sourceMajor >= 12
        ? `UNION ALL
           SELECT format('generated column %I.%I.%I', n.nspname, c.relname, a.attname) FROM pg_catalog.pg_attrdef d
             JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum AND a.attgenerated <> ''
             JOIN pg_catalog.pg_class c ON c.oid = d.adrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE d.adbin::text ~ ${INTERVAL_TO_TEXT} AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_class', 'c.oid')}
              AND ${ctx.scope.relation('c.oid')}`
        : ''
    return names(
      ctx.source,
      `SELECT format('index %I.%I', n.nspname, c.relname) AS name FROM pg_catalog.pg_index i
         JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE (i.indexprs::text ~ ${INTERVAL_TO_TEXT} OR i.indpred::text ~ ${INTERVAL_TO_TEXT})
          AND ${userNamespace('n.nspname')} AND ${notInExtension('pg_class', 'i.indrelid')} AND ${ctx.scope.relation('i.indrelid')}
       ${generated}
       ORDER BY 1`
    )
  }
}
