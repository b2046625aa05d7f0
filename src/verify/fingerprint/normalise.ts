// Where PostgreSQL 14 and 17 describe the same object differently. Found by creating one rich
// schema on both servers, and by a real pg_dump | pg_restore from 14 into 17, then comparing every
// definition. Three are handled in the catalog queries (inventory.ts): 17 also lists a domain's NOT
// NULL as a constraint row; triggers cloned onto partitions are internal on 14 and not on 17; which
// system objects get pg_depend rows changed in 15. The text ones are here.

/** Layout is not meaning: deparsers indent with newlines, and may lay out alike text differently. */
export function normaliseWhitespace(definition: string): string {
  return definition.replace(/\s+/g, ' ').trim()
}

const IDENTIFIER = String.raw`(?:"(?:[^"]|"")*"|[\p{L}_][\p{L}\p{N}_$]*)`
// Literals and lone quoted names are matched whole, so that a dot inside them is left alone.
const KEPT = String.raw`'(?:[^']|'')*'|"(?:[^"]|"")*"(?!\s*\.)`
const KEPT_OR_QUALIFIER = new RegExp(String.raw`(${KEPT})|(?:${IDENTIFIER}\s*\.\s*)+(?=${IDENTIFIER}|\*)`, 'gu')

/**
 * Drops every qualifier (`app.orders.total` → `total`) outside string literals. 16 stopped
 * qualifying columns in a query over one relation (`SELECT placed FROM app.orders` where 14 prints
 * `SELECT orders.placed …`), so qualified text cannot match across versions. What the qualifiers
 * said is kept in the view's `uses` list, which names every table, column and function it reads.
 */
export function unqualify(sql: string): string {
  return sql.replace(KEPT_OR_QUALIFIER, (_match, kept: string | undefined) => kept ?? '')
}
