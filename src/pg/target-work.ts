// What the load asks of the target beyond the rows: the memory its index builds sort in, and the
// planner statistics ANALYZE still has to gather once the load is over.
import type pg from 'pg'
import { isUserSchema } from './sql.js'

/** No session sorts in more: past this a btree build gains little, and 1 GB is pg_upgrade's advice too. */
const MAX_SESSION_BYTES = 1024 ** 3

const MIB = 1024 ** 2

/** The maintenance_work_mem the restore's sessions build indexes with, and what it was sized from. */
export interface IndexBuildMemory {
  /** As the sessions set it, e.g. `512MB`. */
  setting: string
  /** The target's own default, kept by every other session. */
  serverDefault: string
  /** Sessions that may build at once (the restore's jobs). */
  sessions: number
  /** The target setting the budget came from, e.g. `effective_cache_size 4GB`. */
  basis: string
}

/**
 * A larger maintenance_work_mem for the restore's sessions, so an index sorts in memory, not in
 * temporary files. The target's memory is not visible over SQL: effective_cache_size stands for it
 * (what the server may count on for caching; managed services set it to about three quarters of the
 * machine), and all sessions together take at most a quarter of that. Undefined when that is no more
 * than the server's default: the default stays.
 */
export async function sizeIndexBuildMemory(db: pg.Client, sessions: number): Promise<IndexBuildMemory | undefined> {
  const { rows } = await db.query<{ current: string; cache: string; current_bytes: string; cache_bytes: string }>(
    `SELECT pg_catalog.current_setting('maintenance_work_mem') AS current,
            pg_catalog.current_setting('effective_cache_size') AS cache,
            pg_catalog.pg_size_bytes(pg_catalog.current_setting('maintenance_work_mem')) AS current_bytes,
            pg_catalog.pg_size_bytes(pg_catalog.current_setting('effective_cache_size')) AS cache_bytes`
  )
  const [row] = rows
  const perSession = Math.min(MAX_SESSION_BYTES, Number(row.cache_bytes) / 4 / Math.max(1, sessions))
  const mebibytes = Math.floor(perSession / MIB)
  if (mebibytes * MIB <= Number(row.current_bytes)) return undefined
  return {
    setting: `${mebibytes}MB`,
    serverDefault: row.current,
    sessions,
    basis: `effective_cache_size ${row.cache}`
  }
}

/** The libpq options that give a client program's sessions these settings (PGOPTIONS). */
export function sessionOptions(settings: Record<string, string>): string {
  // Only names and sizes this module chose: no spaces or backslashes to escape.
  return Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ')
}

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
