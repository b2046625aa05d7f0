import { createHash } from 'node:crypto'
import type pg from 'pg'
import { normaliseWhitespace, unqualify } from './normalise.js'
import { isNotExtensionMember as notMember, isUserSchema } from './sql.js'
import type { ObjectKind, SchemaObject } from './types.js'

// One query per kind of object, each returning (kind, name, definition, owner, acl[, version]).
// Definitions come from the server's own deparsers (pg_get_*def) where one exists: with
// search_path = pg_catalog they print user objects qualified, the same on 14 and 17. Where the
// two versions print an object differently, normalise.ts says how and why.

const userClass = (alias: string): string => `${isUserSchema('n')} AND ${notMember('pg_class', `${alias}.oid`)}`

/** The name of a collation when it is not the type's own default, else NULL. */
const collationClause = (
  collation: string,
  typeCollation: string
): string => `(SELECT 'collate ' || format('%I.%I', cn.nspname, co.collname)
  FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
  WHERE co.oid = ${collation} AND ${collation} <> ${typeCollation})`

const SCHEMAS = `
SELECT 'schema' AS kind, quote_ident(n.nspname) AS name, '' AS definition,
  pg_get_userbyid(n.nspowner) AS owner, n.nspacl::text AS acl
FROM pg_namespace n WHERE ${isUserSchema('n')} AND ${notMember('pg_namespace', 'n.oid')}`

const EXTENSIONS = `
SELECT 'extension' AS kind, quote_ident(e.extname) AS name, 'schema ' || quote_ident(n.nspname) AS definition,
  NULL AS owner, NULL AS acl, e.extversion AS version
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`

// A range's multirange (14+) is named only when it is not the name the server makes by itself
// (makeMultirangeTypeName): a 12 or 13 source has none, and its copy on 14+ gets the made one.
const MULTIRANGE = `(SELECT 'multirange ' || format_type(m.oid, NULL) FROM pg_type m WHERE m.oid = r.rngmultitypid
  AND (m.typnamespace <> t.typnamespace OR m.typname <> left(CASE WHEN strpos(t.typname, 'range') > 0
    THEN overlay(t.typname PLACING 'multirange' FROM strpos(t.typname, 'range') FOR 5)
    ELSE left(t.typname, 52) || '_multirange' END, 63)))`

const TYPES = (version: number): string => `
SELECT 'type' AS kind, format('%I.%I', n.nspname, t.typname) AS name,
  CASE t.typtype
    WHEN 'e' THEN 'enum (' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
      FROM pg_enum e WHERE e.enumtypid = t.oid), '') || ')'
    WHEN 'd' THEN concat_ws(' ', 'domain over ' || format_type(t.typbasetype, t.typtypmod),
      ${collationClause('t.typcollation', '(SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)')},
      CASE WHEN t.typnotnull THEN 'not null' END,
      'default ' || pg_get_expr(t.typdefaultbin, 0),
      (SELECT string_agg(format('constraint %I %s', c.conname, pg_get_constraintdef(c.oid)), ' ' ORDER BY c.conname COLLATE "C")
        FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'))
    WHEN 'c' THEN 'composite (' || coalesce((SELECT string_agg(concat_ws(' ', quote_ident(a.attname),
        format_type(a.atttypid, a.atttypmod), ${collationClause('a.attcollation', 'at.typcollation')}), ', ' ORDER BY a.attnum)
      FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
    WHEN 'r' THEN (SELECT concat_ws(' ', 'range of ' || format_type(r.rngsubtype, NULL),
        'opclass ' || (SELECT quote_ident(o.opcname) FROM pg_opclass o WHERE o.oid = r.rngsubopc),
        ${collationClause('r.rngcollation', '(SELECT s.typcollation FROM pg_type s WHERE s.oid = r.rngsubtype)')},
        'canonical ' || r.rngcanonical::text, 'subdiff ' || r.rngsubdiff::text,
        ${version >= 140000 ? MULTIRANGE : 'NULL'})
      FROM pg_range r WHERE r.rngtypid = t.oid)
    ELSE concat_ws(' ', 'base input', t.typinput::text, 'output', t.typoutput::text, 'length', t.typlen,
      'alignment', t.typalign, 'storage', t.typstorage)
  END AS definition,
  pg_get_userbyid(t.typowner) AS owner, t.typacl::text AS acl
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r') AND ${isUserSchema('n')} AND ${notMember('pg_type', 't.oid')}
  AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
  AND NOT EXISTS (SELECT FROM pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid)`

