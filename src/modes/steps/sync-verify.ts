// sync: logical verifies in two parts, so that the downtime window does not grow with the database.
// In bulk, beside the sync: the target as the load left it, read in a snapshot taken before the
// apply's first write, against the source's fingerprint in the slot's snapshot (the copy's). At
// cutover, only what the stream changed since: the rows it touched, by key on both sides, and whole
// the tables it truncated or whose rows have no key. Schema, sequences, large objects and the
// validation queries are read now, as without a sync (verify.ts). docs/zero-downtime.md says why
// nothing can slip between the two.
import type { Log } from '../../base/log.js'
import type { ProgressSample } from '../../base/progress.js'
import type { Connector } from '../../pg/connection.js'
import type { Endpoint } from '../../pg/endpoint.js'
import { holdSnapshot } from '../../pg/snapshot.js'
import { scopeSql } from '../../scope/sql.js'
import type { TouchedTable, WholeReason } from '../../sync/touched.js'
import type { SyncVerifyRecord } from '../../sync/types.js'
import {
  compareChangedRows,
  keyedResult,
  type KeyedResult,
  type KeyedTable,
  type RowPair
} from '../../verify/changed-rows.js'
import type { Difference } from '../../verify/differences.js'
import { displayName, type Connect, type Fingerprint, type TableFingerprint } from '../../verify/fingerprint/index.js'
import { checksumProgress } from '../../verify/fingerprint/progress.js'
import { closeSession, openSessions, withSession } from '../../verify/fingerprint/session.js'
import { fingerprintTables } from '../../verify/fingerprint/tables.js'
import { stands, type EarlyResults } from './sync-early.js'
import { findUnaccountedWrites, type AccountedWrites, type UnaccountedWrites } from '../../verify/written-behind.js'

/** The bulk part under way: the target's tables read in the snapshot taken before the apply's first write. */
export interface BulkVerify {
  readonly done: boolean
  /** The target's tables, and the seconds it took to read them. */
  tables(): Promise<{ tables: TableFingerprint[]; seconds: number }>
}

/**
 * Holds a target snapshot now, before the apply writes anything, and reads every table in it beside
 * the sync, each hashed as the source side was (its fingerprint's methods), with `jobs` sessions.
 */
export async function startBulkVerify(
  means: { connector: Connector; log: Log },
  target: Endpoint,
  source: Fingerprint,
  options: { jobs: number; timeline: ProgressSample[] }
): Promise<BulkVerify> {
  const { connector, log } = means
  const held = await holdSnapshot(connector, target)
  let done = false
  const read = (async () => {
    const started = performance.now()
    try {
      const sessions = await openSessions(() => connector.connect(target), options.jobs, { snapshot: held.id })
      await held.close()
      try {
        const tables = await fingerprintTables(
          sessions,
          source.level,
          checksumProgress(log, 'bulk verify', options.timeline),
          { like: source.tables, scope: scopeSql(source.scope) }
        )
        const seconds = (performance.now() - started) / 1000
        log.info(
          `sync: bulk verify: ${tables.length} target tables read as the load left them, in ${seconds.toFixed(1)} s, beside the sync`
        )
        return { tables, seconds: Math.round(seconds * 100) / 100 }
      } finally {
        await Promise.all(sessions.map(closeSession))
      }
    } finally {
      await held.close()
      done = true
    }
  })()
  read.catch(() => undefined)
  return {
    get done() {
      return done
    },
    tables: () => read
  }
}

/** What the verify at cutover adds to the comparison of the whole fingerprints. */
export interface VerifiedAtCutover {
  /** Tables verify need not read again on the source, and on the target: their bulk entries. */
  sourceKnown: TableFingerprint[]
  targetKnown: TableFingerprint[]
  /** The changed rows that differ, one per table (the row counts' differences compare.ts finds). */
  differences: Difference[]
  /** A few keys of them, per table. */
  differingRows: Record<string, string[]>
  record: NonNullable<SyncVerifyRecord['atCutover']>
}

/**
 * At cutover (the source idle, the apply done): the rows the stream touched compared by key, but
 * for those compared early and not touched since; the target's statistics read for writes no change
 * accounts for (beside); the entries verify takes as read for every table not read whole now.
 */
