// pg_dump's name patterns (-n, -N, -t, -T, --exclude-table-data), read the way pg_dump reads them:
// a port of patternToSQLRegex and of what processSQLNamePattern makes of its result (PostgreSQL's
// src/fe_utils/string_utils.c). The regular expressions run on the server, as pg_dump runs them,
// so only the translation from pattern to regular expression lives here.

/** A pattern split at its unquoted dots into the regular expressions pg_dump matches names with. */
export interface NamePattern {
  /** The pattern as the user wrote it. */
  text: string
  /** `^(…)$` for the object's own name. */
  name: string
  /** `^(…)$` for the schema, when the pattern has a schema part (parts ≥ 2 and a dot). */
  schema?: string
  /**
   * The database part as written, when the pattern has three parts: unquoted letters folded to
   * lower case, wildcards left as they are (pg_dump compares it with the database name as text).
   */
  database?: string
  /** Unquoted dots seen, counted even past the last part: the caller refuses too many. */
  dots: number
}

/** Characters escaped inside double quotes, so a quoted name matches only itself. */
const REGEX_SPECIAL = new Set([...'|*+?()[]{}.^$\\'])

/**
 * Translates a shell-style pattern into regular expressions, splitting at unquoted dots into at most
 * `parts` parts (1: a name; 2: schema.name; 3: database.schema.name). Unquoted letters fold to lower
 * case; `*` is `.*` and `?` is `.` outside quotes; `""` inside quotes is one quote; `$` is always
 * literal; other regular-expression characters keep their meaning outside quotes (so `(a|b)` and
 * `[0-9]` work) except `[]`, taken literally, as in an array type's name.
 */
export function patternToRegex(text: string, parts: 1 | 2 | 3): NamePattern {
  const buffers: string[] = ['^(']
  let database = ''
  let leftmost = true
  let inQuotes = false
  let dots = 0
  const chars = [...text]
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]
    const current = buffers.length - 1
    if (ch === '"') {
      if (inQuotes && chars[i + 1] === '"') {
        buffers[current] += '"'
        if (leftmost) database += '"'
        i++
      } else inQuotes = !inQuotes
    } else if (!inQuotes && ch >= 'A' && ch <= 'Z') {
      // Only ASCII letters: pg_dump folds with isupper() in the C locale, byte by byte.
      buffers[current] += ch.toLowerCase()
      if (leftmost) database += ch.toLowerCase()
    } else if (!inQuotes && ch === '*') {
      buffers[current] += '.*'
      if (leftmost) database += '*'
    } else if (!inQuotes && ch === '?') {
      buffers[current] += '.'
      if (leftmost) database += '?'
    } else if (!inQuotes && ch === '.') {
      leftmost = false
      dots++
      if (buffers.length < parts) {
        buffers[current] += ')$'
        buffers.push('^(')
      } else buffers[current] += '.'
    } else if (ch === '$') {
      buffers[current] += '\\$'
      if (leftmost) database += '$'
    } else {
      if (inQuotes && REGEX_SPECIAL.has(ch)) buffers[current] += '\\'
      else if (ch === '[' && chars[i + 1] === ']') buffers[current] += '\\'
      buffers[current] += ch
      if (leftmost) database += ch
    }
  }
  buffers[buffers.length - 1] += ')$'
  const pattern: NamePattern = { text, name: buffers[buffers.length - 1], dots }
  if (buffers.length >= 2) pattern.schema = buffers[buffers.length - 2]
  if (buffers.length >= 3) pattern.database = database
  return pattern
}

/** The regular expression pg_dump leaves out as matching everything. */
export const MATCHES_ALL = '^(.*)$'

/**
 * A list input as the user wrote it: patterns separated by commas or new lines, except inside
 * double quotes, where a comma is part of a name. Blank entries are dropped.
 */
export function splitPatterns(raw: string): string[] {
  const patterns: string[] = []
  let current = ''
  let inQuotes = false
  for (const ch of raw) {
    if (ch === '"') inQuotes = !inQuotes
    if (!inQuotes && (ch === ',' || ch === '\n' || ch === '\r')) {
      patterns.push(current)
      current = ''
    } else current += ch
  }
  patterns.push(current)
  return patterns.map((pattern) => pattern.trim()).filter((pattern) => pattern.length > 0)
}
