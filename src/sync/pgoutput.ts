// pgoutput's row changes read straight into rows of text: the apply's hot path. Every other message
// (and the relation each change names) goes through pg-logical-replication's parser.
import type { Pgoutput } from 'pg-logical-replication'
import type { Row } from './statements.js'

type RowChange = Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete

const INSERT = 0x49
const UPDATE = 0x55
const DELETE = 0x44
const KEY = 0x4b
const OLD = 0x4f
const NEW = 0x4e

/** A message that is an insert, update or delete: its first byte. */
export function isRowChange(message: Buffer): boolean {
  return message[0] === INSERT || message[0] === UPDATE || message[0] === DELETE
}

/**
 * Reads an insert, update or delete (protocol version 1) of a table described before by
 * `relations`: each value the text the source printed, null for NULL, undefined for an unchanged
 * TOASTed value (an update's old row, when it carries one, gives it instead), as the library does.
 */
export function readRowChange(message: Buffer, relations: Map<number, Pgoutput.MessageRelation>): RowChange {
  const reader = new TupleReader(message)
  const tag = reader.byte()
  const relation = relations.get(reader.int32())
  if (!relation) throw new Error('a change names a table the stream has not described')
  const part = reader.byte()
  if (tag === INSERT) {
    if (part !== NEW) throw new Error('an insert without its row')
    return { tag: 'insert', relation, new: reader.tuple(relation) }
  }
  if (part !== KEY && part !== OLD && !(tag === UPDATE && part === NEW))
    throw new Error(`unknown part ${String.fromCharCode(part)} of a change`)
  const oldRow = part === NEW ? null : reader.tuple(relation)
  const key = part === KEY && oldRow ? keyOnly(oldRow, relation) : null
  const old = part === OLD ? oldRow : null
  if (tag === DELETE) return { tag: 'delete', relation, key, old }
  if (part !== NEW && reader.byte() !== NEW) throw new Error('an update without its new row')
  return { tag: 'update', relation, key, old, new: reader.tuple(relation, old ?? undefined) }
}

/** A key tuple carries NULL for every column outside the key: those are left out. */
function keyOnly(tuple: Row, relation: Pgoutput.MessageRelation): Row {
  const key: Row = Object.create(null) as Row
  for (const column of relation.keyColumns) key[column] = tuple[column] ?? undefined
  return key
}

class TupleReader {
  private at = 0

  constructor(private readonly buffer: Buffer) {}

  byte(): number {
    this.need(1)
    return this.buffer[this.at++]
  }

  int32(): number {
    this.need(4)
    const value = this.buffer.readInt32BE(this.at)
    this.at += 4
    return value
  }

  /** A row by column name; a prototype-less object, so a column named __proto__ is a column too. */
  tuple(relation: Pgoutput.MessageRelation, unchangedFrom?: Row): Row {
    this.need(2)
    const count = this.buffer.readInt16BE(this.at)
    this.at += 2
    if (count > relation.columns.length) throw new Error('a row with more columns than its table')
    const row: Row = Object.create(null) as Row
    for (let i = 0; i < count; i++) {
      const name = relation.columns[i].name
      const kind = this.byte()
      if (kind === 0x74) {
        const size = this.int32()
        this.need(size)
        row[name] = this.buffer.toString('utf8', this.at, (this.at += size))
      } else if (kind === 0x6e) row[name] = null
      else if (kind === 0x75) row[name] = unchangedFrom?.[name]
      else throw new Error(`unknown kind ${String.fromCharCode(kind)} of a value`)
    }
    return row
  }

  private need(bytes: number): void {
    if (bytes < 0 || this.at + bytes > this.buffer.length) throw new Error('unexpected end of message')
  }
}
