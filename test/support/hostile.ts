// A source database built to attack the sessions that read it: functions and operators in public that
// shadow the catalog's for the argument types the action's SQL uses (so they would win on the default
// search_path), the database's own search_path putting public before pg_catalog (so even exact twins
// and catalog-named views would win), and names with newlines, `::`, quotes and 63 bytes. Every shadow
// calls hostile_ran(), which writes a LOG line to the server's log and then raises an error. The log is
// the detector: it survives read-only transactions, rollbacks and a caller that swallows the error.
// The error keeps a regression fast and loud: a shadow that returned the real result, as a real attack
// would, gets called per row (operators in joins) and fills the log with gigabytes (measured). Nothing here sits in an index, a default or a constraint a row meets (the domain types no column): what the
// restore itself evaluates is another test's matter; these only run if the action's own SQL resolves them.

/** The server log line prefix; `token` tells this run's lines from any other's. */
export const hostileMarker = (token: string): string => `hostile code ran [${token}]`

export interface Shadow {
  /** What it shadows, as the log line names it. */
  name: string
  sql: string
  /** Made after the tables: their columns name the catalog's type it shadows. */
  afterTables?: boolean
  /**
   * A statement that calls it when run on the database's own search_path, as the action's SQL would
   * if it were not pinned: proves the shadow is live, so that its silence later means something.
   */
  probe: string
}

const label = (name: string): string => name.replaceAll("'", "''")

/** A plpgsql twin of a function: reports (and fails), else would return the real result. */
function fn(name: string, args: string, returns: string, real: string, probe: string): Shadow {
  const shadow = `${name}(${args})`
  return {
    name: shadow,
    sql: `CREATE FUNCTION public.${name}(${args}) RETURNS ${returns} LANGUAGE plpgsql AS $f$
      BEGIN PERFORM public.hostile_ran('${label(shadow)}'); RETURN ${real}; END $f$;`,
    probe
  }
}

let operators = 0

/** An operator in public for these operand types, backed by a reporting function. */
function op(symbol: string, left: string, right: string, returns: string, real: string, probe: string): Shadow {
  const shadow = `${symbol}(${left},${right})`
  const backing = `public.hostile_operator_${++operators}`
  return {
    name: shadow,
    sql: `CREATE FUNCTION ${backing}(${left}, ${right}) RETURNS ${returns} LANGUAGE plpgsql AS $f$
      BEGIN PERFORM public.hostile_ran('${label(shadow)}'); RETURN ${real}; END $f$;
      CREATE OPERATOR public.${symbol} (LEFTARG = ${left}, RIGHTARG = ${right}, FUNCTION = ${backing});`,
    probe
  }
}

/**
 * A view in public named as a catalog, reporting once per query that reads it. Columns every major
 * has (and no pseudo-typed one), so that it dumps and restores into 17.
 */
function view(catalog: string, columns: string): Shadow {
  return {
    name: `view ${catalog}`,
    sql: `CREATE VIEW public.${catalog} AS SELECT ${columns} FROM pg_catalog.${catalog} c,
            public.hostile_ran('view ${catalog}') AS ran;`,
    probe: `SELECT count(*) FROM ${catalog}`
  }
}

/**
 * A domain in public named as a catalog type, whose check reports: a cast to the bare type name
 * (`x::text`) on a search_path that puts public first makes a value of the domain, and runs it.
 */
function domain(type: string, probe: string): Shadow {
  return {
    name: `domain ${type}`,
    sql: `CREATE DOMAIN public.${type} AS pg_catalog.${type} CHECK (public.hostile_ran('domain ${type}'));`,
    probe,
    afterTables: true
  }
}

const NSP = 'FROM pg_catalog.pg_namespace n LIMIT 1'

