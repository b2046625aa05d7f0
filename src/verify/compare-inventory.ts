import type { CompareOptions, Difference, ReparseVerdict } from './differences.js'
import { aclItems, showName, sortAcl, type Fingerprint, type SchemaObject } from './fingerprint/index.js'

/** What a comparison of two inventories needs to know about the servers they were read on. */
interface Sides {
  source: Fingerprint
  target: Fingerprint
  sourceMajor: number
  targetMajor: number
}

const key = (object: SchemaObject): string => `${object.kind} ${object.name}`

export function compareInventory(source: Fingerprint, target: Fingerprint, options: CompareOptions): Difference[] {
  const sides: Sides = { source, target, sourceMajor: major(source), targetMajor: major(target) }
  const targets = new Map(target.inventory.map((object) => [key(object), object]))
  const sources = new Map(source.inventory.map((object) => [key(object), object]))
  const differences: Difference[] = []
  for (const [object, wanted] of sources) {
    const found = targets.get(object)
    if (!found) {
      differences.push({
        kind: 'missing',
        object,
        source: wanted.definition,
        expected: false,
        detail: `${object} is not on the target`
      })
      continue
    }
    differences.push(...compareObject(object, wanted, found, sides, options))
    if (wanted.kind === 'table') differences.push(...compareColumnOrder(object, wanted, found, targets))
  }
  for (const [object, found] of targets) {
    if (sources.has(object)) continue
    // A hosted target may come with extensions of its own; they add nothing to the copied data.
    const expected = found.kind === 'extension'
    const detail = expected ? `${object} is installed on the target only` : `${object} is on the target only`
    differences.push({ kind: 'extra', object, target: found.definition, expected, detail })
  }
  return differences
}

/** The major version of the server a fingerprint was read on: `14.23` → 14, `18beta1` → 18. */
function major(fingerprint: Fingerprint): number {
  return Number.parseInt(fingerprint.serverVersion, 10)
}

function compareObject(
  object: string,
  wanted: SchemaObject,
  found: SchemaObject,
  sides: Sides,
  options: CompareOptions
): Difference[] {
  const differences: Difference[] = []
  const notKept = options.privileges === 'skip'
  if (comparable(wanted, sides) !== comparable(found, sides)) {
    differences.push(...definitionDifference(object, wanted, found, options.reparsed?.get(object)))
  }
  if (wanted.version !== found.version) {
    differences.push({
      kind: 'definition',
      object,
      source: wanted.version ?? null,
      target: found.version ?? null,
      expected: true,
      detail: `${object} is at version ${found.version} on the target, ${wanted.version} on the source: a restore creates the target's default version`
    })
  }
  // PostgreSQL 15 gave schema public to pg_database_owner: a restore without owners leaves it there.
  const publicSchema =
    object === 'schema public' &&
    sides.targetMajor >= 15 &&
    found.owner === 'pg_database_owner' &&
    wanted.owner !== 'pg_database_owner'
  if (wanted.owner !== found.owner) {
    const why = notKept
      ? ' (owners are not restored with privileges: skip)'
      : publicSchema
        ? ' (PostgreSQL 15+ makes pg_database_owner its owner)'
        : ''
    differences.push({
      kind: 'owner',
      object,
      source: wanted.owner,
      target: found.owner,
      expected: notKept || publicSchema,
      detail: `${object} has another owner${why}`
    })
  }
  const wantedAcl = publicSchema ? renameRole(wanted.acl, wanted.owner, found.owner) : wanted.acl
  const foundAcl = withoutGrantee(found.acl, options.restoreRole)
  if (comparableAcl(wantedAcl, sides) !== comparableAcl(foundAcl, sides)) {
    const why = notKept ? ' (grants are not restored with privileges: skip)' : ''
    differences.push({
      kind: 'privileges',
      object,
      source: wanted.acl,
      target: found.acl,
      expected: notKept,
      detail: `${object} has other privileges${why}`
    })
  }
  return differences
}

/**
 * Two printings that differ, judged by what the target made of the source's text (reparse.ts):
 * parsed into exactly what the target holds, the restore is faithful, whatever the printers print.
 */
function definitionDifference(
  object: string,
  wanted: SchemaObject,
  found: SchemaObject,
  verdict: ReparseVerdict | undefined
): Difference[] {
  if (verdict?.outcome === 'same' && !verdict.lossy) return []
  const texts = { source: wanted.definition, target: found.definition }
  if (verdict?.outcome === 'same') {
    const detail = `${object} is printed otherwise on the source: ${verdict.lossy}, so what the source holds may differ from what its text says; the target holds what the text says`
    return [{ kind: 'definition', object, ...texts, expected: true, detail }]
  }
  const why =
    verdict?.outcome === 'different'
      ? `: the target parses the source's text into ${verdict.reparsed}`
      : verdict?.outcome === 'unchecked'
        ? ` (not checked by parsing the source's text on the target: ${verdict.reason})`
        : ''
  return [{ kind: 'definition', object, ...texts, expected: false, detail: `${object} is defined differently${why}` }]
}

