// What moving objects need that does not move. pg_dump dumps a selected object whatever it depends
// on: a foreign key to a table left out, a view on it, a column of a type in another schema. The
// restore then fails on them; the plan finds them first, in pg_depend.
import type pg from 'pg'
import { pinSearchPath } from '../pg/connection.js'
import { scopeSql, type ScopeSql } from './sql.js'
import type { Prerequisites, ResolvedScope } from './types.js'

/** An object as pg_get_object_address takes it back, to look for it on the target. */
export interface ObjectAddress {
  type: string
  names: string[]
  args: string[]
}

/** A moving object that needs one that does not move, in words that name both. */
export interface UnmetDependency {
  kind: 'foreign-key' | 'foreign-key-rows' | 'dependency' | 'extension-in-moving-schema'
  message: string
  /** The object needed; the target may already have it. Absent when nothing on the target helps. */
  needed?: ObjectAddress
}

/** Catalogs whose rows live in a schema, with their namespace column. */
const NAMESPACED: Record<string, string> = {
  pg_proc: 'pronamespace',
  pg_operator: 'oprnamespace',
  pg_opclass: 'opcnamespace',
  pg_opfamily: 'opfnamespace',
  pg_collation: 'collnamespace',
  pg_conversion: 'connamespace',
  pg_ts_config: 'cfgnamespace',
  pg_ts_dict: 'dictnamespace',
  pg_ts_parser: 'prsnamespace',
  pg_ts_template: 'tmplnamespace'
}

/** Rows of these catalogs belong to a relation and move with it. */
const OF_RELATION: Record<string, string> = {
  pg_attrdef: 'adrelid',
  pg_trigger: 'tgrelid',
  pg_rewrite: 'ev_class',
  pg_policy: 'polrelid'
}

const regclass = (catalog: string): string => `'pg_catalog.${catalog}'::pg_catalog.regclass`
const eq = 'OPERATOR(pg_catalog.=)'

/**
 * SQL: whether the object (classid, objid) moves. Extension members move with their extension,
 * which moves only in a whole-database dump; everything else by its class (see ScopeSql).
 */
export function objectMoves(sql: ScopeSql, classid: string, objid: string): string {
  const byRelation = Object.entries(OF_RELATION).map(
    ([catalog, column]) =>
      `WHEN ${classid} ${eq} ${regclass(catalog)} THEN (SELECT ${sql.relation(`x.${column}`)} FROM pg_catalog.${catalog} x WHERE x.oid ${eq} ${objid})`
  )
  const bySchema = Object.entries(NAMESPACED).map(
    ([catalog, column]) =>
      `WHEN ${classid} ${eq} ${regclass(catalog)} THEN (SELECT ${sql.inSchema(`x.${column}`)} FROM pg_catalog.${catalog} x WHERE x.oid ${eq} ${objid})`
  )
  return `(CASE
    WHEN EXISTS (SELECT FROM pg_catalog.pg_depend e WHERE e.classid ${eq} ${classid} AND e.objid ${eq} ${objid} AND e.deptype ${eq} 'e') THEN ${sql.global}
    WHEN ${classid} ${eq} ${regclass('pg_class')} THEN (SELECT CASE
        WHEN c.relkind ${eq} ANY (ARRAY['i', 'I']::pg_catalog."char"[]) THEN ${sql.relation(`(SELECT i.indrelid FROM pg_catalog.pg_index i WHERE i.indexrelid ${eq} c.oid)`)}
        WHEN c.relkind ${eq} 'c' THEN ${sql.inSchema('c.relnamespace')}
        WHEN c.relkind ${eq} 't' THEN false
        ELSE ${sql.relation('c.oid')} END
      FROM pg_catalog.pg_class c WHERE c.oid ${eq} ${objid})
    WHEN ${classid} ${eq} ${regclass('pg_type')} THEN (SELECT CASE
        WHEN t.typrelid <> 0 AND (SELECT r.relkind FROM pg_catalog.pg_class r WHERE r.oid ${eq} t.typrelid) <> 'c' THEN ${sql.relation('t.typrelid')}
        ELSE ${sql.inSchema('t.typnamespace')} END
      FROM pg_catalog.pg_type t WHERE t.oid ${eq} ${objid})
    WHEN ${classid} ${eq} ${regclass('pg_constraint')} THEN (SELECT CASE
        WHEN k.conrelid <> 0 THEN ${sql.relation('k.conrelid')} ELSE ${sql.inSchema('k.connamespace')} END
      FROM pg_catalog.pg_constraint k WHERE k.oid ${eq} ${objid})
    WHEN ${classid} ${eq} ${regclass('pg_namespace')} THEN ${sql.schema(objid)}
    -- pg_dump 15 and later dump extended statistics with their table only.
    WHEN ${classid} ${eq} ${regclass('pg_statistic_ext')} THEN (SELECT ${sql.inSchema('x.stxnamespace')} AND ${sql.relation('x.stxrelid')}
      FROM pg_catalog.pg_statistic_ext x WHERE x.oid ${eq} ${objid})
    ${[...byRelation, ...bySchema].join('\n    ')}
    ELSE ${sql.global} END)`
}

