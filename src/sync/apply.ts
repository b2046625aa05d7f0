import type pg from 'pg'
import type { Pgoutput } from 'pg-logical-replication'
import { MigrationError } from '../base/errors.js'
import { quoteIdent } from '../pg/sql.js'
import { parseLsn } from './lsn.js'
import type { SyncedTable } from './tables.js'

/** A row as the stream carries it: text values, null for NULL, undefined for an unchanged TOASTed value. */
type Row = Record<string, string | null | undefined>

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

/**
 * Replays pgoutput's changes on the target, one source transaction per target transaction, in the
 * source's commit order. Statements are prepared once per table and shape, and every value goes in
 * as the text the source printed, typed by the target's column.
 */
export class Applier {
  readonly counts: ApplyCounts = { transactions: 0, inserts: 0, updates: 0, deletes: 0, truncates: 0, noRow: 0 }
  private readonly known: Map<string, SyncedTable>
  private readonly statements = new Map<string, string>()
  private open = false
  /** A BEGIN has arrived; the target's transaction starts with its first change. */
  private begun = false

  constructor(
    private readonly target: pg.Client,
    tables: SyncedTable[]
  ) {
    this.known = new Map(tables.map((table) => [`${table.schema}.${table.table}`, table]))
  }

  get inTransaction(): boolean {
    return this.begun
  }

  /** Applies one message; returns the commit it completed, if it was a COMMIT. */
  async apply(message: Pgoutput.Message): Promise<AppliedCommit | undefined> {
    switch (message.tag) {
      case 'begin':
        this.begun = true
        return undefined
      case 'commit': {
        const changed = this.open
        if (changed) await this.target.query('COMMIT')
        this.open = this.begun = false
        if (changed) this.counts.transactions++
        return {
          endLsn: message.commitEndLsn ? parseLsn(message.commitEndLsn) : 0n,
          commitMs: Number(BigInt(message.commitTime as bigint) / 1000n),
          changed
        }
      }
      case 'relation':
        this.checkUnchanged(message)
        return undefined
      default:
        await this.change(message)
        return undefined
    }
  }

  private async change(message: Pgoutput.Message): Promise<void> {
    if (!['insert', 'update', 'delete', 'truncate'].includes(message.tag)) return
    if (!this.open) {
      await this.target.query('BEGIN')
      this.open = true
    }
    switch (message.tag) {
      case 'insert':
        return this.insert(message.relation, message.new)
      case 'update':
        return this.update(message)
      case 'delete':
        return this.remove(message.relation, (message.key ?? message.old) as Row)
      case 'truncate':
        return this.truncate(message)
    }
  }

  /**
   * pgoutput describes a table again whenever it changed: a column added, dropped, renamed or
   * retyped on the source during the sync cannot be replayed on the copy, which has the old shape.
   */
  private checkUnchanged(relation: Pgoutput.MessageRelation): void {
    const table = this.known.get(`${relation.schema}.${relation.name}`)
    const name = `${quoteIdent(relation.schema)}.${quoteIdent(relation.name)}`
    if (!table)
      throw new MigrationError(
        'sync-source-changed',
        `the source changed its schema during the sync: table ${name} is not the one that was copied (renamed or replaced)`
      )
    const was = table.columns.map((column) => `${column.name} ${column.type}`).join(', ')
    const now = relation.columns.map((column) => `${column.name} ${column.typeOid}`).join(', ')
    if (was === now) return
    const before = new Set(table.columns.map((column) => column.name))
    const after = new Set(relation.columns.map((column) => column.name))
    const added = [...after].filter((column) => !before.has(column))
    const dropped = [...before].filter((column) => !after.has(column))
    const detail = [
      added.length ? `column ${added.join(', ')} added` : '',
      dropped.length ? `column ${dropped.join(', ')} dropped` : '',
      !added.length && !dropped.length ? 'a column changed its type or position' : ''
    ]
      .filter(Boolean)
      .join('; ')
    throw new MigrationError(
      'sync-source-changed',
      `the source changed its schema during the sync: table ${table.name}: ${detail}`
    )
  }

