import {
  displayName,
  type Fingerprint,
  type LargeObjectsFingerprint,
  type QueryFingerprint,
  type SchemaObject,
  type SequenceFingerprint,
  type TableFingerprint
} from './fingerprint/index.js'
import { compareDatabaseSettings } from './fingerprint/database-settings.js'

/** In report order: what is lost first, what is only different in who may use it last. */
export const DIFFERENCE_KINDS = [
  'missing',
  'extra',
  'definition',
  'rows',
  'checksum',
  'sequence',
  'large-objects',
  'query',
  'owner',
  'privileges'
] as const

export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number]

export type Value = string | number | boolean | null

export interface Difference {
  kind: DifferenceKind
  /**
   * What differs: a schema object as `<kind> <name>` (`index app.orders_pkey`), a table's data or a
   * sequence as its name (`app.orders`), `large objects`, or a validation query's SQL.
   */
  object: string
  source?: Value
  target?: Value
  /** True when the options explain the difference (owners and ACLs not kept…); it does not fail the run. */
  expected: boolean
  /** One sentence for people. */
  detail: string
  /** For `rows` and `checksum`: the table, to locate its differing rows. */
  table?: { schema: string; name: string }
}

export interface Comparison {
  /** No unexpected differences. */
  passed: boolean
  /** Unexpected first; then by kind in DIFFERENCE_KINDS order, then by object. */
  differences: Difference[]
}

export interface CompareOptions {
  /** `skip`: owners and ACLs were not restored (--no-owner --no-acl), so their differences are expected. */
  privileges: 'skip' | 'keep'
  /**
   * True when the target was restored from a dump of the source's snapshot: pg_dump reads sequences
   * outside it, so a target sequence ahead of the snapshot is expected. Two live databases compared
   * by validate must agree exactly.
   */
  restoredFromSnapshot?: boolean
}

export function compareFingerprints(source: Fingerprint, target: Fingerprint, options: CompareOptions): Comparison {
  const differences = [
    ...compareInventory(source.inventory, target.inventory, options),
    ...compareTables(source.tables, target.tables),
    ...compareSequences(
      source.sequences,
      target.sequences,
      options.restoredFromSnapshot === true && source.snapshot !== undefined
    ),
    ...compareLargeObjects(source.largeObjects, target.largeObjects),
    ...compareQueries(source.queries, target.queries),
    ...compareDatabaseSettings(source.databaseSettings, target.databaseSettings)
  ].sort(byReportOrder)
  return { passed: differences.every((difference) => difference.expected), differences }
}

