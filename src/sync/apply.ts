import type pg from 'pg'
import type { Pgoutput } from 'pg-logical-replication'
import { quoteIdent } from '../pg/sql.js'
import { parseLsn } from './lsn.js'
import {
  deleteOne,
  deleteRows,
  deleteShape,
  executeShape,
  fullMatch,
  insertRows,
  insertShape,
  keyMatch,
  updateOne,
  updateRows,
  updateShape,
  type Row,
  type Shape
} from './statements.js'
import { applyFailure, checkUnchanged, knownTable } from './apply-errors.js'
import { OpenGroups, type Group } from './batching.js'
import { relationColumns } from './relations.js'
import type { SyncedTable } from './tables.js'

/** What the apply has done, for the report. */
export interface ApplyCounts {
  transactions: number
  inserts: number
  updates: number
  deletes: number
  truncates: number
  /** Updates and deletes that found no row: a cascade on the target had already done them. */
  noRow: number
}

/** The transaction just committed on the target, on the source's terms. */
export interface AppliedCommit {
  endLsn: bigint
  /** The source's commit time, ms since the epoch. */
  commitMs: number
  /**
   * Whether it changed a migrated table. Before 15, pgoutput sends every decoded transaction, also
   * one that only wrote the catalogs (an ANALYZE, autovacuum's too) or unpublished tables: such an
   * empty one is no write of the application's, and is not replayed.
   */
  changed: boolean
}

/** A statement of the batch; `rows`: how many rows an update or delete must find. */
interface Pending {
  sql: string
  rows?: number
}

/** What one round trip sends, and the source transactions it commits. */
interface Batch {
  statements: Pending[]
  commits: AppliedCommit[]
  /** The source's WAL positions of its changes, to name a failure. */
  range: { first?: bigint; last?: bigint }
}

/** No columns: one list for every insert's keys and every delete's columns, so a group's shape is worked out once. */
const NONE: string[] = []

/** Batches on their way to the target at once. */
const IN_FLIGHT = 2

/** The batch's size in characters before it is sent, mid-transaction or not. */
const BATCH_CHARS = 1 << 20
/** Shapes prepared per session at most; later ones go as plain statements. */
const MAX_PREPARED = 1000

/**
 * Replays pgoutput's changes on the target in the source's commit order, with many changes per
 * round trip. The source transactions that have arrived when a batch is sent (every one that
 * commits in it) become one target transaction, which commits them whole: the target is only ever
 * seen at a source commit, and `committed` hears of them once that COMMIT has returned (see
 * docs/zero-downtime.md). Within it, changes of one table and one kind become one multi-row
 * statement; those of a table that nothing on the target links to others (OpenGroups) gather
 * across the batch's transactions. A large transaction goes in batches of bounded size, so it is
 * never held whole. Nothing is confirmed to the source before the batch that commits it has returned.
 */
export class Applier {
  readonly counts: ApplyCounts = { transactions: 0, inserts: 0, updates: 0, deletes: 0, truncates: 0, noRow: 0 }
  private readonly known: Map<string, SyncedTable>
  /** A BEGIN has arrived, and its COMMIT not yet. */
  private begun = false
  /** The target's transaction is open: from the first change on, so an empty one is not replayed. */
  private open = false
  /** The source transaction under way has changed a migrated table. */
  private changed = false
  private readonly groups: OpenGroups
  private statements: Pending[] = []
  private commits: AppliedCommit[] = []
  private chars = 0
  private readonly lsns: { first?: bigint; last?: bigint } = {}
  private readonly prepared = new Map<string, string>()
  private sending: Promise<void> = Promise.resolve()
  private inFlight = 0
  private failure?: unknown
  private rejectFailed: (error: unknown) => void = () => undefined
  /** Rejects when a batch fails, whether or not anything waits for one. */
  readonly failed: Promise<never>

  constructor(
    private readonly target: pg.Client,
    tables: SyncedTable[],
    /** The tables whose changes may join those of other transactions (independentTables). */
    independent: Set<number>,
    /** The source transactions a batch committed, in order, once it has returned. */
    private readonly committed: (commits: AppliedCommit[]) => void
  ) {
    this.failed = new Promise<never>((_resolve, reject) => (this.rejectFailed = reject))
    this.failed.catch(() => undefined)
    this.known = new Map(tables.map((table) => [`${table.schema}.${table.table}`, table]))
    this.groups = new OpenGroups(independent, (group) => this.closeGroup(group))
  }