const TABLES = `
SELECT 'table' AS kind, format('%I.%I', n.nspname, c.relname) AS name,
  concat_ws(' ',
    CASE c.relkind WHEN 'r' THEN 'ordinary' WHEN 'p' THEN 'partitioned' ELSE 'foreign' END,
    CASE WHEN c.relpersistence = 'u' THEN 'unlogged' END,
    'using ' || nullif((SELECT a.amname FROM pg_am a WHERE a.oid = c.relam), 'heap'),
    'partition by ' || pg_get_partkeydef(c.oid),
    (SELECT CASE WHEN c.relispartition THEN 'partition of ' ELSE 'inherits ' END
        || string_agg(format('%I.%I', pn.nspname, p.relname), ', ' ORDER BY i.inhseqno)
      FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
      WHERE i.inhrelid = c.oid),
    pg_get_expr(c.relpartbound, c.oid),
    CASE WHEN c.relrowsecurity THEN 'row level security' END,
    CASE WHEN c.relforcerowsecurity THEN 'forced' END,
    CASE c.relreplident WHEN 'n' THEN 'replica identity nothing' WHEN 'f' THEN 'replica identity full'
      WHEN 'i' THEN 'replica identity using index' END,
    'with (' || array_to_string(c.reloptions, ', ') || ')',
    (SELECT 'server ' || quote_ident(s.srvname) || coalesce(' options (' || array_to_string(f.ftoptions, ', ') || ')', '')
      FROM pg_foreign_table f JOIN pg_foreign_server s ON s.oid = f.ftserver WHERE f.ftrelid = c.oid)
  ) AS definition,
  pg_get_userbyid(c.relowner) AS owner, c.relacl::text AS acl
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f') AND c.relpersistence <> 't' AND ${userClass('c')}`

// Position among live columns, not attnum: dropped columns leave gaps that a restore closes.
const COLUMNS = `
SELECT 'column' AS kind, format('%I.%I.%I', n.nspname, c.relname, a.attname) AS name,
  concat_ws(' ', 'position ' || row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
    format_type(a.atttypid, a.atttypmod),
    ${collationClause('a.attcollation', 't.typcollation')},
    CASE WHEN a.attnotnull THEN 'not null' END,
    CASE a.attidentity WHEN 'a' THEN 'generated always as identity' WHEN 'd' THEN 'generated by default as identity' END,
    CASE WHEN a.attgenerated = 's' THEN 'generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') stored'
      ELSE 'default ' || pg_get_expr(d.adbin, d.adrelid) END
  ) AS definition,
  NULL AS owner, a.attacl::text AS acl
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') AND c.relpersistence <> 't'
  AND ${userClass('c')}`

// A foreign key to a partitioned table has one derived row per referenced partition, on the same
// table (conparentid set): the server makes and names them (17: <table>_<cols>_fkey1, 18: <fkey>_1),
// pg_dump leaves them out, and the user's key and the partitions they follow are compared already.
const CONSTRAINTS = `
SELECT 'constraint' AS kind, format('%I.%I.%I', n.nspname, c.relname, k.conname) AS name,
  pg_get_constraintdef(k.oid) AS definition, NULL AS owner, NULL AS acl
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype IN ('c', 'f', 'p', 'u', 't', 'x') AND c.relpersistence <> 't' AND ${userClass('c')}
  AND NOT EXISTS (SELECT FROM pg_constraint p WHERE p.oid = k.conparentid AND p.conrelid = k.conrelid)`

const INDEXES = `
SELECT 'index' AS kind, format('%I.%I', n.nspname, x.relname) AS name,
  concat_ws(' ', pg_get_indexdef(i.indexrelid), CASE WHEN i.indisclustered THEN 'clustered' END) AS definition,
  NULL AS owner, NULL AS acl
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = x.relnamespace
WHERE c.relpersistence <> 't' AND ${userClass('c')}`