/**
 * A definition without what only one side's version can say: a range's multirange type exists
 * from 14 on (the restore makes one), so it is compared only when both sides have one.
 */
function comparable(object: SchemaObject, sides: Sides): string {
  if (object.kind === 'type' && Math.min(sides.sourceMajor, sides.targetMajor) < 14) {
    return object.definition.replace(/ multirange .+$/, '')
  }
  return object.definition
}

/**
 * PostgreSQL 17 added MAINTAIN (`m`), which an owner holds by default and GRANT ALL gives: the same
 * grant on 14 and on 17 differs by it. Compared exactly when both sides know MAINTAIN.
 */
function comparableAcl(acl: string | null, sides: Sides): string | null {
  if (acl === null || sides.sourceMajor >= 17 === sides.targetMajor >= 17) return sortAcl(acl)
  return sortAcl(acl.replace(/=([a-zA-Z*]*)\//g, (_, privileges: string) => `=${privileges.replace(/m\*?/, '')}/`))
}

/** grantee=privileges/grantor; either name may be double-quoted, and then hold = or /. */
const ACL_ITEM_PARTS = /^((?:"(?:[^"]|"")*"|[^="])*)=([^/]*)\/(.*)$/

function renameRole(acl: string | null, from: string | null, to: string | null): string | null {
  if (acl === null || !from || !to) return acl
  const renamed = aclItems(acl).map((item) => {
    const parts = ACL_ITEM_PARTS.exec(item)
    if (!parts) return item
    const [, grantee, privileges, grantor] = parts
    return `${roleIn(grantee) === from ? to : grantee}=${privileges}/${roleIn(grantor) === from ? to : grantor}`
  })
  return `{${renamed.join(',')}}`
}

/** The ACL less what it grants to `role`. */
function withoutGrantee(acl: string | null, role: string | undefined): string | null {
  if (acl === null || !role) return acl
  const kept = aclItems(acl).filter((item) => {
    const grantee = ACL_ITEM_PARTS.exec(item)?.[1]
    return grantee === undefined || roleIn(grantee) !== role
  })
  return `{${kept.join(',')}}`
}

/** A role name as aclitem text spells it: double-quoted when it holds more than letters and digits. */
function roleIn(text: string): string {
  return text.startsWith('"') ? text.slice(1, -1).replaceAll('""', '"') : text
}

/**
 * The order of a table's columns, apart from their definitions. pg_dump cannot keep it for an
 * inheritance child: it creates the child with INHERITS, and the server puts the parents' columns
 * first (in the parents' order), then the child's own — so a column added to the parent after the
 * child existed moves. That order is expected; any other is not.
 */
function compareColumnOrder(
  object: string,
  wanted: SchemaObject,
  found: SchemaObject,
  targets: Map<string, SchemaObject>
): Difference[] {
  if (!wanted.columns || !found.columns) return []
  const common = new Set(wanted.columns.filter((column) => found.columns?.includes(column)))
  const sourceOrder = wanted.columns.filter((column) => common.has(column))
  const targetOrder = found.columns.filter((column) => common.has(column))
  if (sourceOrder.join('\0') === targetOrder.join('\0')) return []
  const restored = inheritedOrder(wanted, targets)
  const expected = restored !== undefined && restored.join('\0') === found.columns.join('\0')
  const show = (columns: string[]): string => columns.map(showName).join(', ')
  return [
    {
      kind: 'column-order',
      object,
      source: show(wanted.columns),
      target: show(found.columns),
      expected,
      detail: expected
        ? `${object} has its columns in another order: pg_dump recreates an inheritance child with its parents' columns first; positional INSERT … VALUES and SELECT * see the new order`
        : `${object} has its columns in another order`
    }
  ]
}

/** The order a restore gives an inheritance child: the parents' columns as on the target, then its own. */
function inheritedOrder(child: SchemaObject, targets: Map<string, SchemaObject>): string[] | undefined {
  if (!child.parents?.length || !child.columns) return undefined
  const order: string[] = []
  for (const parent of child.parents) {
    const columns = targets.get(`table ${parent}`)?.columns
    if (!columns) return undefined
    for (const column of columns) if (!order.includes(column)) order.push(column)
  }
  return [...order, ...child.columns.filter((column) => !order.includes(column))]
}