/** Each shadow with the unqualified call it answers. */
export const SHADOWS: Shadow[] = [
  // Better matches than the catalog's for name arguments: they win on any search_path holding public.
  fn(
    'format',
    'text, name, name',
    'text',
    'pg_catalog.format($1, $2, $3)',
    `SELECT format('%I.%I', n.nspname, n.nspname) ${NSP}`
  ),
  fn(
    'format',
    'text, name, name, name',
    'text',
    'pg_catalog.format($1, $2, $3, $4)',
    `SELECT format('%I.%I.%I', n.nspname, n.nspname, n.nspname) ${NSP}`
  ),
  fn(
    'format',
    'text, text, name, name',
    'text',
    'pg_catalog.format($1, $2, $3, $4)',
    `SELECT format('%s %I.%I', 'x'::pg_catalog.text, n.nspname, n.nspname) ${NSP}`
  ),
  fn('format', 'text, name', 'text', 'pg_catalog.format($1, $2)', `SELECT format('%I', n.nspname) ${NSP}`),
  fn(
    'quote_ident',
    'name',
    'text',
    'pg_catalog.quote_ident($1::pg_catalog.text)',
    `SELECT quote_ident(n.nspname) ${NSP}`
  ),
  fn(
    'quote_literal',
    'name',
    'text',
    'pg_catalog.quote_literal($1::pg_catalog.text)',
    `SELECT quote_literal(n.nspname) ${NSP}`
  ),
  fn(
    'concat_ws',
    'text, name, name',
    'text',
    'pg_catalog.concat_ws($1, $2, $3)',
    `SELECT concat_ws('.', n.nspname, n.nspname) ${NSP}`
  ),
  fn('lower', 'name', 'text', 'pg_catalog.lower($1::pg_catalog.text)', `SELECT lower(n.nspname) ${NSP}`),
  fn('length', 'name', 'integer', 'pg_catalog.length($1::pg_catalog.text)', `SELECT length(n.nspname) ${NSP}`),
  fn(
    'array_to_string',
    'name[], text',
    'text',
    'pg_catalog.array_to_string($1, $2)',
    `SELECT array_to_string(ARRAY[n.nspname], ',') ${NSP}`
  ),
  fn(
    'pg_table_size',
    'oid',
    'bigint',
    'pg_catalog.pg_table_size($1::pg_catalog.regclass)',
    `SELECT pg_table_size(c.oid) FROM pg_catalog.pg_class c LIMIT 1`
  ),
  fn(
    'pg_relation_size',
    'oid',
    'bigint',
    'pg_catalog.pg_relation_size($1::pg_catalog.regclass)',
    `SELECT pg_relation_size(c.oid) FROM pg_catalog.pg_class c LIMIT 1`
  ),
  fn(
    'pg_total_relation_size',
    'oid',
    'bigint',
    'pg_catalog.pg_total_relation_size($1::pg_catalog.regclass)',
    `SELECT pg_total_relation_size(c.oid) FROM pg_catalog.pg_class c LIMIT 1`
  ),
  op(
    '~~',
    'name',
    'name',
    'boolean',
    '$1::pg_catalog.text OPERATOR(pg_catalog.~~) $2::pg_catalog.text',
    `SELECT n.nspname LIKE 'pg%' ${NSP}`
  ),
  op(
    '!~~',
    'name',
    'name',
    'boolean',
    '$1::pg_catalog.text OPERATOR(pg_catalog.!~~) $2::pg_catalog.text',
    `SELECT n.nspname NOT LIKE 'pg\\_toast%' ${NSP}`
  ),
  op(
    '~',
    'name',
    'name',
    'boolean',
    '$1::pg_catalog.text OPERATOR(pg_catalog.~) $2::pg_catalog.text',
    `SELECT n.nspname ~ '^pg_' ${NSP}`
  ),
  op(
    '!~',
    'name',
    'name',
    'boolean',
    '$1::pg_catalog.text OPERATOR(pg_catalog.!~) $2::pg_catalog.text',
    `SELECT n.nspname !~ '^pg_' ${NSP}`
  ),
  op(
    '||',
    'name',
    'name',
    'text',
    '$1::pg_catalog.text OPERATOR(pg_catalog.||) $2::pg_catalog.text',
    `SELECT n.nspname || '.' ${NSP}`
  ),
  // Exact twins: they win only because the database's search_path puts public before pg_catalog.
  fn(
    'current_setting',
    'text',
    'text',
    'pg_catalog.current_setting($1)',
    `SELECT current_setting('server_version_num')`
  ),
  fn('current_database', '', 'name', 'pg_catalog.current_database()', `SELECT current_database()`),
  fn('pg_get_userbyid', 'oid', 'name', 'pg_catalog.pg_get_userbyid($1)', `SELECT pg_get_userbyid(10)`),
  fn(
    'pg_get_expr',
    'pg_node_tree, oid',
    'text',
    'pg_catalog.pg_get_expr($1, $2)',
    `SELECT pg_get_expr(NULL::pg_node_tree, 0)`
  ),
  fn('format_type', 'oid, integer', 'text', 'pg_catalog.format_type($1, $2)', `SELECT format_type(23, NULL)`),
  fn('now', '', 'timestamptz', 'pg_catalog.now()', `SELECT now()`),
  op(
    '=',
    'oid',
    'oid',
    'boolean',
    '$1 OPERATOR(pg_catalog.=) $2',
    `SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = 1259::oid`
  ),
  op(
    '=',
    'name',
    'name',
    'boolean',
    '$1 OPERATOR(pg_catalog.=) $2',
    `SELECT 1 ${NSP.replace('LIMIT', "WHERE n.nspname = 'public' LIMIT")}`
  ),
  op(
    '<>',
    'name',
    'name',
    'boolean',
    '$1 OPERATOR(pg_catalog.<>) $2',
    `SELECT n.nspname NOT IN ('pg_catalog', 'public') ${NSP}`
  ),
  view('pg_class', 'c.oid, c.relname, c.relnamespace, c.relkind'),
  view('pg_namespace', 'c.oid, c.nspname, c.nspowner'),
  view('pg_attribute', 'c.attrelid, c.attname, c.attnum, c.atttypid, c.attisdropped'),
  domain('text', `SELECT c.relkind::text FROM pg_catalog.pg_class c LIMIT 1`)
]