// Objects a view reads, qualified: the view text below is compared unqualified (see unqualify).
// Only objects in user schemas: which system objects get a pg_depend row changed in 15.
const VIEW_USES = `(SELECT 'uses ' || string_agg(used, ', ' ORDER BY used COLLATE "C") FROM (
    SELECT DISTINCT format('%I.%I', un.nspname, uc.relname) || coalesce('.' || quote_ident(ua.attname), '') AS used
    FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
    JOIN pg_class uc ON uc.oid = d.refobjid JOIN pg_namespace un ON un.oid = uc.relnamespace
    LEFT JOIN pg_attribute ua ON ua.attrelid = d.refobjid AND ua.attnum = d.refobjsubid AND d.refobjsubid > 0
    WHERE r.ev_class = c.oid AND d.refobjid <> c.oid AND ${isUserSchema('un')}
    UNION
    SELECT DISTINCT d.refobjid::regprocedure::text
    FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_proc'::regclass
    JOIN pg_proc up ON up.oid = d.refobjid JOIN pg_namespace un ON un.oid = up.pronamespace
    WHERE r.ev_class = c.oid AND ${isUserSchema('un')}) AS uses)`

const VIEWS = `
SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized-view' END AS kind,
  format('%I.%I', n.nspname, c.relname) AS name, pg_get_viewdef(c.oid) AS deparsed,
  concat_ws(' ', 'with (' || array_to_string(c.reloptions, ', ') || ')',
    CASE WHEN c.relkind = 'm' THEN CASE WHEN c.relispopulated THEN 'populated' ELSE 'not populated' END END,
    ${VIEW_USES}) AS definition,
  pg_get_userbyid(c.relowner) AS owner, c.relacl::text AS acl
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND c.relpersistence <> 't' AND ${userClass('c')}`

// The body goes in as a digest (see describe): enough to tell bodies apart, short enough for a
// report. SQL-standard bodies (BEGIN ATOMIC) are stored as parse trees holding OIDs, so they are
// compared deparsed. Functions a range type made for itself belong to the type, like its name.
const ROUTINES = (version: number): string => `
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END AS kind,
  format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS name,
  concat_ws(' ', '(' || pg_get_function_arguments(p.oid) || ')',
    'returns ' || pg_get_function_result(p.oid),
    'language ' || quote_ident(l.lanname),
    CASE WHEN p.prokind = 'w' THEN 'window' END,
    CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,
    CASE WHEN p.proisstrict THEN 'strict' END,
    CASE WHEN p.prosecdef THEN 'security definer' END,
    CASE WHEN p.proleakproof THEN 'leakproof' END,
    CASE p.proparallel WHEN 's' THEN 'parallel safe' WHEN 'r' THEN 'parallel restricted' END,
    'cost ' || p.procost, CASE WHEN p.proretset THEN 'rows ' || p.prorows END,
    'set ' || array_to_string(p.proconfig, ', '),
    (SELECT concat_ws(' ', 'aggregate kind ' || a.aggkind::text, 'sfunc ' || a.aggtransfn::text,
        'stype ' || format_type(a.aggtranstype, NULL), 'initcond ' || quote_literal(a.agginitval),
        'finalfunc ' || a.aggfinalfn::text, 'combinefunc ' || a.aggcombinefn::text,
        CASE WHEN a.aggsortop <> 0 THEN 'sortop ' || a.aggsortop::regoperator::text END)
      FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
  ) AS definition,
  CASE WHEN p.prokind <> 'a' THEN ${version >= 140000 ? 'coalesce(pg_get_function_sqlbody(p.oid), p.prosrc)' : 'p.prosrc'} END AS body,
  pg_get_userbyid(p.proowner) AS owner, p.proacl::text AS acl
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
WHERE ${isUserSchema('n')} AND ${notMember('pg_proc', 'p.oid')}
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
    AND d.refclassid = 'pg_type'::regclass AND d.deptype = 'i')`

// Triggers cloned onto partitions are not the user's (pg_dump leaves them out): 14 marks them
// internal, 17 does not, so they are told apart by tgparentid on both (13+; 12 marks them internal).
const TRIGGERS = (version: number): string => `
SELECT 'trigger' AS kind, format('%I.%I.%I', n.nspname, c.relname, t.tgname) AS name,
  concat_ws(' ', pg_get_triggerdef(t.oid), CASE t.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled replica'
    WHEN 'A' THEN 'enabled always' END) AS definition,
  NULL AS owner, NULL AS acl
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal ${version >= 130000 ? 'AND t.tgparentid = 0' : ''} AND c.relpersistence <> 't' AND ${userClass('c')}`