  private async insert(relation: Pgoutput.MessageRelation, row: Row): Promise<void> {
    const columns = relation.columns.map((column) => column.name)
    const text = `INSERT INTO ${tableName(relation)} (${columns.map(quoteIdent).join(', ')}) OVERRIDING SYSTEM VALUE VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`
    await this.run(
      text,
      columns.map((column) => row[column] ?? null)
    )
    this.counts.inserts++
  }

  private async update(message: Pgoutput.MessageUpdate): Promise<void> {
    const { relation, new: row } = message
    const old = (message.key ?? message.old) as Row | null
    // Without an old key the key did not change: it need not be set. Unchanged TOASTed values are not
    // sent and keep theirs on the target too. GENERATED ALWAYS identity columns can only be set to
    // DEFAULT; the source could not give them another value either.
    const keep = new Set([...(old ? [] : relation.keyColumns), ...this.alwaysIdentity(relation)])
    const set = relation.columns
      .map((column) => column.name)
      .filter((column) => row[column] !== undefined && !keep.has(column))
    this.counts.updates++
    if (set.length === 0) return
    const where = this.match(relation, old ?? row, set.length)
    const text = `UPDATE ${tableName(relation)} SET ${set.map((column, i) => `${quoteIdent(column)} = $${i + 1}`).join(', ')} WHERE ${where.sql}`
    const found = await this.run(text, [...set.map((column) => row[column] ?? null), ...where.values])
    if (found === 0) this.counts.noRow++
  }

  private alwaysIdentity(relation: Pgoutput.MessageRelation): string[] {
    const table = this.known.get(`${relation.schema}.${relation.name}`)
    return (table?.columns ?? []).filter((column) => column.always).map((column) => column.name)
  }

  private async remove(relation: Pgoutput.MessageRelation, old: Row): Promise<void> {
    const where = this.match(relation, old, 0)
    const found = await this.run(`DELETE FROM ${tableName(relation)} WHERE ${where.sql}`, where.values)
    this.counts.deletes++
    if (found === 0) this.counts.noRow++
  }

  private async truncate(message: Pgoutput.MessageTruncate): Promise<void> {
    const tables = message.relations.map(tableName).join(', ')
    await this.target.query(`TRUNCATE ONLY ${tables}${message.restartIdentity ? ' RESTART IDENTITY' : ''}`)
    this.counts.truncates++
  }

  /**
   * The row's identity: its key columns (primary key or replica identity index), or with REPLICA
   * IDENTITY FULL every column the old row carries, compared as text (json and point have no `=`)
   * and one row at a time, as duplicates may exist.
   */
  private match(relation: Pgoutput.MessageRelation, old: Row, offset: number): { sql: string; values: unknown[] } {
    if (relation.replicaIdentity !== 'full') {
      const keys = relation.keyColumns
      return {
        sql: keys.map((column, i) => `${quoteIdent(column)} = $${offset + i + 1}`).join(' AND '),
        values: keys.map((column) => old[column] ?? null)
      }
    }
    const columns = relation.columns.map((column) => column.name).filter((column) => old[column] !== undefined)
    const conditions = columns.map((column, i) =>
      old[column] === null ? `${quoteIdent(column)} IS NULL` : `${quoteIdent(column)}::text = $${offset + i + 1}::text`
    )
    const values = columns.map((column) => old[column]).filter((value) => value !== null)
    // Placeholders must be numbered without gaps: renumber past the NULL ones.
    let next = offset
    const sql = conditions.map((condition) => condition.replace(/\$\d+/, () => `$${++next}`)).join(' AND ')
    return { sql: `ctid = (SELECT ctid FROM ${tableName(relation)} WHERE ${sql} LIMIT 1)`, values }
  }

  /** Runs a statement prepared once per distinct text; returns the rows it touched. */
  private async run(text: string, values: unknown[]): Promise<number> {
    let name = this.statements.get(text)
    if (name === undefined && this.statements.size < 1000) {
      name = `sync_${this.statements.size + 1}`
      this.statements.set(text, name)
    }
    const result = await this.target.query({ name, text, values })
    return result.rowCount ?? 0
  }
}

function tableName(relation: Pgoutput.MessageRelation): string {
  return `${quoteIdent(relation.schema)}.${quoteIdent(relation.name)}`
}