  get inTransaction(): boolean {
    return this.begun
  }

  /** The batch is big enough to send now. */
  get full(): boolean {
    return this.chars >= BATCH_CHARS
  }

  /** Takes one message into the batch; `size`: its bytes, which count towards a full batch. */
  add(message: Pgoutput.Message, lsn: bigint, size = 0): void {
    switch (message.tag) {
      case 'begin':
        this.begun = true
        return
      case 'commit':
        return this.commit(message)
      case 'relation':
        checkUnchanged(knownTable(this.known, message), message)
        return
      case 'insert':
      case 'update':
      case 'delete':
      case 'truncate':
        this.lsns.first ??= lsn
        this.lsns.last = lsn
        this.chars += size
        if (!this.open) this.push({ sql: 'BEGIN' })
        this.open = this.changed = true
        return this.change(message)
    }
  }

  /**
   * Sends the batch behind those still running, so the next one is built while the target works;
   * waits only while two are already on their way. Batches run one after the other on the one
   * connection, and none is sent once one has failed: nothing runs after a failed transaction.
   */
  async send(): Promise<void> {
    if (this.failure) throw this.failure
    const batch = this.take()
    if (!batch) return
    if (this.inFlight >= IN_FLIGHT) await this.sending
    const next = this.sending.then(() => this.run(batch))
    this.sending = next
    this.inFlight++
    next.then(
      () => this.inFlight--,
      (error: unknown) => {
        this.inFlight--
        this.failure ??= error
        this.rejectFailed(error)
      }
    )
  }

  /** Sends the batch and waits until every batch is on the target. */
  async flush(): Promise<void> {
    await this.send()
    await this.sending
  }

  /** Nothing waits to be sent or to return. */
  get idle(): boolean {
    return this.inFlight === 0 && this.statements.length === 0 && this.groups.empty && this.commits.length === 0
  }

  /**
   * The batch so far. Unless a source transaction has changes in it and is not yet committed, it
   * ends with the target's COMMIT, and carries the source commits it makes; otherwise the target's
   * transaction stays open, and the commits wait for the batch that ends it.
   */
  private take(): Batch | undefined {
    this.groups.closeAll()
    if (this.open && !this.changed) {
      this.statements.push({ sql: 'COMMIT' })
      this.open = false
    }
    const commits = this.open ? [] : this.commits
    const batch = { statements: this.statements, commits, range: { ...this.lsns } }
    this.statements = []
    if (!this.open) this.commits = []
    this.chars = 0
    this.lsns.first = this.lsns.last = undefined
    return batch.statements.length > 0 || batch.commits.length > 0 ? batch : undefined
  }

  private async run({ statements, commits, range }: Batch): Promise<void> {
    if (statements.length > 0) {
      const results = await this.target
        .query(statements.map((statement) => statement.sql).join(';\n'))
        .catch((error: unknown) => {
          throw applyFailure(error, range)
        })
      const list = (Array.isArray(results) ? results : [results]) as pg.QueryResult[]
      statements.forEach((statement, i) => {
        if (statement.rows !== undefined) this.counts.noRow += Math.max(0, statement.rows - (list[i]?.rowCount ?? 0))
      })
    }
    // Counted once committed: a group left open when the sync ends is rolled back whole.
    this.counts.transactions += commits.filter((commit) => commit.changed).length
    this.committed(commits)
  }

  private commit(message: Pgoutput.MessageCommit): void {
    const changed = this.changed
    this.changed = this.begun = false
    this.commits.push({
      endLsn: message.commitEndLsn ? parseLsn(message.commitEndLsn) : 0n,
      commitMs: Number(BigInt(message.commitTime as bigint) / 1000n),
      changed
    })
  }

