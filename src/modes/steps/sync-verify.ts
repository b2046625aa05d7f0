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
import { compareChangedRows, type KeyedResult } from '../../verify/changed-rows.js'
import type { Difference } from '../../verify/differences.js'
import { displayName, type Connect, type Fingerprint, type TableFingerprint } from '../../verify/fingerprint/index.js'
import { checksumProgress } from '../../verify/fingerprint/progress.js'
import { closeSession, openSessions, withSession } from '../../verify/fingerprint/session.js'
import { fingerprintTables } from '../../verify/fingerprint/tables.js'
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
 * At cutover (the source idle, the apply done): the rows the stream touched compared by key; the
 * target's statistics read for writes no change accounts for; the entries verify takes as read for
 * every table not read whole.
 */
export async function verifyAtCutover(
  connect: { source: Connect; target: Connect },
  bulk: { source: TableFingerprint[]; target: TableFingerprint[] },
  touched: TouchedTable[]
): Promise<VerifiedAtCutover> {
  const started = performance.now()
  const byName = new Map(touched.map((table) => [displayName(table.schema, table.name), table]))
  const keyed = touched.filter((table) => !table.whole && table.keys.size > 0)
  const results = await compareChangedRows(
    connect.source,
    connect.target,
    keyed.map((table) => ({
      schema: table.schema,
      name: table.name,
      keyColumns: table.keyColumns,
      keys: [...table.keys.keys()].map((key) => JSON.parse(key) as string[])
    }))
  )
  const behind = await withSession(connect.target, {}, (client) =>
    findUnaccountedWrites(client, accountedWrites(bulk.target, byName))
  )
  const { sourceKnown, targetKnown } = knownEntries(bulk, byName, results)
  return {
    sourceKnown,
    targetKnown,
    ...changedDifferences(results, behind),
    record: {
      untouched: bulk.source.length - touched.length,
      byKey: results.map((result) => ({ table: displayName(result.schema, result.name), keys: result.keys })),
      whole: touched
        .filter((table) => table.whole)
        .map((table) => ({ table: displayName(table.schema, table.name), why: table.whole as WholeReason })),
      keys: results.reduce((sum, result) => sum + result.keys, 0),
      seconds: Math.round(performance.now() - started) / 1000
    }
  }
}

/** Per table not read whole: the rows the restore loaded and the changes the stream applied there. */
function accountedWrites(bulkTarget: TableFingerprint[], touched: Map<string, TouchedTable>): AccountedWrites[] {
  return bulkTarget.flatMap((table) => {
    const change = touched.get(displayName(table.schema, table.name))
    if (change?.whole) return []
    const changes = change?.changes ?? { inserts: 0, updates: 0, deletes: 0 }
    return [{ schema: table.schema, name: table.name, loaded: table.rows, ...changes }]
  })
}

/**
 * The bulk entries of every table not read whole, on both sides, their row counts carried forward
 * by the keys: a row that exists now and did not at the snapshot adds one, and the reverse.
 */
function knownEntries(
  bulk: { source: TableFingerprint[]; target: TableFingerprint[] },
  touched: Map<string, TouchedTable>,
  results: KeyedResult[]
): Pick<VerifiedAtCutover, 'sourceKnown' | 'targetKnown'> {
  const found = new Map(results.map((result) => [displayName(result.schema, result.name), result]))
  const bulkTarget = new Map(bulk.target.map((table) => [displayName(table.schema, table.name), table]))
  const sourceKnown: TableFingerprint[] = []
  const targetKnown: TableFingerprint[] = []
  for (const table of bulk.source) {
    const name = displayName(table.schema, table.name)
    const atTarget = bulkTarget.get(name)
    const change = touched.get(name)
    if (!atTarget || change?.whole) continue
    const result = found.get(name)
    const existed = change ? [...change.keys.values()].filter(Boolean).length : 0
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
