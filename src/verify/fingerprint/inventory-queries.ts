import type { ScopeSql } from '../../scope/sql.js'
import { isNotExtensionMember as notMember, isUserSchema, showNameSql } from './sql.js'

// One query per kind of object, each returning (kind, parts, definition, owner, acl) and what the
// kind needs besides. `parts` are the names as stored (inventory.ts shows them); definitions come
// from the server's own deparsers (pg_get_*def) where one exists: with search_path = pg_catalog
// they print user objects qualified. Every query runs on 12 and later: what a version lacks is
// left out by `version` (server_version_num), never guessed. With filters, each keeps only what
// moves (`scope`): a relation and what belongs to it by the relation, other objects by their schema.

// Deparsed pieces of a definition (printed) and what the target needs to parse them again (context):
// see reparse.ts. The relation the piece belongs to, as this server quotes it.
const QUALIFIED = `quote_ident(n.nspname) || '.' || quote_ident(c.relname)`

const userClass = (alias: string): string => `${isUserSchema('n')} AND ${notMember('pg_class', `${alias}.oid`)}`

/** `schema.name` of a relation, shown as the fingerprint shows names. */
const relationName = (schema: string, name: string): string => `${showNameSql(schema)} || '.' || ${showNameSql(name)}`

/**
 * The ACL in effect: NULL means the owner's default for the object's type on this server
 * (acldefault), so an ACL granted back to exactly that default equals none.
 */
const effectiveAcl = (acl: string, type: string, owner: string): string =>
  `coalesce(${acl}, acldefault('${type}', ${owner}))::text`

/** The name of a collation when it is not the type's own default, else NULL. */
const collationClause = (
  collation: string,
  typeCollation: string
): string => `(SELECT 'collate ' || format('%I.%I', cn.nspname, co.collname)
  FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
  WHERE co.oid = ${collation} AND ${collation} <> ${typeCollation})`

const schemas = (scope: ScopeSql): string => `
SELECT 'schema' AS kind, ARRAY[n.nspname::text] AS parts, '' AS definition,
  pg_get_userbyid(n.nspowner) AS owner, ${effectiveAcl('n.nspacl', 'n', 'n.nspowner')} AS acl
FROM pg_namespace n WHERE ${isUserSchema('n')} AND ${notMember('pg_namespace', 'n.oid')} AND ${scope.schema('n.oid')}`

const extensions = (scope: ScopeSql): string => `
SELECT 'extension' AS kind, ARRAY[e.extname::text] AS parts, 'schema ' || quote_ident(n.nspname) AS definition,
  NULL AS owner, NULL AS acl, e.extversion AS version
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE ${scope.extension('e.oid')}`

// A range's multirange type is 14+; compare.ts drops the clause when only one side has it.
// Only a name the user chose (multirange_type_name) is part of the definition: the one CREATE TYPE
// makes by itself (makeMultirangeTypeName: "range" becomes "multirange", else "_multirange" is
// appended) is what a restore into 14+ makes of a range from 12 or 13 too.
const chosenMultirange = `(SELECT CASE WHEN m.typnamespace = t.typnamespace AND m.typname::text = left(CASE
    WHEN strpos(t.typname::text, 'range') > 0
      THEN overlay(t.typname::text PLACING 'multirange' FROM strpos(t.typname::text, 'range') FOR 5)
    ELSE left(t.typname::text, 52) || '_multirange' END, 63)
  THEN NULL ELSE 'multirange ' || format_type(m.oid, NULL) END FROM pg_type m WHERE m.oid = r.rngmultitypid)`
const types = (version: number, scope: ScopeSql): string => `
SELECT 'type' AS kind, ARRAY[n.nspname::text, t.typname::text] AS parts,
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
        'canonical ' || r.rngcanonical::text, 'subdiff ' || r.rngsubdiff::text
        ${version >= 140000 ? `, ${chosenMultirange}` : ''})
      FROM pg_range r WHERE r.rngtypid = t.oid)
    ELSE concat_ws(' ', 'base input', t.typinput::text, 'output', t.typoutput::text, 'length', t.typlen,
      'alignment', t.typalign, 'storage', t.typstorage)
  END AS definition,
  pg_get_userbyid(t.typowner) AS owner, ${effectiveAcl('t.typacl', 'T', 't.typowner')} AS acl,
  CASE WHEN t.typtype = 'd' THEN array_remove(pg_get_expr(t.typdefaultbin, 0)
    || ARRAY(SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'
      ORDER BY c.conname COLLATE "C"), NULL) END AS printed,
  CASE WHEN t.typtype = 'd' THEN ARRAY[format_type(t.typbasetype, t.typtypmod), (t.typdefaultbin IS NOT NULL)::text] END
    AS context
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r') AND ${isUserSchema('n')} AND ${notMember('pg_type', 't.oid')}
  AND ${scope.inSchema('t.typnamespace')}
  AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
  AND NOT EXISTS (SELECT FROM pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid)`

