import { quoteIdent, quoteLiteral } from '../pg/sql.js'
import type { SyncedTable } from './tables.js'

/** A row as the stream carries it: text values, null for NULL, undefined for an unchanged TOASTed value. */
export type Row = Record<string, string | null | undefined>

/**
 * The SQL text of replayed changes. Values go in as literals of the text the source printed, typed
 * by the target's columns as a parameter would be (the apply session pins standard_conforming_strings),
 * so that many statements, of many rows each, travel in one round trip. Every identifier is quoted
 * here, from the names read from the catalog.
 */
export function tableName(table: SyncedTable): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`
}

const literal = (value: string | null | undefined): string => (value == null ? 'NULL' : quoteLiteral(value))

/** One INSERT of any number of rows, in their order. */
export function insertRows(table: SyncedTable, columns: string[], rows: Row[]): string {
  const values = rows.map((row) => `(${columns.map((column) => literal(row[column])).join(', ')})`)
  return `INSERT INTO ${tableName(table)} (${columns.map(quoteIdent).join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${values.join(', ')}`
}

/** One DELETE of rows by their key (no REPLICA IDENTITY FULL): the rows are distinct, their order does not matter. */
export function deleteRows(table: SyncedTable, keys: string[], rows: Row[]): string {
  const tuple = (row: Row): string => keys.map((key) => literal(row[key])).join(', ')
  if (keys.length === 1)
    return `DELETE FROM ${tableName(table)} WHERE ${quoteIdent(keys[0])} IN (${rows.map(tuple).join(', ')})`
  return `DELETE FROM ${tableName(table)} WHERE (${keys.map(quoteIdent).join(', ')}) IN (${rows.map((row) => `(${tuple(row)})`).join(', ')})`
}

/**
 * One UPDATE of distinct rows whose key did not change, all setting the same columns. Several rows
 * join a VALUES list, whose values are cast to the columns' types (a VALUES list would make them text).
 */
export function updateRows(table: SyncedTable, keys: string[], set: string[], rows: Row[]): string {
  if (rows.length === 1) return updateOne(table, set, rows[0], keyMatch(keys, rows[0]))
  const types = new Map(table.columns.map((column) => [column.name, column]))
  const typed = (column: string, value: string | null | undefined): string => {
    const type = types.get(column)
    return type ? `${literal(value)}::${quoteIdent(type.typeSchema)}.${quoteIdent(type.typeName)}` : literal(value)
  }
  const values = rows.map((row) => `(${[...keys, ...set].map((column) => typed(column, row[column])).join(', ')})`)
  const names = [...keys.map((_, i) => `k${i}`), ...set.map((_, i) => `s${i}`)]
  return (
    `UPDATE ${tableName(table)} AS u SET ${set.map((column, i) => `${quoteIdent(column)} = v.s${i}`).join(', ')}` +
    ` FROM (VALUES ${values.join(', ')}) AS v (${names.join(', ')})` +
    ` WHERE ${keys.map((key, i) => `u.${quoteIdent(key)} = v.k${i}`).join(' AND ')}`
  )
}

/** One UPDATE of one row, found by `where`. */
export function updateOne(table: SyncedTable, set: string[], row: Row, where: string): string {
  return `UPDATE ${tableName(table)} SET ${set.map((column) => `${quoteIdent(column)} = ${literal(row[column])}`).join(', ')} WHERE ${where}`
}

/** One DELETE of one row, found by `where`. */
export function deleteOne(table: SyncedTable, where: string): string {
  return `DELETE FROM ${tableName(table)} WHERE ${where}`
}

/** A row by its key columns (primary key or replica identity index). */
export function keyMatch(keys: string[], row: Row): string {
  return keys.map((key) => `${quoteIdent(key)} = ${literal(row[key])}`).join(' AND ')
}

/**
 * A row of a REPLICA IDENTITY FULL table, by every column the old row carries, compared as text
 * (json and point have no `=`), and one row only, as duplicates may exist.
 */
export function fullMatch(table: SyncedTable, columns: string[], row: Row): string {
  const conditions = columns
    .filter((column) => row[column] !== undefined)
    .map((column) =>
      row[column] === null
        ? `${quoteIdent(column)} IS NULL`
        : `${quoteIdent(column)}::text = ${literal(row[column])}::text`
    )
  return `ctid = (SELECT ctid FROM ${tableName(table)} WHERE ${conditions.join(' AND ')} LIMIT 1)`
}

/**
 * One row's statement as a shape: the text with placeholders, prepared once per session, and the
 * values for it. `EXECUTE` of a prepared shape skips the parse and, after a few runs, the planning:
 * most of a one-row statement's cost.
 */
export interface Shape {
  text: string
  values: (string | null | undefined)[]
}

const placeholders = (from: number, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `$${from + i + 1}`)

/** A shape's text, built once per table and columns: the apply asks for it with every row. */
const texts = new WeakMap<SyncedTable, Map<string, string>>()
function memo(table: SyncedTable, key: string, build: () => string): string {
  let known = texts.get(table)
  if (!known) texts.set(table, (known = new Map()))
  let text = known.get(key)
  if (text === undefined) known.set(key, (text = build()))
  return text
}

export function insertShape(table: SyncedTable, columns: string[], row: Row): Shape {
  return {
    text: memo(
      table,
      `i\0${columns.join('\0')}`,
      () =>
        `INSERT INTO ${tableName(table)} (${columns.map(quoteIdent).join(', ')}) OVERRIDING SYSTEM VALUE VALUES (${placeholders(0, columns.length).join(', ')})`
    ),
    values: columns.map((column) => row[column])
  }
}

/** `set` from `row`, the row found by `keys` in `old` (the old key when it changed). */
export function updateShape(table: SyncedTable, set: string[], keys: string[], row: Row, old: Row): Shape {
  const text = memo(table, `u\0${set.join('\0')}\u0001${keys.join('\0')}`, () => {
    const where = keys.map((key, i) => `${quoteIdent(key)} = $${set.length + i + 1}`).join(' AND ')
    return `UPDATE ${tableName(table)} SET ${set.map((column, i) => `${quoteIdent(column)} = $${i + 1}`).join(', ')} WHERE ${where}`
  })
  return {
    text,
    values: [...set.map((column) => row[column]), ...keys.map((key) => old[key])]
  }
}

export function deleteShape(table: SyncedTable, keys: string[], old: Row): Shape {
  return {
    text: memo(
      table,
      `d\0${keys.join('\0')}`,
      () =>
        `DELETE FROM ${tableName(table)} WHERE ${keys.map((key, i) => `${quoteIdent(key)} = $${i + 1}`).join(' AND ')}`
    ),
    values: keys.map((key) => old[key])
  }
}

/** Runs a prepared shape; the literals take the types the placeholders were given. */
export function executeShape(name: string, values: Shape['values']): string {
  return `EXECUTE ${quoteIdent(name)}(${values.map(literal).join(', ')})`
}
