// What the load leaves ANALYZE to do on the target: the planner statistics still missing once the
// rows and indexes are in.
import type pg from 'pg'
import { isUserSchema } from './sql.js'

/** What ANALYZE did after the load: tables whose statistics were already complete were left alone. */
export interface AnalyzeResult {
  /** Tables analyzed now. */
  analyzed: number
  /**
   * Tables whose statistics were complete already, so not analyzed: carried from the source (pg_dump
   * 18 --statistics), or empty.
   */
  alreadyComplete: number
}

/**
 * The user's tables whose planner statistics are incomplete: a column without statistics on a table
 * not known to be empty, an expression index without them, or extended statistics (CREATE
 * STATISTICS) not built yet, which pg_dump does not carry. Statistics present describe the source's
 * rows, which the copy holds: they came with the dump, from an ANALYZE beside the load, or from an
 * ANALYZE of an earlier run into this target.
 */
export async function tablesToAnalyze(db: pg.Client): Promise<{ missing: string[]; complete: number }> {
  // pg_stats, not pg_statistic: only a superuser reads the catalog, and the writer is none.
  const { rows } = await db.query<{ name: string; missing: boolean }>(
    `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name,
            (c.reltuples <> 0 AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                  AND COALESCE(a.attstattarget::pg_catalog.int4, -1) <> 0
                  AND NOT EXISTS (SELECT FROM pg_catalog.pg_stats s
                                   WHERE s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname)))
            OR EXISTS (SELECT FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                WHERE i.indrelid = c.oid AND i.indexprs IS NOT NULL AND c.reltuples <> 0
                  AND NOT EXISTS (SELECT FROM pg_catalog.pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = ic.relname))
            OR EXISTS (SELECT FROM pg_catalog.pg_statistic_ext x
                JOIN pg_catalog.pg_namespace xn ON xn.oid = x.stxnamespace
                WHERE x.stxrelid = c.oid AND NOT EXISTS (SELECT FROM pg_catalog.pg_stats_ext e
                  WHERE e.statistics_schemaname = xn.nspname AND e.statistics_name = x.stxname)) AS missing
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm', 'p') AND ${isUserSchema('n')} AND pg_catalog.pg_has_role(c.relowner, 'USAGE')`
  )
  const missing = rows.filter((row) => row.missing).map((row) => row.name)
  return { missing, complete: rows.length - missing.length }
}