// Columns travel apart from the table's definition: their order is compared on its own (compare.ts).
const tables = (scope: ScopeSql): string => `
SELECT 'table' AS kind, ARRAY[n.nspname::text, c.relname::text] AS parts,
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
  pg_get_userbyid(c.relowner) AS owner, ${effectiveAcl('c.relacl', 'r', 'c.relowner')} AS acl,
  coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}') AS columns,
  CASE WHEN NOT c.relispartition THEN (SELECT array_agg(${relationName('pn.nspname', 'p.relname')} ORDER BY i.inhseqno)
    FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
    WHERE i.inhrelid = c.oid) END AS parents
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f') AND c.relpersistence <> 't' AND ${userClass('c')} AND ${scope.relation('c.oid')}`

// No position: the order of columns is compared on its own, with the table (compare.ts).
const columns = (scope: ScopeSql): string => `
SELECT 'column' AS kind, ARRAY[n.nspname::text, c.relname::text, a.attname::text] AS parts,
  concat_ws(' ', format_type(a.atttypid, a.atttypmod),
    ${collationClause('a.attcollation', 't.typcollation')},
    CASE WHEN a.attnotnull THEN 'not null' END,
    CASE a.attidentity WHEN 'a' THEN 'generated always as identity' WHEN 'd' THEN 'generated by default as identity' END,
    CASE a.attgenerated WHEN 's' THEN 'generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') stored'
      WHEN 'v' THEN 'generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') virtual'
      ELSE 'default ' || pg_get_expr(d.adbin, d.adrelid) END
  ) AS definition,
  NULL AS owner, nullif(a.attacl::text, '{}') AS acl,
  CASE WHEN d.adbin IS NOT NULL THEN ARRAY[pg_get_expr(d.adbin, d.adrelid)] END AS printed,
  ARRAY[${QUALIFIED}, quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), a.attgenerated::text] AS context
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') AND c.relpersistence <> 't'
  AND ${userClass('c')} AND ${scope.relation('c.oid')}`

// Constraints a server made for a partition (conparentid) carry their parent and, for foreign keys,
// the table they reference: inventory.ts names them through those, since a restore names the
// cloned foreign keys anew (pg_dump leaves them out: `conparentid = 0` in its getConstraints).
const constraints = (scope: ScopeSql): string => `
SELECT 'constraint' AS kind, ARRAY[n.nspname::text, c.relname::text, k.conname::text] AS parts,
  pg_get_constraintdef(k.oid) AS definition, NULL AS owner, NULL AS acl,
  CASE WHEN k.contype IN ('c', 'p', 'u', 'x') THEN ARRAY[pg_get_constraintdef(k.oid)] END AS printed,
  ARRAY[${QUALIFIED}] AS context,
  k.oid::text AS oid, nullif(k.conparentid, 0)::text AS parent_oid,
  CASE WHEN k.contype = 'f' THEN (SELECT ${relationName('rn.nspname', 'r.relname')}
    FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace WHERE r.oid = k.confrelid) END AS referenced
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype IN ('c', 'f', 'p', 'u', 't', 'x') AND c.relpersistence <> 't' AND ${userClass('c')}
  AND ${scope.relation('c.oid')}`

// pg_dump dumps what it can use: valid indexes, and those of partitioned tables (valid once every
// partition's index is attached). A partition's index keeps its name and is attached by name.
const indexes = (scope: ScopeSql): string => `
SELECT 'index' AS kind, ARRAY[n.nspname::text, x.relname::text] AS parts,
  concat_ws(' ', pg_get_indexdef(i.indexrelid), CASE WHEN i.indisclustered THEN 'clustered' END,
    (SELECT 'partition of ' || ${relationName('pn.nspname', 'p.relname')}
      FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
      WHERE h.inhrelid = x.oid)) AS definition,
  NULL AS owner, NULL AS acl, ARRAY[pg_get_indexdef(i.indexrelid)] AS printed,
  ARRAY[${QUALIFIED}, CASE WHEN i.indisunique THEN 'unique' ELSE '' END] AS context
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = x.relnamespace
WHERE c.relpersistence <> 't' AND (i.indisvalid OR c.relkind = 'p') AND i.indisready AND ${userClass('c')}
  AND ${scope.relation('c.oid')}`