export async function verifyAtCutover(
  connect: { source: Connect; target: Connect },
  bulk: { source: TableFingerprint[]; target: TableFingerprint[] },
  touched: TouchedTable[],
  early: EarlyResults = { keys: new Map(), whole: new Map() }
): Promise<VerifiedAtCutover> {
  const started = performance.now()
  const byName = new Map(touched.map((table) => [displayName(table.schema, table.name), table]))
  const keyed = touched.filter((table) => !table.whole && table.keys.size > 0)
  const now = keyed.flatMap((table) => keysNow(table, early))
  const wholeEarly = touched.filter((table) => wholeStands(table, early))
  const [pairsNow, behind] = await Promise.all([
    compareChangedRows(connect.source, connect.target, now),
    withSession(connect.target, {}, (client) =>
      findUnaccountedWrites(client, accountedWrites(bulk.target, byName, wholeEarly))
    )
  ])
  const results = keyed.map((table) => mergedResult(table, now, pairsNow, early))
  const { sourceKnown, targetKnown } = knownEntries(bulk, byName, results, wholeEarly, early)
  const readWhole = wholeNow(touched, early)
  return {
    sourceKnown,
    targetKnown,
    ...changedDifferences(results, behind),
    record: {
      untouched: bulk.source.length - touched.length,
      byKey: now.map((table) => ({ table: displayName(table.schema, table.name), keys: table.keys.length })),
      whole: readWhole.map((table) => ({
        table: displayName(table.schema, table.name),
        why: table.whole as WholeReason
      })),
      keys: now.reduce((sum, table) => sum + table.keys.length, 0),
      standing: {
        keys: results.reduce((sum, result) => sum + result.keys, 0) - now.reduce((sum, t) => sum + t.keys.length, 0),
        whole: wholeEarly.map((table) => displayName(table.schema, table.name))
      },
      seconds: Math.round(performance.now() - started) / 1000
    }
  }
}

/** The tables read whole at cutover: those whose early reading does not stand. */
export function wholeNow(
  touched: TouchedTable[],
  early: EarlyResults = { keys: new Map(), whole: new Map() }
): TouchedTable[] {
  return touched.filter((table) => table.whole && !wholeStands(table, early))
}

/** A table's keys whose early comparison does not stand: never compared, or touched since. */
function keysNow(table: TouchedTable, early: EarlyResults): KeyedTable[] {
  const compared = early.keys.get(displayName(table.schema, table.name))
  const keys = [...table.keys]
    .filter(([key, touched]) => !stands(compared?.get(key)?.mark, touched.transaction))
    .map(([key]) => JSON.parse(key) as string[])
  return keys.length === 0 ? [] : [{ schema: table.schema, name: table.name, keyColumns: table.keyColumns, keys }]
}

/** A table read whole early, untouched since: its early entries stand (not a truncated one: sync-early.ts). */
function wholeStands(table: TouchedTable, early: EarlyResults): boolean {
  return (
    table.whole !== undefined &&
    table.whole !== 'truncated' &&
    stands(early.whole.get(displayName(table.schema, table.name))?.mark, table.lastTransaction)
  )
}

/** One table's keys, each as compared now or, where that stands, early. */
function mergedResult(table: TouchedTable, now: KeyedTable[], pairsNow: RowPair[][], early: EarlyResults): KeyedResult {
  const name = displayName(table.schema, table.name)
  const index = now.findIndex((t) => displayName(t.schema, t.name) === name)
  const readNow = new Map<string, RowPair>()
  if (index >= 0) now[index].keys.forEach((key, k) => readNow.set(JSON.stringify(key), pairsNow[index][k]))
  const compared = early.keys.get(name)
  const keys = [...table.keys.keys()]
  const pairs = keys.map((key) => readNow.get(key) ?? compared?.get(key)?.pair ?? {})
  const keyed = { schema: table.schema, name: table.name, keyColumns: table.keyColumns }
  return keyedResult({ ...keyed, keys: keys.map((key) => JSON.parse(key) as string[]) }, pairs)
}

