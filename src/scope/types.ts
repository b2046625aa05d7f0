/** pg_dump's filters as the inputs give them: each a list of pg_dump name patterns. */
export interface ScopePatterns {
  /** pg_dump -n: only these schemas' objects move. */
  schemas: string[]
  /** pg_dump -N */
  excludeSchemas: string[]
  /** pg_dump -t: only these tables (views, sequences…) and what belongs to them move. */
  tables: string[]
  /** pg_dump -T */
  excludeTables: string[]
  /** pg_dump --exclude-table-data: the table moves, its rows do not. */
  excludeTableData: string[]
}

export type PatternList = keyof ScopePatterns

/** Each list by the input that gives it, for messages that must name the input. */
export const PATTERN_INPUTS: Record<PatternList, string> = {
  schemas: 'schemas',
  excludeSchemas: 'exclude-schemas',
  tables: 'tables',
  excludeTables: 'exclude-tables',
  excludeTableData: 'exclude-table-data'
}

/** pg_dump's option for each list. */
export const PG_DUMP_OPTIONS: Record<PatternList, string> = {
  schemas: '--schema',
  excludeSchemas: '--exclude-schema',
  tables: '--table',
  excludeTables: '--exclude-table',
  excludeTableData: '--exclude-table-data'
}

export const NO_PATTERNS: ScopePatterns = {
  schemas: [],
  excludeSchemas: [],
  tables: [],
  excludeTables: [],
  excludeTableData: []
}

/** A relation by its stored names: [schema, name]. */
export type QualifiedName = [schema: string, name: string]

/** Something the scope leaves out, and why, in the words the summary uses. */
export interface LeftOut {
  what: string
  why: string
}

/**
 * What moves, resolved on the source by pg_dump's rules and kept by name, so the same predicates
 * read the source, the target and a dump's manifest alike.
 */
export interface ResolvedScope {
  patterns: ScopePatterns
  /**
   * No schemas or tables pattern: as in a whole-database dump, extensions, large objects, the
   * database's settings and objects outside schemas (casts, languages, foreign servers, event
   * triggers, publications) move too.
   */
  everything: boolean
  /** Schemas whose objects move; absent: every schema (no schema is filtered). Empty with `tables`. */
  schemas?: string[]
  /** With `tables`: exactly the relations that move (their sequences included). */
  relations?: QualifiedName[]
  /** Without `tables`: relations in moving schemas that do not move (exclude-tables). */
  excludedRelations: QualifiedName[]
  /** Relations that move without their rows (tables) or value (sequences): exclude-table-data. */
  dataExcluded: QualifiedName[]
  /** Made on the target before the restore: what moving objects need that pg_dump does not move. */
  prerequisites: Prerequisites
  leftOut: LeftOut[]
}

export interface Prerequisites {
  /** Schemas holding moving objects, which pg_dump does not create (with `tables`). */
  schemas: string[]
  /** Extensions whose objects moving objects use; pg_dump creates extensions only in a whole dump. */
  extensions: { name: string; schema: string }[]
}

export function isScoped(patterns: ScopePatterns | undefined): patterns is ScopePatterns {
  return patterns !== undefined && Object.values(patterns).some((list) => list.length > 0)
}

/** pg_dump's arguments for the patterns, one option per pattern (no shell ever sees them). */
export function pgDumpFilters(patterns: ScopePatterns | undefined): string[] {
  if (!isScoped(patterns)) return []
  const filters = (Object.keys(PG_DUMP_OPTIONS) as PatternList[]).flatMap((list) =>
    patterns[list].map((pattern) => `${PG_DUMP_OPTIONS[list]}=${pattern}`)
  )
  // Include patterns are checked before the dump; should one stop matching since, pg_dump says so.
  return patterns.schemas.length + patterns.tables.length > 0 ? [...filters, '--strict-names'] : filters
}

/** The patterns as one string, to tell whether two runs move the same: '{}' without filters. */
export function scopeKey(patterns: ScopePatterns | undefined): string {
  return JSON.stringify(isScoped(patterns) ? patterns : {})
}