  private change(
    message: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete | Pgoutput.MessageTruncate
  ): void {
    if (message.tag === 'truncate') {
      const tables = message.relations.map((relation) => `${quoteIdent(relation.schema)}.${quoteIdent(relation.name)}`)
      this.push({ sql: `TRUNCATE ONLY ${tables.join(', ')}${message.restartIdentity ? ' RESTART IDENTITY' : ''}` })
      this.counts.truncates++
      return
    }
    const relation = message.relation
    const table = this.table(relation)
    if (message.tag === 'insert') {
      this.counts.inserts++
      return this.grouped(table, 'insert', NONE, relationColumns(table, relation).names, message.new)
    }
    if (message.tag === 'delete') {
      this.counts.deletes++
      const old = (message.key ?? message.old) as Row
      if (relation.replicaIdentity === 'full')
        return this.push({ sql: deleteOne(table, this.fullMatch(table, relation, old)), rows: 1 }, table)
      return this.grouped(table, 'delete', relation.keyColumns, NONE, old)
    }
    this.update(table, message)
  }

  private update(table: SyncedTable, message: Pgoutput.MessageUpdate): void {
    const { relation, new: row } = message
    const old = (message.key ?? message.old) as Row | null
    this.counts.updates++
    // Unchanged TOASTed values are not sent and keep theirs on the target too.
    const settable = old ? relationColumns(table, relation).settable : relationColumns(table, relation).settableKeyKept
    const set = settable.some((column) => row[column] === undefined)
      ? settable.filter((column) => row[column] !== undefined)
      : settable
    if (set.length === 0) return
    // Rows of one statement are updated in no set order: only when no other unique index could
    // tell the orders apart, and only rows found by an unchanged key.
    if (!old && !table.otherUnique && relation.replicaIdentity !== 'full')
      return this.grouped(table, 'update', relation.keyColumns, set, row)
    if (relation.replicaIdentity === 'full')
      return this.push({ sql: updateOne(table, set, row, this.fullMatch(table, relation, old ?? row)), rows: 1 }, table)
    const keys = relation.keyColumns
    this.groups.before(table)
    this.single(updateShape(table, set, keys, row, old ?? row), 1, () =>
      updateOne(table, set, row, keyMatch(keys, old ?? row))
    )
  }

  private fullMatch(table: SyncedTable, relation: Pgoutput.MessageRelation, old: Row): string {
    return fullMatch(table, relationColumns(table, relation).names, old)
  }

  private grouped(table: SyncedTable, kind: Group['kind'], keys: string[], columns: string[], row: Row): void {
    this.groups.add(table, kind, keys, columns, row)
  }

  /** A group's statement, appended to the batch as OpenGroups closes it. */
  private closeGroup(group: Group): void {
    const { table, keys, columns, rows } = group
    if (rows.length === 1) return this.closeSingle(group)
    if (group.kind === 'insert') this.append({ sql: insertRows(table, columns, rows) })
    else if (group.kind === 'delete') this.append({ sql: deleteRows(table, keys, rows), rows: rows.length })
    else this.append({ sql: updateRows(table, keys, columns, rows), rows: rows.length })
  }

  /** A group of one row: its prepared shape. */
  private closeSingle({ kind, table, keys, columns, rows: [row] }: Group): void {
    if (kind === 'insert')
      return this.single(insertShape(table, columns, row), undefined, () => insertRows(table, columns, [row]))
    if (kind === 'delete') return this.single(deleteShape(table, keys, row), 1, () => deleteRows(table, keys, [row]))
    this.single(updateShape(table, columns, keys, row, row), 1, () => updateRows(table, keys, columns, [row]))
  }

  /** Runs a shape prepared in this session (prepared now, in the batch, the first time); past the cap, `plain`. */
  private single(shape: Shape, rows: number | undefined, plain: () => string): void {
    let name = this.prepared.get(shape.text)
    if (name === undefined && this.prepared.size < MAX_PREPARED) {
      name = `pg_migrate_${this.prepared.size + 1}`
      this.prepared.set(shape.text, name)
      this.append({ sql: `PREPARE ${quoteIdent(name)} AS ${shape.text}` })
    }
    this.append({ sql: name === undefined ? plain() : executeShape(name, shape.values), rows })
  }

  /** A statement of `table` (of none: BEGIN, TRUNCATE) after the groups that must go before it. */
  private push(statement: Pending, table?: SyncedTable): void {
    this.groups.before(table)
    this.append(statement)
  }

  private append(statement: Pending): void {
    this.statements.push(statement)
    this.chars += statement.sql.length
  }

  private table(relation: Pgoutput.MessageRelation): SyncedTable {
    return knownTable(this.known, relation)
  }
}
