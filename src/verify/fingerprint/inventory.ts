import { createHash } from 'node:crypto'
import type pg from 'pg'
import { WHOLE_DATABASE, type ScopeSql } from '../../scope/sql.js'
import { inventoryQueries } from './inventory-queries.js'
import { normaliseDefinition, unqualify } from './normalise.js'
import { showName } from './sql.js'
import type { ObjectKind, SchemaObject } from './types.js'

export { inventoryQueries } from './inventory-queries.js'

interface InventoryRow {
  kind: ObjectKind
  /** The names as stored: schema, relation, then the object's own name where it has one. */
  parts: string[]
  /** Routines: their input argument types. */
  args?: string[]
  definition: string | null
  /** Views: pg_get_viewdef, compared unqualified. */
  deparsed?: string | null
  /** Routines: the body as written (prosrc), compared as a digest. */
  body?: string | null
  /** Routines with a SQL-standard body (BEGIN ATOMIC, 14+): that body, deparsed. */
  sqlbody?: string | null
  owner: string | null
  acl: string | null
  version?: string
  columns?: string[]
  parents?: string[] | null
  /** Constraints: their OID and, for one a server made for a partition, its parent's. */
  oid?: string
  parent_oid?: string | null
  /** Foreign keys: the referenced table, shown. */
  referenced?: string | null
  /** The deparsed pieces of the definition, as printed, and what parsing them again needs (reparse.ts). */
  printed?: string[] | null
  context?: string[] | null
}

/** Every user object in the database (that moves, given a scope), sorted by kind and name. */
export async function readInventory(client: pg.Client, scope: ScopeSql = WHOLE_DATABASE): Promise<SchemaObject[]> {
  const { rows: version } = await client.query<{ number: number }>(
    `SELECT current_setting('server_version_num')::int AS number`
  )
  const rows: InventoryRow[] = []
  for (const sql of inventoryQueries(version[0].number, scope))
    rows.push(...(await client.query<InventoryRow>(sql)).rows)
  const names = nameObjects(rows)
  const objects = rows.map((row, index) => describe(row, names[index]))
  return objects.sort((a, b) => (a.kind === b.kind ? compareText(a.name, b.name) : compareText(a.kind, b.kind)))
}

/**
 * Each row's identity (see SchemaObject.name). A constraint a server made for a partition is named
 * through its parent and the table it references: a restore creates those clones itself, under
 * names of its own choosing (`fk_a_fkey1` on 14, `fk_a_fkey_1` on 18, in whatever order it
 * attaches the partitions).
 */
function nameObjects(rows: InventoryRow[]): string[] {
  const constraints = new Map(rows.filter((row) => row.oid !== undefined).map((row) => [row.oid, row]))
  const named = new Map<InventoryRow, string>()
  const nameOf = (row: InventoryRow, depth = 0): string => {
    const known = named.get(row)
    if (known !== undefined) return known
    const parent = row.parent_oid ? constraints.get(row.parent_oid) : undefined
    let name =
      row.parts.map(showName).join('.') +
      (row.args ? `(${row.args.map((arg) => normaliseDefinition(arg)).join(', ')})` : '')
    // A parent chain is a tree in the catalog; the bound only guards against a damaged one.
    if (parent && depth < 32) {
      const table = row.parts.slice(0, 2).map(showName).join('.')
      const references = row.referenced ? `, references ${row.referenced}` : ''
      name = `${table} (from ${nameOf(parent, depth + 1)}${references})`
    }
    named.set(row, name)
    return name
  }
  return rows.map((row) => nameOf(row))
}

function describe(row: InventoryRow, name: string): SchemaObject {
  const parts = [row.definition ?? '']
  if (row.deparsed) parts.unshift(unqualify(row.deparsed))
  const body = row.sqlbody != null ? normaliseDefinition(row.sqlbody) : row.body
  if (body != null) parts.push(`body sha256 ${createHash('sha256').update(body).digest('hex').slice(0, 16)}`)
  const object: SchemaObject = {
    kind: row.kind,
    name,
    definition: normaliseDefinition(parts.join(' '), row.kind),
    owner: row.owner,
    acl: sortAcl(row.acl)
  }
  if (row.version != null) object.version = row.version
  if (row.columns) object.columns = row.columns
  if (row.parents) object.parents = row.parents
  const skeleton = row.printed?.length ? skeletonOf(row, parts) : undefined
  if (row.printed?.length && skeleton !== undefined) {
    object.printed = { pieces: row.printed, skeleton, context: row.context ?? [] }
  }
  return object
}

/** Where a piece stood in the definition: a mark no printed text holds. */
export const pieceMark = (index: number): string => `\u0001${index}\u0001`

/**
 * The definition with each printed piece replaced by its mark, normalised: two objects with equal
 * skeletons differ, if at all, in their pieces. Undefined when a piece cannot be found in order.
 */
function skeletonOf(row: InventoryRow, parts: string[]): string | undefined {
  const pieces = row.printed ?? []
  // A view's text is the first part, unqualified: its piece is that part.
  const first = row.deparsed ? 1 : 0
  let text = row.deparsed ? [pieceMark(0), ...parts.slice(1)].join(' ') : parts.join(' ')
  // From the end: what precedes the pieces (a type, a keyword) could hold a short piece's text.
  let end = text.length
  for (let index = pieces.length - 1; index >= first; index--) {
    const at = text.lastIndexOf(pieces[index], end - pieces[index].length)
    if (at < 0) return undefined
    text = text.slice(0, at) + pieceMark(index) + text.slice(at + pieces[index].length)
    end = at
  }
  return normaliseDefinition(text, row.kind)
}

/** aclitem text: `grantee=privileges/grantor`, a name double-quoted when it holds a comma or quote. */
const ACL_ITEM = /(?:[^,"{}]|"(?:[^"]|"")*")+/g

/** The items of an aclitem[] text. */
export function aclItems(acl: string): string[] {
  return acl.slice(1, -1).match(ACL_ITEM) ?? []
}

/** ACL items in a fixed order: a restore grants in its own order, and the order means nothing. */
export function sortAcl(acl: string | null): string | null {
  if (acl === null || acl === '{}') return null
  return `{${aclItems(acl).sort(compareText).join(',')}}`
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