/** Below this OID an object belongs to the system: every target has it. */
const FIRST_NORMAL_OID = 16384

interface DependencyRow {
  kind: 'schema' | 'extension' | 'foreign-key' | 'other'
  dependent: string
  needed: string
  name: string | null
  extension_schema: string | null
  extension_schema_moves: boolean | null
  type: string
  names: string[]
  args: string[]
}

/**
 * What moving objects need and the run can make (schemas, extensions: prerequisites), and what it
 * cannot (unmet). A foreign key is named by both tables; a row-level check covers foreign keys
 * whose referenced table moves without its rows.
 */
export async function scopeDependencies(
  client: pg.Client,
  scope: ResolvedScope,
  options: { readRows: boolean }
): Promise<{ prerequisites: Prerequisites; unmet: UnmetDependency[] }> {
  const sql = scopeSql(scope)
  // Names printed qualified: the session's own search_path is pinned, but the caller may have left another.
  await pinSearchPath(client)
  return readDependencies(client, sql, options)
}

async function readDependencies(
  client: pg.Client,
  sql: ScopeSql,
  options: { readRows: boolean }
): Promise<{ prerequisites: Prerequisites; unmet: UnmetDependency[] }> {
  const { rows } = await client.query<DependencyRow>(dependenciesQuery(sql))
  const { prerequisites, unmet } = classifyDependencies(rows)
  if (options.readRows) unmet.push(...(await foreignKeysWithoutRows(client, sql)))
  return { prerequisites, unmet }
}

/** SQL: an object in words; a rule by its relation (a view's needs are its _RETURN rule's, and the user wrote the view). */
const describeObject = (classid: string, objid: string, subid: string): string =>
  `CASE WHEN ${classid} ${eq} ${regclass('pg_rewrite')}
       THEN (SELECT pg_catalog.pg_describe_object(${regclass('pg_class')}, r.ev_class, 0) FROM pg_catalog.pg_rewrite r WHERE r.oid ${eq} ${objid})
       ELSE pg_catalog.pg_describe_object(${classid}, ${objid}, ${subid}) END`

/**
 * SQL: each moving object's need of one that does not move, with what the run can do about it:
 * a schema or extension it can make first, a foreign key named by both tables, anything else in words.
 */
function dependenciesQuery(sql: ScopeSql): string {
  return `WITH needs AS (
       SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid
         FROM pg_catalog.pg_depend d
        WHERE d.deptype ${eq} 'n' AND d.refobjid >= ${FIRST_NORMAL_OID}
       UNION ALL
       -- A partition depends on its table automatically, yet is attached to it by name.
       SELECT ${regclass('pg_class')}, i.inhrelid, 0, ${regclass('pg_class')}, i.inhparent
         FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid ${eq} i.inhrelid AND c.relispartition
     ), unmet AS (
       SELECT * FROM needs n
        WHERE ${objectMoves(sql, 'n.classid', 'n.objid')} AND NOT ${objectMoves(sql, 'n.refclassid', 'n.refobjid')}
     )
     SELECT DISTINCT
            CASE WHEN u.refclassid ${eq} ${regclass('pg_namespace')} THEN 'schema'
                 WHEN x.extname IS NOT NULL THEN 'extension'
                 WHEN k.contype ${eq} 'f' THEN 'foreign-key'
                 ELSE 'other' END AS kind,
            CASE WHEN k.contype ${eq} 'f'
                 THEN pg_catalog.format('foreign key %s on %s', pg_catalog.quote_ident(k.conname), k.conrelid::pg_catalog.regclass)
                 ELSE ${describeObject('u.classid', 'u.objid', 'u.objsubid')} END AS dependent,
            CASE WHEN k.contype ${eq} 'f' THEN k.confrelid::pg_catalog.regclass::text
                 ELSE pg_catalog.pg_describe_object(u.refclassid, u.refobjid, 0) END AS needed,
            COALESCE(x.extname, CASE WHEN u.refclassid ${eq} ${regclass('pg_namespace')}
                                     THEN (SELECT s.nspname FROM pg_catalog.pg_namespace s WHERE s.oid ${eq} u.refobjid) END) AS name,
            xn.nspname AS extension_schema,
            CASE WHEN x.oid IS NOT NULL THEN ${sql.schema('x.extnamespace')} END AS extension_schema_moves,
            a.type, a.object_names AS names, a.object_args AS args
       FROM unmet u
       LEFT JOIN pg_catalog.pg_constraint k ON u.classid ${eq} ${regclass('pg_constraint')} AND k.oid ${eq} u.objid
       LEFT JOIN pg_catalog.pg_depend xd ON xd.classid ${eq} u.refclassid AND xd.objid ${eq} u.refobjid AND xd.deptype ${eq} 'e'
       LEFT JOIN pg_catalog.pg_extension x ON x.oid ${eq} xd.refobjid
       LEFT JOIN pg_catalog.pg_namespace xn ON xn.oid ${eq} x.extnamespace
       CROSS JOIN LATERAL pg_catalog.pg_identify_object_as_address(
         CASE WHEN k.contype ${eq} 'f' THEN ${regclass('pg_class')} ELSE u.refclassid END,
         CASE WHEN k.contype ${eq} 'f' THEN k.confrelid ELSE u.refobjid END, 0) a
      ORDER BY 1, 2, 3`
}

