// What the change stream touched, for the verify at cutover: per table, the keys of the rows the
// apply wrote (inserted, updated or deleted), each with whether the row existed at the slot's
// snapshot; or the whole table, when its rows cannot be named by a key (REPLICA IDENTITY FULL), a
// TRUNCATE emptied it, or it touched more keys than the run keeps in memory.
import type { Pgoutput } from 'pg-logical-replication'
import type { Log } from '../base/log.js'
import { displayName } from '../verify/fingerprint/index.js'
import { parseLsn } from './lsn.js'

/** Why a table is verified whole at cutover rather than by key. */
export type WholeReason = 'no key' | 'truncated' | 'too many keys'

/** One table the stream touched. */
export interface TouchedTable {
  schema: string
  name: string
  /** The replica identity's columns, in key order: how the keys below are spelled. */
  keyColumns: string[]
  /**
   * Key values (the source's text, JSON-encoded as an array) → whether that row existed at the
   * slot's snapshot (the first change of a key tells, since keys are unique), and the decoded
   * transaction that touched it last (its ordinal: see `TouchedRows.markAt`). Empty once `whole`.
   */
  keys: Map<string, TouchedKey>
  whole?: WholeReason
  /** The decoded transaction that touched the table last (its ordinal). */
  lastTransaction: number
  /** Changes decoded for it: the most rows the apply can have inserted, updated and deleted there. */
  changes: { inserts: number; updates: number; deletes: number }
}

/** One key the stream touched. */
export interface TouchedKey {
  existed: boolean
  transaction: number
}

/** A decoded transaction: its ordinal (1, 2, … in commit order), top-level xid and end of its commit record. */
interface DecodedCommit {
  ordinal: number
  xid: number
  endLsn: bigint
}

/** Keys kept in memory at most, over every table; past it, the table with the most goes whole. */
export const MAX_TOUCHED_KEYS = 200_000

type Change = Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete | Pgoutput.MessageTruncate

export class TouchedRows {
  private readonly tables = new Map<string, TouchedTable>()
  /** The decoder keeps one relation object per table: found by it, a row costs no name to build. */
  private readonly byRelation = new WeakMap<Pgoutput.MessageRelation, TouchedTable>()
  private keyCount = 0
  /** The transaction being decoded: its ordinal and xid. */
  private current = { ordinal: 0, xid: 0 }
  /**
   * Decoded commits not yet known visible to every later snapshot of the source (`forgetBefore`),
   * in commit order; `forgotten` is the ordinal of the last one dropped from the front.
   */
  private commits: DecodedCommit[] = []
  private forgotten = 0

  constructor(
    private readonly log: Log,
    private readonly maxKeys = MAX_TOUCHED_KEYS
  ) {}

  /** Every table touched so far. */
  get touched(): TouchedTable[] {
    return [...this.tables.values()]
  }

  /** Takes one decoded message; all but changes are let through. */
  note(message: Pgoutput.Message): void {
    if (message.tag === 'begin') this.current = { ordinal: this.current.ordinal + 1, xid: message.xid }
    else if (message.tag === 'commit' && message.commitEndLsn)
      this.commits.push({ ...this.current, endLsn: parseLsn(message.commitEndLsn) })
    else if (
      message.tag === 'insert' ||
      message.tag === 'update' ||
      message.tag === 'delete' ||
      message.tag === 'truncate'
    )
      this.change(message)
  }

  private change(message: Change): void {
    if (message.tag === 'truncate') {
      for (const relation of message.relations) this.makeWhole(this.table(relation), 'truncated')
      return
    }
    const { relation } = message
    const table = this.table(relation)
    // Counted whole or not: the target's statistics are checked against them (written-behind.ts).
    table.changes[`${message.tag}s`]++
    if (table.whole) return
    if (relation.replicaIdentity === 'full' || relation.keyColumns.length === 0) return this.makeWhole(table, 'no key')
    if (message.tag === 'insert') return this.key(table, message.new as Row, false)
    if (message.tag === 'delete') return this.key(table, (message.key ?? message.old) as Row, true)
    // An update names its old key only when the key changed: the new key is then a row it made.
    const old = (message.key ?? message.old) as Row | null
    if (old) this.key(table, old, true)
    this.key(table, message.new as Row, !old)
  }