/**
 * Per table not read whole now: the rows the restore loaded and the changes the stream applied
 * there. A table read whole early is one of them: its statistics look for writes since.
 */
function accountedWrites(
  bulkTarget: TableFingerprint[],
  touched: Map<string, TouchedTable>,
  wholeEarly: TouchedTable[]
): AccountedWrites[] {
  return bulkTarget.flatMap((table) => {
    const change = touched.get(displayName(table.schema, table.name))
    if (change?.whole && !wholeEarly.includes(change)) return []
    const changes = change?.changes ?? { inserts: 0, updates: 0, deletes: 0 }
    return [{ schema: table.schema, name: table.name, loaded: table.rows, ...changes }]
  })
}

/**
 * The bulk entries of every table not read whole, on both sides, their row counts carried forward
 * by the keys: a row that exists now and did not at the snapshot adds one, and the reverse. A table
 * read whole early and untouched since: its early entries.
 */
function knownEntries(
  bulk: { source: TableFingerprint[]; target: TableFingerprint[] },
  touched: Map<string, TouchedTable>,
  results: KeyedResult[],
  wholeEarly: TouchedTable[],
  early: EarlyResults
): Pick<VerifiedAtCutover, 'sourceKnown' | 'targetKnown'> {
  const found = new Map(results.map((result) => [displayName(result.schema, result.name), result]))
  const bulkTarget = new Map(bulk.target.map((table) => [displayName(table.schema, table.name), table]))
  const sourceKnown: TableFingerprint[] = []
  const targetKnown: TableFingerprint[] = []
  for (const table of bulk.source) {
    const name = displayName(table.schema, table.name)
    const atTarget = bulkTarget.get(name)
    const change = touched.get(name)
    const readEarly = change && wholeEarly.includes(change) ? early.whole.get(name) : undefined
    if (readEarly) {
      sourceKnown.push(readEarly.source)
      targetKnown.push(readEarly.target)
      continue
    }
    if (!atTarget || change?.whole) continue
    const result = found.get(name)
    const existed = change ? [...change.keys.values()].filter((key) => key.existed).length : 0
    sourceKnown.push({ ...table, rows: table.rows + (result ? result.sourceRows - existed : 0) })
    targetKnown.push({ ...atTarget, rows: atTarget.rows + (result ? result.targetRows - existed : 0) })
  }
  return { sourceKnown, targetKnown }
}

/**
 * A difference per table whose changed rows differ while its row counts agree (those compare.ts
 * reports), and per table the target's statistics show written behind the apply.
 */
function changedDifferences(
  results: KeyedResult[],
  behind: UnaccountedWrites[]
): Pick<VerifiedAtCutover, 'differences' | 'differingRows'> {
  const differences: Difference[] = behind.map((table) => ({
    kind: 'checksum',
    object: displayName(table.schema, table.name),
    expected: false,
    detail: `written on the target behind the sync: its statistics count ${table.inserted} inserted, ${table.updated} updated and ${table.deleted} deleted rows more than the restore and the stream account for`,
    table: { schema: table.schema, name: table.name }
  }))
  const differingRows: Record<string, string[]> = {}
  for (const result of results) {
    if (result.differing.length === 0) continue
    const object = displayName(result.schema, result.name)
    differingRows[object] = result.differing.slice(0, 5)
    if (result.sourceRows !== result.targetRows) continue
    differences.push({
      kind: 'checksum',
      object,
      expected: false,
      detail: `${result.differing.length} of the ${result.keys} rows the sync changed hold other values on the target`,
      table: { schema: result.schema, name: result.name }
    })
  }
  return { differences, differingRows }
}

/** The log's line for the verify at cutover. */
export function logAtCutover(log: Log, found: VerifiedAtCutover): void {
  const { record } = found
  const standing = record.standing
  const early = standing
    ? `, ${standing.keys} rows and ${standing.whole.length} tables whole compared before cutover and not changed since`
    : ''
  log.info(
    `sync: verify at cutover: ${record.keys} changed rows of ${record.byKey.length} tables compared by key, ${record.whole.length} tables read whole${early}, ${record.untouched} tables untouched since the bulk verify (${record.seconds} s)`
  )
}
