/**
 * What a validation query may be. It runs in a read-only transaction on both servers, but read-only
 * still lets a statement act: kill sessions, read the server's files, take locks, run a program
 * (COPY … PROGRAM on a superuser login), reach other servers (dblink). So a query must be a plain
 * read (SELECT, WITH, VALUES or TABLE) and call none of the functions below.
 *
 * The check reads tokens as the server does, so a name inside a string, a comment or a quoted
 * alias does not count, and a quoted or schema-qualified call does. Its limits: it cannot see into
 * the body of a function the database defines (a user function that calls pg_terminate_backend
 * runs), nor into SQL built from text at run time other than by the functions refused here.
 */

/** Functions that act on the server, its files or other servers, whatever the transaction. */
const REFUSED_FUNCTIONS = [
  /^pg_(terminate|cancel)_backend$/,
  /^pg_(read_file|read_binary_file|stat_file|ls_[a-z_]+|file_[a-z_]+)$/,
  /^pg_(reload_conf|rotate_logfile|promote|switch_wal|create_restore_point|log_backend_memory_contexts)$/,
  /^pg_(try_)?advisory_(xact_)?lock(_shared)?$/,
  // Replication slots: advancing or dropping one takes changes from its consumer (a sync's own).
  /^pg_(create|drop|copy)_[a-z_]*replication_slot$/,
  /^pg_(logical_slot_[a-z_]+|replication_slot_advance)$/,
  /^pg_(backup_start|backup_stop|start_backup|stop_backup|stat_reset[a-z_]*)$/,
  /^lo_[a-z_]+$/,
  /^dblink[a-z_]*$/,
  // They run the SQL text they are given, which this check cannot see.
  /^(query|cursor)_to_xml[a-z_]*$/
]

const READS = new Set(['select', 'with', 'values', 'table'])

type Token = { kind: 'word'; text: string } | { kind: 'symbol'; text: string }

/** Why the query is refused, or undefined when it may run. */
export function refusedQuery(sql: string): string | undefined {
  const tokens = tokenize(sql)
  const first = tokens.find((token) => !(token.kind === 'symbol' && token.text === '('))
  // LOCK, COPY, DO, CALL, SET… are statements of their own: none can hide inside a read.
  if (!first || first.kind !== 'word' || !READS.has(first.text))
    return `it starts with ${first ? first.text.toUpperCase() : 'nothing'}; validation queries are SELECT, WITH, VALUES or TABLE statements`
  // Another escape character for U&"…" names: rare in a validation query, and not read here.
  if (tokens.some((token) => token.kind === 'word' && token.text === 'uescape'))
    return 'it uses UESCAPE; write the names without it'
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]
    if (token.kind !== 'word' || tokens[i + 1]?.text !== '(') continue
    if (REFUSED_FUNCTIONS.some((pattern) => pattern.test(token.text)))
      return `it calls ${token.text}, which acts on the server even in a read-only transaction`
  }
  return undefined
}

/**
 * Words (unquoted ones lowercased, as the server folds them; quoted ones as written) and symbols;
 * strings, dollar-quoted bodies and comments dropped.
 */
function tokenize(sql: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < sql.length) {
    const rest = sql.slice(i)
    const skipped = skip(sql, i)
    if (skipped > i) {
      i = skipped
      continue
    }
    const quoted = /^(?:[uU]&)?"/.exec(rest)
    if (quoted) {
      const start = i + quoted[0].length - 1
      const end = closingQuote(sql, start, '"')
      const text = sql.slice(start + 1, end - 1).replace(/""/g, '"')
      tokens.push({ kind: 'word', text: quoted[0].length > 1 ? unicodeEscapes(text) : text })
      i = end
      continue
    }
    const word = /^[\p{L}_][\p{L}\p{N}_$]*/u.exec(rest)
    if (word) {
      tokens.push({ kind: 'word', text: word[0].toLowerCase() })
      i += word[0].length
      continue
    }
    tokens.push({ kind: 'symbol', text: rest[0] })
    i++
  }
  return tokens
}

/** A U&"…" identifier's \XXXX and \+XXXXXX escapes (the default escape character only). */
function unicodeEscapes(text: string): string {
  return text.replace(/\\(\\|[0-9a-fA-F]{4}|\+[0-9a-fA-F]{6})/g, (_, code: string) =>
    code === '\\' ? '\\' : String.fromCodePoint(parseInt(code.replace('+', ''), 16))
  )
}

/** The index after whitespace, a comment or a string starting at `i`; `i` when there is none. */
function skip(sql: string, i: number): number {
  const rest = sql.slice(i)
  if (/^\s/.test(rest)) return i + 1
  if (rest.startsWith('--')) {
    const end = sql.indexOf('\n', i)
    return end < 0 ? sql.length : end + 1
  }
  if (rest.startsWith('/*')) return closingComment(sql, i)
  // E'…' takes backslash escapes; '…' and the B, X, U& and N prefixes do not.
  const literal = /^(?:[eE]|[bBxXnN]|[uU]&)?'/.exec(rest)
  if (literal) return closingQuote(sql, i + literal[0].length - 1, "'", /^[eE]/.test(literal[0]))
  const dollar = /^\$([\p{L}_][\p{L}\p{N}_]*)?\$/u.exec(rest)
  if (dollar) {
    const end = sql.indexOf(dollar[0], i + dollar[0].length)
    return end < 0 ? sql.length : end + dollar[0].length
  }
  return i
}

/** After the quote that closes the one at `start`: doubled quotes (and backslashes in E'') escape. */
function closingQuote(sql: string, start: number, quote: string, backslashes = false): number {
  let i = start + 1
  while (i < sql.length) {
    if (backslashes && sql[i] === '\\') i += 2
    else if (sql[i] === quote && sql[i + 1] === quote) i += 2
    else if (sql[i] === quote) return i + 1
    else i++
  }
  return sql.length
}

/** After the `*\/` closing the comment at `start`; PostgreSQL's block comments nest. */
function closingComment(sql: string, start: number): number {
  let depth = 0
  let i = start
  while (i < sql.length) {
    if (sql.startsWith('/*', i)) {
      depth++
      i += 2
    } else if (sql.startsWith('*/', i)) {
      depth--
      i += 2
      if (depth === 0) return i
    } else i++
  }
  return sql.length
}
