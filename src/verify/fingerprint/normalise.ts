// Where two versions describe the same object differently. Found by restoring PostgreSQL's own
// regression database from 14 into 15, 16, 17 and 18, from 12, 13 and 15 into 17 and from 16 and
// 17 into 18, and by one rich schema created on 14 and 17, then comparing every definition (views,
// materialized views, check constraints, defaults, generated columns, index expressions and
// predicates, policies, rules, trigger WHEN clauses, routines). In the catalog queries
// (inventory-queries.ts): 17 also lists a domain's NOT NULL as a constraint row, 18 a column's;
// triggers cloned onto partitions are internal on 14 and not on 17; which system objects get
// pg_depend rows changed in 15; foreign keys cloned for partitions are named anew on restore, and
// 18 names them another way. The text ones are here.
//
// This is the first, cheap pass: where the normalised printings still differ, the target parses the
// source's text again (verify/reparse.ts) and that decides. What a source's deparser lost on the way
// (12 prints XMLNAMESPACES ('…' AS Zz) unquoted, so the restored view names its namespace zz) a
// parse cannot see: reparse.ts reports such printers as a warning with both texts.

import type { ObjectKind } from './types.js'

const PLAIN_NAME = /^[a-z_][a-z0-9_$]*$/
/** String literals, quoted names, and the text between them. Deparsers print no E'' or $$ strings. */
const TOKENS = /'(?:[^']|'')*'|"(?:[^"]|"")*"|[^'"]+|['"]/g

/**
 * What newer servers print for a parse tree older ones print otherwise, outside literals. Each
 * found by restoring the regression database across versions (see the top of this file).
 */
const VERSION_PRINTING: ReadonlyArray<{ pattern: RegExp; replacement: string; only?: ObjectKind }> = [
  // 16 added XMLSERIALIZE (… INDENT) and prints its default, NO INDENT, where 15 prints nothing.
  { pattern: / NO INDENT\)/g, replacement: ')' },
  // 14 lets procedures have OUT arguments and prints IN, the default mode, for each of theirs.
  { pattern: /(^\(|, )IN (?=\S|$)/g, replacement: '$1', only: 'procedure' }
]

/**
 * Layout, the server's keyword list and what a version prints by default are not meaning. Outside
 * string literals: runs of white space become one blank (deparsers break and indent lines), a quoted
 * plain lower-case name loses its quotes ("json" → json: 17 quotes words that became keywords in 16
 * and 17 — json, json_table, system_user, merge_action… — where 14 prints them bare), and the
 * VERSION_PRINTING rules apply. Literals are kept as they are: a blank in one is part of a value.
 */
export function normaliseDefinition(definition: string, kind?: ObjectKind): string {
  const rules = VERSION_PRINTING.filter((rule) => rule.only === undefined || rule.only === kind)
  return (definition.match(TOKENS) ?? [])
    .map((token) => {
      if (token.length > 1 && token.startsWith("'")) return token
      if (token.length > 1 && token.startsWith('"')) {
        const inner = token.slice(1, -1)
        return PLAIN_NAME.test(inner) ? inner : token
      }
      return rules.reduce((text, rule) => text.replace(rule.pattern, rule.replacement), token.replace(/\s+/g, ' '))
    })
    .join('')
    .trim()
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
