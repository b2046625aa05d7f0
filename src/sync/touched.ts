// What the change stream touched, for the verify at cutover: per table, the keys of the rows the
// apply wrote (inserted, updated or deleted), each with whether the row existed at the slot's
// snapshot; or the whole table, when its rows cannot be named by a key (REPLICA IDENTITY FULL), a
// TRUNCATE emptied it, or it touched more keys than the run keeps in memory.
import type { Pgoutput } from 'pg-logical-replication'
import type { Log } from '../base/log.js'
import { displayName } from '../verify/fingerprint/index.js'

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
   * slot's snapshot: the first change of a key tells, since keys are unique. Empty once `whole`.
   */
  keys: Map<string, boolean>
  whole?: WholeReason
  /** Changes decoded for it: the most rows the apply can have inserted, updated and deleted there. */
  changes: { inserts: number; updates: number; deletes: number }
}

/** Keys kept in memory at most, over every table; past it, the table with the most goes whole. */
export const MAX_TOUCHED_KEYS = 200_000

type Change = Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete | Pgoutput.MessageTruncate

export class TouchedRows {
  private readonly tables = new Map<string, TouchedTable>()
  private keyCount = 0

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
    if (message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete' || message.tag === 'truncate')
      this.change(message)
  }

  private change(message: Change): void {
    if (message.tag === 'truncate') {
      for (const relation of message.relations) this.makeWhole(this.table(relation), 'truncated')
      return
    }
    const { relation } = message
    const table = this.table(relation)
    if (table.whole) return
    if (relation.replicaIdentity === 'full' || relation.keyColumns.length === 0) return this.makeWhole(table, 'no key')
    table.changes[`${message.tag}s`]++
    if (message.tag === 'insert') return this.key(table, message.new as Row, false)
    if (message.tag === 'delete') return this.key(table, (message.key ?? message.old) as Row, true)
    // An update names its old key only when the key changed: the new key is then a row it made.
    const old = (message.key ?? message.old) as Row | null
    if (old) this.key(table, old, true)
    this.key(table, message.new as Row, !old)
  }

  private key(table: TouchedTable, row: Row, existed: boolean): void {
    const key = JSON.stringify(table.keyColumns.map((column) => row[column] ?? null))
    if (table.keys.has(key)) return
    table.keys.set(key, existed)
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
    const id = JSON.stringify([relation.schema, relation.name])
    let table = this.tables.get(id)
    if (!table) {
      table = {
        schema: relation.schema,
        name: relation.name,
        keyColumns: relation.keyColumns,
        keys: new Map(),
        changes: { inserts: 0, updates: 0, deletes: 0 }
      }
      this.tables.set(id, table)
    }
    return table
  }
}

type Row = Record<string, string | null | undefined>
