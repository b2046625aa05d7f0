/**
 * PostgreSQL's messages that quote a row: a key in a constraint's DETAIL (`Key (id)=(42) already
 * exists`, also the FK and exclusion forms), a failing row, the line COPY was reading, and a value
 * an input function refused. Values are allowed one level of parentheses (a composite key's text).
 */
const ROW_QUOTES: [RegExp, string][] = [
  [/\b(key \([^()]*\))=\((?:[^()]|\([^()]*\))*\)/gi, '$1=(…)'],
  [/\b(Failing row contains) \(.*\)/g, '$1 (…)'],
  [/\b(COPY [^,\n]+, line \d+(?:, column [^:\n]+)?): .*/g, '$1: …'],
  [/\b(invalid input (?:syntax|value) for [^:\n]+): ".*"/g, '$1: "…"'],
  [/\b(value) ".*" (is out of range)/g, '$1 "…" $2']
]

/**
 * Text for a log or summary anyone may read (a public repository's): every row value PostgreSQL
 * quotes replaced by an ellipsis; object names and the rest of the message kept.
 */
export function withoutRowValues(text: string): string {
  return ROW_QUOTES.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text)
}