function compareInventory(source: SchemaObject[], target: SchemaObject[], options: CompareOptions): Difference[] {
  const key = (object: SchemaObject): string => `${object.kind} ${object.name}`
  const targets = new Map(target.map((object) => [key(object), object]))
  const sources = new Map(source.map((object) => [key(object), object]))
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
    differences.push(...compareObject(object, wanted, found, options))
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

function compareObject(
  object: string,
  wanted: SchemaObject,
  found: SchemaObject,
  options: CompareOptions
): Difference[] {
  const differences: Difference[] = []
  const notKept = options.privileges === 'skip'
  if (wanted.definition !== found.definition) {
    differences.push({
      kind: 'definition',
      object,
      source: wanted.definition,
      target: found.definition,
      expected: false,
      detail: `${object} is defined differently`
    })
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
  // PostgreSQL 15 gave schema public to pg_database_owner; the dump cannot carry the old owner.
  const publicSchema = object === 'schema public' && found.owner === 'pg_database_owner'
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
  const wantedAcl = publicSchema ? renameGrantee(wanted.acl, wanted.owner, found.owner) : wanted.acl
  if (withoutMaintain(wantedAcl) !== withoutMaintain(found.acl)) {
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
 * PostgreSQL 17 added MAINTAIN (`m`), which an owner holds by default: an owner's full privileges on
 * 14 and on 17 are the same grant.
 */
function withoutMaintain(acl: string | null): string | null {
  return acl === null
    ? null
    : acl.replace(/=([a-zA-Z*]+)\//g, (_, privileges: string) => `=${privileges.replace('m', '')}/`)
}

function renameGrantee(acl: string | null, from: string | null, to: string | null): string | null {
  if (acl === null || !from || !to) return acl
  return acl
    .replace(new RegExp(`(^|[{,])${from.replace(/\W/g, '\\$&')}=`, 'g'), `$1${to}=`)
    .replaceAll(`/${from}`, `/${to}`)
}

/** Only tables on both sides: a missing or extra table is reported once, by the inventory. */
function compareTables(source: TableFingerprint[], target: TableFingerprint[]): Difference[] {
  const targets = new Map(target.map((table) => [displayName(table.schema, table.name), table]))
  const movedWithin = treesHoldingTheSameRows(source, target)
  const differences: Difference[] = []
  for (const wanted of source) {
    const object = displayName(wanted.schema, wanted.name)
    const found = targets.get(object)
    if (!found) continue
    const table = { schema: wanted.schema, name: wanted.name }
    const root = wanted.partitionRoot && displayName(wanted.partitionRoot.schema, wanted.partitionRoot.name)
    const expected = root !== undefined && movedWithin.has(root)
    const why = expected
      ? `; the rows moved between partitions of ${root}, which holds the same rows on both sides`
      : ''
    if (wanted.rows !== found.rows) {
      const change = found.rows - wanted.rows
      const detail = `${wanted.rows} rows on the source, ${found.rows} on the target (${change > 0 ? '+' : ''}${change})${why}`
      differences.push({ kind: 'rows', object, source: wanted.rows, target: found.rows, expected, detail, table })
    } else if (wanted.checksum !== null && found.checksum !== null && wanted.checksum !== found.checksum) {
      const detail = `the same ${wanted.rows} rows on both sides, but some hold other values${why}`
      differences.push({
        kind: 'checksum',
        object,
        source: wanted.checksum,
        target: found.checksum,
        expected,
        detail,
        table
      })
    }
  }
  return differences
}

/**
 * Partition trees whose leaves together hold the same rows on both sides. A restore may place rows
 * in other partitions without losing any: hash partitioning on an enum hashes its OID, which
 * differs on the target (pg_dump loads such tables through the root for that reason; measured).
 * Counts and checksums are sums, so a tree's totals are its leaves' sums.
 */
function treesHoldingTheSameRows(source: TableFingerprint[], target: TableFingerprint[]): Set<string> {
  const totals = (tables: TableFingerprint[]): Map<string, { rows: number; checksum: bigint | null }> => {
    const sums = new Map<string, { rows: number; checksum: bigint | null }>()
    for (const table of tables) {
      if (!table.partitionRoot) continue
      const root = displayName(table.partitionRoot.schema, table.partitionRoot.name)
      const sum = sums.get(root) ?? { rows: 0, checksum: 0n }
      sum.rows += table.rows
      sum.checksum = sum.checksum === null || table.checksum === null ? null : sum.checksum + BigInt(table.checksum)
      sums.set(root, sum)
    }
    return sums
  }
  const atTarget = totals(target)
  const same = new Set<string>()
  for (const [root, total] of totals(source)) {
    const other = atTarget.get(root)
    // Without checksums (level counts) the counts are all the evidence, as for any other table.
    const checksumsAgree = total.checksum === null || other?.checksum === null || total.checksum === other?.checksum
    if (other && other.rows === total.rows && checksumsAgree) same.add(root)
  }
  return same
}

/**
 * Sequences are not transactional: pg_dump reads them when it gets to them, not as of the snapshot,
 * so with writes going on the target may be ahead of a snapshot-taken source. Ahead is harmless;
 * behind would hand out values already used.
 */
function compareSequences(
  source: SequenceFingerprint[],
  target: SequenceFingerprint[],
  sourceInSnapshot: boolean
): Difference[] {
  const targets = new Map(target.map((sequence) => [displayName(sequence.schema, sequence.name), sequence]))
  const differences: Difference[] = []
  for (const wanted of source) {
    const object = displayName(wanted.schema, wanted.name)
    const found = targets.get(object)
    if (!found || (wanted.lastValue === found.lastValue && wanted.isCalled === found.isCalled)) continue
    const ahead = sourceInSnapshot && isAhead(wanted, found)
    const state = (sequence: SequenceFingerprint): string =>
      `${sequence.lastValue}${sequence.isCalled ? '' : ' (not yet called)'}`
    differences.push({
      kind: 'sequence',
      object,
      source: state(wanted),
      target: state(found),
      expected: ahead,
      detail: ahead
        ? `sequence ${object} moved on while the dump ran: ${state(wanted)} in the snapshot, ${state(found)} on the target`
        : `sequence ${object} is at ${state(found)} on the target, ${state(wanted)} on the source`
    })
  }
  return differences
}

/** Whether the target hands out no value the source already handed out: its next value is not behind. */
function isAhead(source: SequenceFingerprint, target: SequenceFingerprint): boolean {
  const step = BigInt(source.increment)
  const next = (sequence: SequenceFingerprint): bigint => BigInt(sequence.lastValue) + (sequence.isCalled ? step : 0n)
  const moved = next(target) - next(source)
  return step > 0n ? moved >= 0n : moved <= 0n
}

function compareLargeObjects(source: LargeObjectsFingerprint, target: LargeObjectsFingerprint): Difference[] {
  const object = 'large objects'
  if (source.count !== target.count) {
    return [
      {
        kind: 'large-objects',
        object,
        source: source.count,
        target: target.count,
        expected: false,
        detail: `${source.count} large objects on the source, ${target.count} on the target`
      }
    ]
  }
  if (source.checksum !== null && target.checksum !== null && source.checksum !== target.checksum) {
    return [
      {
        kind: 'large-objects',
        object,
        source: source.checksum,
        target: target.checksum,
        expected: false,
        detail: `the same ${source.count} large objects on both sides, but some hold other content`
      }
    ]
  }
  return []
}

/** Paired in order: both sides ran the same list. */
function compareQueries(source: QueryFingerprint[], target: QueryFingerprint[]): Difference[] {
  const differences: Difference[] = []
  source.forEach((wanted, index) => {
    const found = target[index]
    const object = wanted.sql.replace(/\s+/g, ' ').trim()
    const detail =
      found && found.sql === wanted.sql ? queryDifference(wanted, found) : 'the query did not run on the target'
    if (!detail) return
    differences.push({
      kind: 'query',
      object,
      source: summary(wanted),
      target: found ? summary(found) : null,
      expected: false,
      detail
    })
  })
  return differences
}

function queryDifference(source: QueryFingerprint, target: QueryFingerprint): string | undefined {
  if (source.error && target.error) return `the query failed on both sides: ${target.error}`
  if (source.error) return `the query failed on the source: ${source.error}`
  if (target.error) return `the query failed on the target: ${target.error}`
  if (source.columns.join('\0') !== target.columns.join('\0')) {
    return `other columns: (${source.columns.join(', ')}) on the source, (${target.columns.join(', ')}) on the target`
  }
  if (source.rowCount !== target.rowCount)
    return `${source.rowCount} rows on the source, ${target.rowCount} on the target`
  if (source.checksum !== target.checksum) return `the same ${source.rowCount} rows on both sides, but other values`
  return undefined
}

function summary(query: QueryFingerprint): string {
  return query.error ? `error: ${query.error}` : `${query.rowCount} rows, checksum ${query.checksum}`
}

function byReportOrder(a: Difference, b: Difference): number {
  if (a.expected !== b.expected) return a.expected ? 1 : -1
  const kinds = DIFFERENCE_KINDS.indexOf(a.kind) - DIFFERENCE_KINDS.indexOf(b.kind)
  if (kinds !== 0) return kinds
  return a.object < b.object ? -1 : a.object > b.object ? 1 : 0
}
