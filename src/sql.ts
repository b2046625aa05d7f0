/** Quotes an identifier for SQL text; names come from catalogs and inputs, never trusted. */
export function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"'
}

/** Quotes a string literal for SQL text where a parameter cannot be used (DDL). */
export function quoteLiteral(value: string): string {
  return "'" + value.replaceAll("'", "''") + "'"
}