const POLICIES = `
SELECT 'policy' AS kind, format('%I.%I.%I', n.nspname, c.relname, p.polname) AS name,
  concat_ws(' ', CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END,
    'for ' || CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
      WHEN 'd' THEN 'delete' ELSE 'all' END,
    'to ' || (SELECT string_agg(role, ', ' ORDER BY role COLLATE "C")
      FROM (SELECT CASE WHEN r = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END AS role
        FROM unnest(p.polroles) AS r) AS roles),
    'using (' || pg_get_expr(p.polqual, p.polrelid) || ')',
    'with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')') AS definition,
  NULL AS owner, NULL AS acl
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${userClass('c')}`

const RULES = `
SELECT 'rule' AS kind, format('%I.%I.%I', n.nspname, c.relname, r.rulename) AS name,
  concat_ws(' ', pg_get_ruledef(r.oid), CASE r.ev_enabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled replica'
    WHEN 'A' THEN 'enabled always' END) AS definition,
  NULL AS owner, NULL AS acl
FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.rulename <> '_RETURN' AND ${userClass('c')}`

const STATISTICS = `
SELECT 'statistics' AS kind, format('%I.%I', n.nspname, s.stxname) AS name,
  pg_get_statisticsobjdef(s.oid) AS definition, pg_get_userbyid(s.stxowner) AS owner, NULL AS acl
FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
WHERE ${isUserSchema('n')} AND ${notMember('pg_statistic_ext', 's.oid')}`

const SEQUENCES = `
SELECT 'sequence' AS kind, format('%I.%I', n.nspname, c.relname) AS name,
  concat_ws(' ', 'as ' || format_type(s.seqtypid, NULL), 'increment ' || s.seqincrement,
    'minvalue ' || s.seqmin, 'maxvalue ' || s.seqmax, 'start ' || s.seqstart, 'cache ' || s.seqcache,
    CASE WHEN s.seqcycle THEN 'cycle' ELSE 'no cycle' END,
    CASE WHEN c.relpersistence = 'u' THEN 'unlogged' END,
    (SELECT 'owned by ' || format('%I.%I.%I', tn.nspname, tc.relname, a.attname)
      FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
      JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
        AND d.deptype IN ('a', 'i'))
  ) AS definition,
  pg_get_userbyid(c.relowner) AS owner, c.relacl::text AS acl
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relpersistence <> 't' AND ${userClass('c')}`

/** The queries for a server of this `server_version_num`: sources run 12 and later. */
export const inventoryQueries = (version: number): readonly string[] => [
  SCHEMAS,
  EXTENSIONS,
  TYPES(version),
  TABLES,
  COLUMNS,
  CONSTRAINTS,
  INDEXES,
  VIEWS,
  ROUTINES(version),
  TRIGGERS(version),
  POLICIES,
  RULES,
  STATISTICS,
  SEQUENCES
]

interface InventoryRow {
  kind: ObjectKind
  name: string
  definition: string | null
  /** Views: pg_get_viewdef, compared unqualified. */
  deparsed?: string | null
  /** Routines: the body, compared as a digest. */
  body?: string | null
  owner: string | null
  acl: string | null
  version?: string
}

/** Every user object in the database, sorted by kind and name. */
export async function readInventory(client: pg.Client): Promise<SchemaObject[]> {
  const objects: SchemaObject[] = []
  const { rows: server } = await client.query<{ num: number }>(
    `SELECT current_setting('server_version_num')::int AS num`
  )
  for (const sql of inventoryQueries(server[0].num)) {
    const { rows } = await client.query<InventoryRow>(sql)
    objects.push(...rows.map(describe))
  }
  return objects.sort((a, b) => (a.kind === b.kind ? compareText(a.name, b.name) : compareText(a.kind, b.kind)))
}

function describe(row: InventoryRow): SchemaObject {
  const parts = [row.definition ?? '']
  if (row.deparsed) parts.unshift(unqualify(row.deparsed))
  if (row.body != null) parts.push(`body sha256 ${createHash('sha256').update(row.body).digest('hex').slice(0, 16)}`)
  const object: SchemaObject = {
    kind: row.kind,
    name: row.name,
    definition: normaliseWhitespace(parts.join(' ')),
    owner: row.owner,
    acl: row.acl
  }
  if (row.version != null) object.version = row.version
  return object
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