/** Schemas and extensions the run creates before the restore; the rest is unmet. */
function classifyDependencies(rows: DependencyRow[]): { prerequisites: Prerequisites; unmet: UnmetDependency[] } {
  const prerequisites: Prerequisites = { schemas: [], extensions: [] }
  const unmet: UnmetDependency[] = []
  for (const row of rows) {
    const needed: ObjectAddress = { type: row.type, names: row.names, args: row.args }
    if (row.kind === 'schema' && row.name !== null) {
      if (!prerequisites.schemas.includes(row.name)) prerequisites.schemas.push(row.name)
    } else if (row.kind === 'extension' && row.name !== null && row.extension_schema !== null) {
      if (row.extension_schema_moves) {
        unmet.push({
          kind: 'extension-in-moving-schema',
          message: `${row.dependent} uses extension ${row.name}, which lives in schema ${row.extension_schema}: that schema moves, but pg_dump moves extensions only with the whole database, and the run cannot create the extension before the restore creates its schema`
        })
      } else if (!prerequisites.extensions.some((e) => e.name === row.name))
        prerequisites.extensions.push({ name: row.name, schema: row.extension_schema })
    } else if (row.kind === 'foreign-key') {
      const message = `${row.dependent} references ${row.needed}, which does not move`
      if (!unmet.some((u) => u.message === message)) unmet.push({ kind: 'foreign-key', message, needed })
    } else {
      unmet.push({ kind: 'dependency', message: `${row.dependent} needs ${row.needed}, which does not move`, needed })
    }
  }
  return { prerequisites, unmet }
}

/**
 * A foreign key whose referencing table moves with rows while the referenced table moves without
 * them: adding the constraint on the target checks those rows and fails. Reads user tables, so it
 * runs outside a transaction (the plan), never in the dump's snapshot, which a refused read would end.
 */
async function foreignKeysWithoutRows(client: pg.Client, sql: ScopeSql): Promise<UnmetDependency[]> {
  const { rows } = await client.query<{ constraint: string; referencing: string; referenced: string }>(
    `SELECT pg_catalog.quote_ident(k.conname) AS constraint, k.conrelid::pg_catalog.regclass::text AS referencing,
            k.confrelid::pg_catalog.regclass::text AS referenced
       FROM pg_catalog.pg_constraint k
      WHERE k.contype ${eq} 'f' AND ${sql.data('k.conrelid')} AND ${sql.relation('k.confrelid')} AND NOT ${sql.data('k.confrelid')}
      ORDER BY 2, 1`
  )
  const unmet: UnmetDependency[] = []
  for (const row of rows) {
    // A table whose rows cannot be read counts as holding some: the check then errs on the safe side.
    const holdsRows = await client
      .query(`SELECT 1 FROM ONLY ${row.referencing} LIMIT 1`)
      .then((result) => (result.rowCount ?? 0) > 0)
      .catch(() => true)
    if (!holdsRows) continue
    unmet.push({
      kind: 'foreign-key-rows',
      message: `foreign key ${row.constraint} on ${row.referencing} references ${row.referenced}, whose rows do not move (exclude-table-data): the rows of ${row.referencing} fail its check on the target`
    })
  }
  return unmet
}