  private key(table: TouchedTable, row: Row, existed: boolean): void {
    const key = JSON.stringify(table.keyColumns.map((column) => row[column] ?? null))
    const known = table.keys.get(key)
    if (known) {
      known.transaction = this.current.ordinal
      return
    }
    table.keys.set(key, { existed, transaction: this.current.ordinal })
    if (++this.keyCount > this.maxKeys) this.shed()
  }

  /** Over the bound: the table holding the most keys is verified whole instead. */
  private shed(): void {
    const largest = this.touched.reduce((a, b) => (b.keys.size > a.keys.size ? b : a))
    this.makeWhole(largest, 'too many keys')
  }

  private makeWhole(table: TouchedTable, why: WholeReason): void {
    if (table.whole) return
    if (why === 'too many keys')
      this.log.info(
        `sync: more than ${this.maxKeys} rows changed in all: ${displayName(table.schema, table.name)} (${table.keys.size} of them) is verified whole at cutover`
      )
    this.keyCount -= table.keys.size
    table.keys = new Map()
    table.whole = why
  }

  private table(relation: Pgoutput.MessageRelation): TouchedTable {
    let table = this.byRelation.get(relation)
    if (!table) {
      const id = JSON.stringify([relation.schema, relation.name])
      table = this.tables.get(id) ?? this.newTable(id, relation)
      this.byRelation.set(relation, table)
    }
    table.lastTransaction = this.current.ordinal
    return table
  }

  private newTable(id: string, relation: Pgoutput.MessageRelation): TouchedTable {
    const table: TouchedTable = {
      schema: relation.schema,
      name: relation.name,
      keyColumns: relation.keyColumns,
      keys: new Map(),
      lastTransaction: 0,
      changes: { inserts: 0, updates: 0, deletes: 0 }
    }
    this.tables.set(id, table)
    return table
  }

  /**
   * The last transaction the target has committed once it has applied up to `applied` (an end of a
   * commit record, as the apply reports it): every transaction up to the mark is on the target (a
   * snapshot of the target taken after may hold later ones too).
   */
  markAt(applied: bigint): number {
    // From the newest: the target is rarely far behind what was decoded.
    for (let i = this.commits.length - 1; i >= 0; i--)
      if (this.commits[i].endLsn <= applied) return this.commits[i].ordinal
    return this.forgotten
  }

  /** Decoded commits still kept for `seesAllUpTo`. */
  get kept(): number {
    return this.commits.length
  }

  /**
   * Whether a snapshot of the source sees every transaction up to `mark` committed: none is still
   * in progress in it (a commit record is flushed, and can be decoded, a moment before the
   * transaction becomes visible). `snapshot` as txid_current_snapshot() prints it.
   */
  seesAllUpTo(mark: number, snapshot: string): boolean {
    const seen = sourceSnapshot(snapshot)
    return this.commits.every((commit) => commit.ordinal > mark || seen.committed(commit.xid))
  }

  /** Transactions up to `mark` that precede the snapshot's xmin are visible to every later snapshot. */
  forgetBefore(mark: number, snapshot: string): void {
    const seen = sourceSnapshot(snapshot)
    while (this.commits.length > 0 && this.commits[0].ordinal <= mark && seen.beforeXmin(this.commits[0].xid))
      this.forgotten = this.commits.shift()?.ordinal ?? this.forgotten
  }
}

/**
 * A snapshot as txid_current_snapshot() prints it (`xmin:xmax:xip,…`, xids with their epoch), asked
 * about the 32-bit xids pgoutput sends, compared as the server compares them (modulo 2^32).
 */
function sourceSnapshot(text: string): { committed(xid: number): boolean; beforeXmin(xid: number): boolean } {
  const [xmin, xmax, list] = text.split(':')
  const low = (value: string): number => Number(BigInt(value) & 0xffffffffn)
  const precedes = (a: number, b: number): boolean => ((a - b) | 0) < 0
  const running = new Set((list ?? '').split(',').filter(Boolean).map(low))
  return {
    committed: (xid) => precedes(xid, low(xmax)) && !running.has(xid),
    beforeXmin: (xid) => precedes(xid, low(xmin))
  }
}

type Row = Record<string, string | null | undefined>