// Objects a view reads, qualified: the view text below is compared unqualified (see unqualify).
// Only objects in user schemas: which system objects get a pg_depend row changed in 15.
const VIEW_USES = `(SELECT 'uses ' || string_agg(used, ', ' ORDER BY used COLLATE "C") FROM (
    SELECT DISTINCT ${relationName('un.nspname', 'uc.relname')} || coalesce('.' || ${showNameSql('ua.attname')}, '') AS used
    FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
    JOIN pg_class uc ON uc.oid = d.refobjid JOIN pg_namespace un ON un.oid = uc.relnamespace
    LEFT JOIN pg_attribute ua ON ua.attrelid = d.refobjid AND ua.attnum = d.refobjsubid AND d.refobjsubid > 0
    WHERE r.ev_class = c.oid AND d.refobjid <> c.oid AND ${isUserSchema('un')}
    UNION
    SELECT DISTINCT ${relationName('un.nspname', 'up.proname')} || '(' || (SELECT coalesce(string_agg(format_type(a.t, NULL), ', ' ORDER BY a.i), '')
      FROM unnest(up.proargtypes::oid[]) WITH ORDINALITY AS a(t, i)) || ')'
    FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_proc'::regclass
    JOIN pg_proc up ON up.oid = d.refobjid JOIN pg_namespace un ON un.oid = up.pronamespace
    WHERE r.ev_class = c.oid AND ${isUserSchema('un')}) AS uses)`

// A materialized view moved without its data (exclude-table-data) is not refreshed: its state is
// then not compared.
const views = (scope: ScopeSql): string => `
SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized-view' END AS kind,
  ARRAY[n.nspname::text, c.relname::text] AS parts, pg_get_viewdef(c.oid) AS deparsed,
  concat_ws(' ', 'with (' || array_to_string(c.reloptions, ', ') || ')',
    CASE WHEN c.relkind = 'm' AND ${scope.data('c.oid')} THEN CASE WHEN c.relispopulated THEN 'populated' ELSE 'not populated' END END,
    ${VIEW_USES}) AS definition,
  pg_get_userbyid(c.relowner) AS owner, ${effectiveAcl('c.relacl', 'r', 'c.relowner')} AS acl,
  ARRAY[pg_get_viewdef(c.oid)] AS printed
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND c.relpersistence <> 't' AND ${userClass('c')} AND ${scope.relation('c.oid')}`

// A routine is named by its input argument types (its identity); argument names and modes are in
// the definition. The body goes in as a digest (see describe): enough to tell bodies apart, short
// enough for a report. SQL-standard bodies (BEGIN ATOMIC, 14+) are stored as parse trees holding
// OIDs, so they are compared deparsed, and normalised like any deparsed text first (17 prints
// tj."json" where 14 prints tj.json). Functions a range type made for itself belong to the type.
const routines = (version: number, scope: ScopeSql): string => `
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END AS kind,
  ARRAY[n.nspname::text, p.proname::text] AS parts,
  ARRAY(SELECT format_type(a.t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, i) ORDER BY a.i) AS args,
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
  CASE WHEN p.prokind <> 'a' THEN p.prosrc END AS body,
  ${version >= 140000 ? 'pg_get_function_sqlbody(p.oid)' : 'NULL'} AS sqlbody,
  pg_get_userbyid(p.proowner) AS owner, ${effectiveAcl('p.proacl', 'f', 'p.proowner')} AS acl
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
WHERE ${isUserSchema('n')} AND ${notMember('pg_proc', 'p.oid')} AND ${scope.inSchema('p.pronamespace')}
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
    AND d.refclassid = 'pg_type'::regclass AND d.deptype = 'i')`

/**
 * Triggers, and their clones on partitions: a clone keeps its parent's name (CloneRowTriggersToPartition)
 * and pg_dump dumps only its enabled state when that differs from the parent's, so clones are
 * compared by name, as clones of their parent. 14 marks clones internal, 17 does not; tgparentid
 * is 13+, 12 links a clone to its parent by a pg_depend row of type P. The triggers of foreign keys
 * and of deferrable unique constraints are internal and belong to their constraint.
 */
