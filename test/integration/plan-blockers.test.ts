// Every blocker the plan names must be a failure of the real restore as the 17 target's managed-style
// admin, and nothing else may fail: one case per class, each a 14 source database holding it.
import { errors, judge } from '../support/plan-oracle.js'

describe('every blocker is a failure of the real restore as the admin', () => {
  /** Each case: the source SQL, the blocker the plan must name, and what pg_restore must say. */
  const cases: [string, string, Record<string, string[]>, RegExp[], string?][] = [
    [
      'functions in untrusted languages, a window function among them',
      `CREATE FUNCTION my_abs(int) RETURNS int LANGUAGE internal IMMUTABLE STRICT AS 'int4abs';
       CREATE FUNCTION my_rank() RETURNS bigint LANGUAGE internal WINDOW AS 'window_rank';`,
      {
        'untrusted-language-functions': [
          'function public.my_abs(integer) (internal)',
          'function public.my_rank() (internal)'
        ]
      },
      [/^FUNCTION my_abs\(integer\): ERROR: {2}permission denied for language internal/, /^FUNCTION my_rank\(\)/]
    ],
    [
      'aggregates whose state is of type internal (plain or moving)',
      `CREATE AGGREGATE my_array(anynonarray) (SFUNC = array_agg_transfn, STYPE = internal, FINALFUNC = array_agg_finalfn, FINALFUNC_EXTRA);
       CREATE FUNCTION sum_state(numeric, int8) RETURNS numeric LANGUAGE sql AS 'SELECT $1 + $2';
       CREATE AGGREGATE my_moving(int8) (SFUNC = sum_state, STYPE = numeric, MSFUNC = int8_avg_accum,
         MINVFUNC = int8_avg_accum_inv, MSTYPE = internal, MFINALFUNC = numeric_poly_sum);`,
      {
        'superuser-only-objects': [
          'aggregate public.my_array(anynonarray) with a transition state of type internal',
          'aggregate public.my_moving(bigint) with a transition state of type internal'
        ]
      },
      [
        /^AGGREGATE my_array.*aggregate transition data type cannot be internal/,
        /^AGGREGATE my_moving.*cannot be internal/
      ]
    ],
    [
      'base and shell types',
      `CREATE TYPE shell_only;
       CREATE TYPE text_like;
       CREATE FUNCTION text_like_in(cstring) RETURNS text_like LANGUAGE internal IMMUTABLE STRICT AS 'textin';
       CREATE FUNCTION text_like_out(text_like) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'textout';
       CREATE TYPE text_like (INPUT = text_like_in, OUTPUT = text_like_out, INTERNALLENGTH = variable);`,
      {
        'untrusted-language-functions': [
          'function public.text_like_in(cstring) (internal)',
          'function public.text_like_out(text_like) (internal)'
        ],
        'superuser-only-objects': ['base type public.text_like', 'shell type public.shell_only']
      },
      [
        /^TYPE shell_only: ERROR: {2}must be superuser to create a base type/,
        /^SHELL TYPE text_like: ERROR: {2}must be superuser to create a base type/,
        /^FUNCTION text_like_in\(cstring\): ERROR: {2}permission denied for language internal/,
        /^FUNCTION text_like_out\(public.text_like\): ERROR: {2}permission denied for language internal/,
        /^TYPE text_like: ERROR: {2}must be superuser to create a base type/
      ]
    ],
    [
      'LEAKPROOF functions',
      `CREATE FUNCTION sees_nothing(text) RETURNS boolean LANGUAGE sql LEAKPROOF AS 'SELECT true';`,
      { 'superuser-only-objects': ['LEAKPROOF function public.sees_nothing(text)'] },
      [/^FUNCTION sees_nothing\(text\): ERROR: {2}only superuser can define a leakproof function/]
    ],
    [
      "functions that SET a superuser's parameter or a custom one the target does not know",
      `CREATE FUNCTION loud() RETURNS int LANGUAGE sql SET log_statement = 'all' AS 'SELECT 1';
       CREATE FUNCTION tagged() RETURNS int LANGUAGE sql SET myapp.tag = 'x' AS 'SELECT 1';`,
      {
        'function-setting-not-settable': [
          'function public.loud() SET log_statement: only a superuser or a role granted SET on log_statement may set it',
          'function public.tagged() SET myapp.tag: the target does not know myapp.tag (its module is not loaded), so only a superuser or a role granted SET on it may set it'
        ]
      },
      [
        /^FUNCTION loud\(\): ERROR: {2}permission denied to set parameter "log_statement"/,
        /^FUNCTION tagged\(\): ERROR: {2}permission denied to set parameter "myapp.tag"/
      ]
    ],
    [
      'operator classes and families (the family an operator class makes is written too)',
      `CREATE OPERATOR FAMILY loose USING btree;
       CREATE OPERATOR CLASS my_int_ops FOR TYPE int4 USING btree AS
         OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint4cmp(int4, int4);`,
      {
        'superuser-only-objects': [
          'operator family public.loose USING btree',
          'operator family public.my_int_ops USING btree (with its operator class of the same name)'
        ]
      },
      [
        /^OPERATOR FAMILY loose: ERROR: {2}must be superuser to create an operator family/,
        /^OPERATOR FAMILY my_int_ops: ERROR: {2}must be superuser to create an operator family/,
        /^OPERATOR CLASS my_int_ops: ERROR: {2}must be superuser to create an operator class/
      ]
    ],
    [
      'text search parsers and templates (and the dictionary built on one)',
      `CREATE TEXT SEARCH PARSER my_parser (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype);
       CREATE TEXT SEARCH TEMPLATE my_template (INIT = dsimple_init, LEXIZE = dsimple_lexize);
       CREATE TEXT SEARCH DICTIONARY my_dict (TEMPLATE = my_template);`,
      { 'superuser-only-objects': ['text search parser public.my_parser', 'text search template public.my_template'] },
      [
        /^TEXT SEARCH PARSER my_parser: ERROR: {2}must be superuser to create text search parsers/,
        /^TEXT SEARCH TEMPLATE my_template: ERROR: {2}must be superuser to create text search templates/,
        /^TEXT SEARCH DICTIONARY my_dict: ERROR: {2}text search template "public.my_template" does not exist/
      ]
    ],
    [
      'access methods, foreign-data wrappers (and their servers) and procedural languages',
      `CREATE ACCESS METHOD my_am TYPE INDEX HANDLER bthandler;
       CREATE FOREIGN DATA WRAPPER my_fdw; CREATE SERVER my_server FOREIGN DATA WRAPPER my_fdw;
       CREATE LANGUAGE plstandin HANDLER plpgsql_call_handler;`,
      {
        'superuser-only-objects': ['access method my_am', 'foreign-data wrapper my_fdw', 'language plstandin']
      },
      [
        /^ACCESS METHOD my_am: ERROR: {2}permission denied to create access method "my_am"/,
        /^FOREIGN DATA WRAPPER my_fdw: ERROR: {2}permission denied to create foreign-data wrapper "my_fdw"/,
        /^SERVER my_server: ERROR: {2}foreign-data wrapper "my_fdw" does not exist/,
        /^PROCEDURAL LANGUAGE plstandin: ERROR: {2}extension "plstandin" is not available/
      ]
    ],
    [
      'casts without a function or between types the admin will not own, and transforms on such types',
      `CREATE CAST (bytea AS text) WITHOUT FUNCTION;
       CREATE FUNCTION point_text(point) RETURNS text LANGUAGE sql AS 'SELECT $1::text';
       CREATE CAST (point AS text) WITH FUNCTION point_text(point);
       CREATE TRANSFORM FOR int LANGUAGE sql (FROM SQL WITH FUNCTION prsd_lextype(internal), TO SQL WITH FUNCTION int4recv(internal));
       CREATE TYPE r1 AS RANGE (subtype = float8); CREATE TYPE r2 AS RANGE (subtype = float8);
       CREATE CAST (r1 AS r2) WITHOUT FUNCTION;`,
      {
        'superuser-only-objects': [
          'cast (bytea AS text) WITHOUT FUNCTION',
          'cast (point AS text) between types the target login will not own',
          'cast (r1 AS r2) WITHOUT FUNCTION',
          'transform for integer language sql'
        ]
      },
      [
        /^CAST CAST \(public.r1 AS public.r2\): ERROR: {2}must be superuser to create a cast WITHOUT FUNCTION/,
        /^CAST CAST \(bytea AS text\): ERROR: {2}must be owner of type bytea or type text/,
        /^CAST CAST \(point AS text\): ERROR: {2}must be owner of type point or type text/,
        /^TRANSFORM TRANSFORM FOR integer LANGUAGE sql: ERROR: {2}must be owner of type integer/
      ]
    ],
    [
      'a search-path-dependent SQL function where the restore evaluates it: index, generated column, populated view, checked rows',
      `CREATE FUNCTION helper(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT n + 1';
       CREATE FUNCTION wrap(n int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT helper(n)';
       CREATE TABLE t (a int CHECK (wrap(a) > 0)); INSERT INTO t VALUES (1);
       CREATE INDEX t_wrap ON t (wrap(a));
       CREATE MATERIALIZED VIEW mv AS SELECT wrap(a) FROM t;
       CREATE TABLE g (a int, b int GENERATED ALWAYS AS (wrap(a)) STORED);`,
      {
        'function-search-path': [
          'public.wrap(n integer), used by constraint t_a_check on public.t, generated column public.g.b, index public.t_wrap, materialized view public.mv: function helper(integer) does not exist'
        ]
      },
      [
        /^TABLE DATA t: COPY failed for table "t": ERROR: {2}function helper\(integer\) does not exist/,
        /^TABLE g: ERROR: {2}function helper\(integer\) does not exist/,
        /^TABLE DATA g: ERROR: {2}relation "public.g" does not exist/,
        /^INDEX t_wrap: ERROR: {2}function helper\(integer\) does not exist/,
        /^MATERIALIZED VIEW DATA mv: ERROR: {2}function helper\(integer\) does not exist/
      ]
    ],
    [
      'views on built-in functions and statistics columns 17 no longer has',
      `CREATE VIEW backup_state AS SELECT pg_is_in_backup() AS running;
       CREATE VIEW checkpoints AS SELECT checkpoints_timed FROM pg_stat_bgwriter;`,
      {
        'removed-builtins': [
          'view public.backup_state (pg_is_in_backup())',
          'view public.checkpoints (pg_stat_bgwriter.checkpoints_timed → pg_stat_checkpointer.num_timed)'
        ]
      },
      [
        /^VIEW backup_state: ERROR: {2}function pg_is_in_backup\(\) does not exist/,
        /^VIEW checkpoints: ERROR: {2}column pg_stat_bgwriter.checkpoints_timed does not exist/
      ]
    ],
    [
      'a child generating a column its parent stores plainly (inheritance and partition)',
      `CREATE TABLE parent (a int, b int);
       CREATE TABLE child (a int, b int GENERATED ALWAYS AS (a * 2) STORED) INHERITS (parent);
       CREATE TABLE measures (a int, b int) PARTITION BY RANGE (a);
       CREATE TABLE measures_low (a int, b int GENERATED ALWAYS AS (a * 2) STORED);
       ALTER TABLE measures ATTACH PARTITION measures_low FOR VALUES FROM (0) TO (10);`,
      {
        'pg16-generated-inheritance': [
          'public.child.b (generated; parent public.parent: not generated)',
          'public.measures_low.b (generated; parent public.measures: not generated)'
        ]
      },
      [
        /^TABLE child: ERROR: {2}child column "b" specifies generation expression/,
        /^TABLE ATTACH measures_low: ERROR: {2}column "b" in child table must not be a generated column/,
        /^TABLE DATA child: ERROR: {2}relation "public.child" does not exist/
      ]
    ],
    [
      'an index and a generated column on interval::text',
      `CREATE TABLE spans (span interval, label text GENERATED ALWAYS AS (span::text) STORED);
       CREATE TABLE plain (span interval); CREATE INDEX plain_text ON plain ((span::text));`,
      { 'pg15-interval-text-expression': ['generated column public.spans.label', 'index public.plain_text'] },
      [
        /^TABLE spans: ERROR: {2}generation expression is not immutable/,
        /^TABLE DATA spans: ERROR: {2}relation "public.spans" does not exist/,
        /^INDEX plain_text: ERROR: {2}functions in index expression must be marked IMMUTABLE/
      ]
    ],
    [
      'extensions 17 lacks, or that need a superuser to create',
      `CREATE EXTENSION old_snapshot; CREATE EXTENSION pgstattuple; CREATE EXTENSION adminpack;`,
      {
        'extension-unavailable': ['old_snapshot'],
        'extension-needs-superuser': ['pgstattuple'],
        'pg17-adminpack': ['extension adminpack']
      },
      [
        /^EXTENSION adminpack: ERROR: {2}extension "adminpack" is not available/,
        /^EXTENSION old_snapshot: ERROR: {2}extension "old_snapshot" is not available/,
        /^EXTENSION pgstattuple: ERROR: {2}permission denied to create extension "pgstattuple"/
      ]
    ],
    [
      'a policy naming a role the target lacks',
      `CREATE ROLE fidelity_reader NOLOGIN; CREATE TABLE t (id int);
       CREATE POLICY readers ON t FOR SELECT TO fidelity_reader USING (true);`,
      { 'missing-roles': ['fidelity_reader'] },
      [/^POLICY t readers: ERROR: {2}role "fidelity_reader" does not exist/]
    ],
    [
      'Python 2 functions (a stand-in language of that name: this 14 build has no Python 2)',
      `CREATE LANGUAGE plpythonu HANDLER plpgsql_call_handler;
       CREATE FUNCTION py_add(a int, b int) RETURNS int LANGUAGE plpythonu AS 'begin return a + b; end';`,
      { 'pg15-plpython2': ['function public.py_add(a integer, b integer) (plpythonu)'] },
      [
        /^PROCEDURAL LANGUAGE plpythonu: ERROR: {2}extension "plpythonu" is not available/,
        /^FUNCTION py_add\(integer, integer\): ERROR: {2}language "plpythonu" does not exist/
      ]
    ],
    [
      'a function that SETs a parameter 17 removed',
      `CREATE FUNCTION parallel_report() RETURNS int LANGUAGE sql SET force_parallel_mode = on AS 'SELECT 1';`,
      {
        'removed-setting-in-function': [
          'function public.parallel_report() SET force_parallel_mode → debug_parallel_query'
        ]
      },
      [/^FUNCTION parallel_report\(\): ERROR: {2}unrecognized configuration parameter "force_parallel_mode"/]
    ],
    [
      'a foreign server on a wrapper a superuser installed in the target database, without USAGE for the admin',
      `CREATE EXTENSION postgres_fdw; CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw;`,
      { 'foreign-server-wrapper-usage': ['server remote (foreign-data wrapper postgres_fdw)'] },
      [/^SERVER remote: ERROR: {2}permission denied for foreign-data wrapper postgres_fdw/],
      'CREATE EXTENSION postgres_fdw'
    ]
  ]

  // A rest parameter: jest takes a parameter beyond a row's length for a done callback.
  test.each(cases)('%s', async (...[, sql, blockers, refusals, targetSetup]) => {
    const verdict = await judge(sql, targetSetup)
    expect(verdict.blockers).toEqual(blockers)
    const said = errors(verdict)
    for (const refusal of refusals) expect(said).toContainEqual(expect.stringMatching(refusal))
    // Nothing else failed: every error of the restore is one the plan named.
    expect(said).toHaveLength(refusals.length)
  })
})