/** Tables whose names a careless quoting or a log line would get wrong; `weird` is big enough to be loaded while dumped. */
export const HOSTILE_NAMES = {
  schema: 'we"ird::schema',
  newline: 'big\n::error::forged',
  long: 'l'.repeat(63),
  /** 63 bytes of UTF-8, the longest a name may be. */
  wide: 'é'.repeat(31) + 'x',
  column: 'col"quote\n::x'
}

const ident = (name: string): string => '"' + name.replaceAll('"', '""') + '"'
const literal = (value: string): string => "'" + value.replaceAll("'", "''") + "'"

/** The database's SQL, run by its owner; `rows` rows in the big table (enough to pass the follower's minimum). */
export function hostileDatabaseSql(database: string, token: string, rows = 45_000): string {
  const { schema, newline, long, wide, column } = HOSTILE_NAMES
  const s = ident(schema)
  return `
    CREATE FUNCTION public.hostile_ran(what text) RETURNS boolean LANGUAGE plpgsql AS $f$
      BEGIN
        RAISE LOG '%: % in %', ${literal(hostileMarker(token))}, what, pg_catalog.current_database();
        RAISE EXCEPTION '%: %', ${literal(hostileMarker(token))}, what;
      END $f$;
    ${SHADOWS.filter((shadow) => !shadow.afterTables)
      .map((shadow) => shadow.sql)
      .join('\n    ')}
    CREATE TABLE public.plain (id int PRIMARY KEY, label text);
    INSERT INTO public.plain SELECT g, 'row ' || g FROM generate_series(1, 100) g;
    CREATE SCHEMA ${s};
    CREATE TABLE ${s}.${ident(newline)} (id int PRIMARY KEY, ${ident(column)} text, "a::b" int);
    INSERT INTO ${s}.${ident(newline)} SELECT g, repeat(md5(g::text), 6), g % 7 FROM generate_series(1, ${rows}) g;
    CREATE TABLE ${s}.${ident(long)} (${ident(long)} int PRIMARY KEY);
    INSERT INTO ${s}.${ident(long)} SELECT generate_series(1, 50);
    -- An interval's hash needs its text form: on the stream this table is hashed in flight and read
    -- back, the others by value on each server, so the hostile names meet both.
    CREATE TABLE public.${ident(wide)} (id int PRIMARY KEY, "it's" text, kept interval DEFAULT '1 day');
    INSERT INTO public.${ident(wide)} VALUES (1, 'x''s'), (2, E'line\\nbreak');
    ${SHADOWS.filter((shadow) => shadow.afterTables)
      .map((shadow) => shadow.sql)
      .join('\n    ')}
    ALTER DATABASE ${ident(database)} SET search_path = public, pg_catalog;`
}