const triggers = (version: number, scope: ScopeSql): string => {
  const parent =
    version >= 130000
      ? 't.tgparentid'
      : `coalesce((SELECT d.refobjid FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid
          AND d.refclassid = 'pg_trigger'::regclass AND d.deptype = 'P' LIMIT 1), 0)`
  return `
SELECT 'trigger' AS kind, ARRAY[n.nspname::text, c.relname::text, t.tgname::text] AS parts,
  concat_ws(' ', pg_get_triggerdef(t.oid), CASE t.tgenabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled replica'
    WHEN 'A' THEN 'enabled always' END,
    (SELECT 'clone of ' || ${relationName('pn.nspname', 'pc.relname')} || '.' || ${showNameSql('pt.tgname')}
      FROM pg_trigger pt JOIN pg_class pc ON pc.oid = pt.tgrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE pt.oid = p.parent)) AS definition,
  NULL AS owner, NULL AS acl
FROM pg_trigger t CROSS JOIN LATERAL (SELECT ${parent} AS parent) p
JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (NOT t.tgisinternal OR (p.parent <> 0
    AND (t.tgconstraint = 0 OR (SELECT k.contype FROM pg_constraint k WHERE k.oid = t.tgconstraint) = 't')))
  AND c.relpersistence <> 't' AND ${userClass('c')} AND ${scope.relation('c.oid')}`
}

const policies = (scope: ScopeSql): string => `
SELECT 'policy' AS kind, ARRAY[n.nspname::text, c.relname::text, p.polname::text] AS parts,
  concat_ws(' ', CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END,
    'for ' || CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
      WHEN 'd' THEN 'delete' ELSE 'all' END,
    'to ' || (SELECT string_agg(role, ', ' ORDER BY role COLLATE "C")
      FROM (SELECT CASE WHEN r = 0 THEN 'public' ELSE ${showNameSql('pg_get_userbyid(r)')} END AS role
        FROM unnest(p.polroles) AS r) AS roles),
    'using (' || pg_get_expr(p.polqual, p.polrelid) || ')',
    'with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')') AS definition,
  NULL AS owner, NULL AS acl,
  array_remove(ARRAY[pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)], NULL) AS printed,
  ARRAY[${QUALIFIED}, (p.polqual IS NOT NULL)::text, (p.polwithcheck IS NOT NULL)::text] AS context
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${userClass('c')} AND ${scope.relation('c.oid')}`

const rules = (scope: ScopeSql): string => `
SELECT 'rule' AS kind, ARRAY[n.nspname::text, c.relname::text, r.rulename::text] AS parts,
  concat_ws(' ', pg_get_ruledef(r.oid), CASE r.ev_enabled WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'enabled replica'
    WHEN 'A' THEN 'enabled always' END) AS definition,
  NULL AS owner, NULL AS acl
FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.rulename <> '_RETURN' AND ${userClass('c')} AND ${scope.relation('c.oid')}`

// pg_dump (15 and later) dumps extended statistics with their table only.
const statistics = (scope: ScopeSql): string => `
SELECT 'statistics' AS kind, ARRAY[n.nspname::text, s.stxname::text] AS parts,
  pg_get_statisticsobjdef(s.oid) AS definition, pg_get_userbyid(s.stxowner) AS owner, NULL AS acl
FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
WHERE ${isUserSchema('n')} AND ${notMember('pg_statistic_ext', 's.oid')} AND ${scope.inSchema('s.stxnamespace')}
  AND ${scope.relation('s.stxrelid')}`

const sequences = (scope: ScopeSql): string => `
SELECT 'sequence' AS kind, ARRAY[n.nspname::text, c.relname::text] AS parts,
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
  pg_get_userbyid(c.relowner) AS owner, ${effectiveAcl('c.relacl', 's', 'c.relowner')} AS acl
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relpersistence <> 't' AND ${userClass('c')} AND ${scope.relation('c.oid')}`

/** The inventory's queries for a server of this `server_version_num`, keeping what `scope` moves. */
export function inventoryQueries(version: number, scope: ScopeSql): string[] {
  return [
    schemas(scope),
    extensions(scope),
    types(version, scope),
    tables(scope),
    columns(scope),
    constraints(scope),
    indexes(scope),
    views(scope),
    routines(version, scope),
    triggers(version, scope),
    policies(scope),
    rules(scope),
    statistics(scope),
    sequences(scope)
  ]
}
