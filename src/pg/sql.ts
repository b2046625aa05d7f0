/** Quotes an identifier for SQL text; names come from catalogs and inputs, never trusted. */
export function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"'
}

/**
 * A name as a log line or the report shows it: bare when plain lower-case, quoted otherwise. For
 * reading only (a keyword stays bare): SQL text takes quoteIdent.
 */
export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : quoteIdent(name)
}

/** Where a run keeps the marker of what it loads into a target database (run-marker.ts). */
export const RUN_SCHEMA = '_pg_migrate_action'

/**
 * User schemas only: not the catalogs, not TOAST, not any session's temp schema, not the schema
 * where a run keeps its marker (run-marker.ts). `alias` is a pg_namespace row.
 */
export function isUserSchema(alias: string): string {
  return `(${alias}.nspname NOT IN ('pg_catalog', 'information_schema', '${RUN_SCHEMA}')
    AND ${alias}.nspname NOT LIKE 'pg\\_toast%' AND ${alias}.nspname NOT LIKE 'pg\\_temp\\_%')`
}

/** Quotes a string literal for SQL text where a parameter cannot be used (DDL). */
export function quoteLiteral(value: string): string {
  return "'" + value.replaceAll("'", "''") + "'"
}
