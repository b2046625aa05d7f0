import { compareInventory } from './compare-inventory.js'
import { reparseDefinitions } from './reparse.js'
import {
  type Connect,
  displayName,
  type Fingerprint,
  type LargeObjectsFingerprint,
  type QueryFingerprint,
  type SequenceFingerprint,
  type TableFingerprint
} from './fingerprint/index.js'
import { compareDatabaseSettings } from './fingerprint/settings-fingerprint.js'

import { DIFFERENCE_KINDS, type CompareOptions, type Comparison, type Difference } from './differences.js'
import { count, thousands } from '../base/text.js'

export * from './differences.js'

/**
 * Compares, after having the target parse again the source's text of every object the two sides
 * print differently (reparse.ts): then only what a faithful restore cannot hold is a difference.
 */
export async function compareOnTarget(
  connectTarget: Connect,
  source: Fingerprint,
  target: Fingerprint,
  options: CompareOptions
): Promise<Comparison> {
  const reparsed = await reparseDefinitions(connectTarget, source, target)
  return compareFingerprints(source, target, { ...options, reparsed })
}

export function compareFingerprints(source: Fingerprint, target: Fingerprint, options: CompareOptions): Comparison {
  const differences = [
    ...compareInventory(source, target, options),
    ...compareTables(source.tables, target.tables),
    ...compareSequences(
      source.sequences,
      target.sequences,
      options.restoredFromSnapshot === true && source.snapshot !== undefined
    ),
    ...compareLargeObjects(source.largeObjects, target.largeObjects, options.privileges),
    ...compareQueries(source.queries, target.queries),
    ...compareDatabaseSettings(source.databaseSettings, target.databaseSettings)
  ].sort(byReportOrder)
  return { passed: differences.every((difference) => difference.expected), differences }
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
      // Checksums of another method (fingerprints from before rows were hashed by column name) say nothing.
      const detail =
        wanted.hash === found.hash
          ? `the same ${wanted.rows} rows on both sides, but some hold other values${why}`
          : `the same ${wanted.rows} rows on both sides; their checksums were computed differently (${wanted.hash ?? 'text'} and ${found.hash ?? 'text'}) and cannot be compared`
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

function compareLargeObjects(
  source: LargeObjectsFingerprint,
  target: LargeObjectsFingerprint,
  privileges: CompareOptions['privileges']
): Difference[] {
  const object = 'large objects'
  if (source.count !== target.count) {
    return [
      {
        kind: 'large-objects',
        object,
        source: source.count,
        target: target.count,
        expected: false,
        detail: `${count(source.count, 'large object')} on the source, ${thousands(target.count)} on the target`
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
        detail: `the same ${count(source.count, 'large object')} on both sides, but some hold other content`
      }
    ]
  }
  if (source.privileges !== undefined && target.privileges !== undefined && source.privileges !== target.privileges) {
    const notKept = privileges === 'skip'
    const why = notKept ? ' (owners and grants are not restored with privileges: skip)' : ''
    const detail = `the same ${source.count} large objects on both sides, but some have other owners or grants${why}`
    return [
      {
        kind: 'privileges',
        object,
        source: source.privileges,
        target: target.privileges,
        expected: notKept,
        detail
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
