import { quoteIdent, quoteLiteral } from '../pg/sql.js'
import type { SyncedColumn, SyncedTable } from './tables.js'

/** A row as the stream carries it: text values, null for NULL, undefined for an unchanged TOASTed value. */
export type Row = Record<string, string | null | undefined>

/**
 * The SQL text of replayed changes. Values go in as literals of the text the source printed (the
 * apply session pins standard_conforming_strings), so that many statements, of many rows each,
 * travel in one round trip. A statement of many rows takes each column's values as one array,
 * unnested (ROWS FROM) and typed by the target's column type as a literal would be: the target
 * parses one literal per column, not one per value, and reads each value with the type's input
 * function. Every identifier is quoted here, from the names read from the catalog.
 */
export function tableName(table: SyncedTable): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`
}

const literal = (value: string | null | undefined): string => (value == null ? 'NULL' : quoteLiteral(value))

/** One INSERT of any number of rows, in their order. */
export function insertRows(table: SyncedTable, columns: string[], rows: Row[]): string {
  const { from, read } = unnested(table, columns, 'c', rows)
  return `INSERT INTO ${tableName(table)} (${columns.map(quoteIdent).join(', ')}) OVERRIDING SYSTEM VALUE SELECT ${read.join(', ')} FROM ${from}`
}

/** One DELETE of rows by their key (no REPLICA IDENTITY FULL): the rows are distinct, their order does not matter. */
export function deleteRows(table: SyncedTable, keys: string[], rows: Row[]): string {
  const { from, read } = unnested(table, keys, 'k', rows)
  return `DELETE FROM ${tableName(table)} AS d USING ${from} WHERE ${keys.map((key, i) => `d.${quoteIdent(key)} = ${read[i]}`).join(' AND ')}`
}

/** One UPDATE of distinct rows whose key did not change, all setting the same columns. */
export function updateRows(table: SyncedTable, keys: string[], set: string[], rows: Row[]): string {
  if (rows.length === 1) return updateOne(table, set, rows[0], keyMatch(keys, rows[0]))
  const { from, read } = unnested(table, [...keys, ...set], 'c', rows)
  return (
    `UPDATE ${tableName(table)} AS u SET ${set.map((column, i) => `${quoteIdent(column)} = ${read[keys.length + i]}`).join(', ')}` +
    ` FROM ${from} WHERE ${keys.map((key, i) => `u.${quoteIdent(key)} = ${read[i]}`).join(' AND ')}`
  )
}

/**
 * `rows` as a relation `v` of `columns`: each column's values one array literal, unnested side by
 * side, and each column read back as the table's type (`read`). An array of the column's type
 * (`'{…}'::type[]`) calls its input function per element; a type that cannot go that way (an array
 * type, whose values would become one more dimension; a composite, which unnest in FROM would spread
 * over several columns; a type whose array delimiter is not a comma) goes as text[] and is cast to
 * its type per row, through the same input function (text converts to such types by their input
 * function).
 */
function unnested(
  table: SyncedTable,
  columns: string[],
  prefix: string,
  rows: Row[]
): { from: string; read: string[] } {
  const types = columnTypes(table)
  const names = columns.map((_, i) => `${prefix}${i}`)
  const args: string[] = []
  const read: string[] = []
  columns.forEach((column, i) => {
    const type = types.get(column)
    const values = arrayLiteral(rows, column)
    const typeName = type && `${quoteIdent(type.typeSchema)}.${quoteIdent(type.typeName)}`
    const direct = typeName !== undefined && !type?.viaText
    args.push(`pg_catalog.unnest(${values}::${direct ? `${typeName}[]` : 'pg_catalog.text[]'})`)
    read.push(direct || typeName === undefined ? `v.${names[i]}` : `v.${names[i]}::${typeName}`)
  })
  return { from: `ROWS FROM (${args.join(', ')}) AS v (${names.join(', ')})`, read }
}

/** The table's columns by name, kept per table: every multi-row statement asks for them. */
const typesOf = new WeakMap<SyncedTable, Map<string, SyncedColumn>>()
function columnTypes(table: SyncedTable): Map<string, SyncedColumn> {
  let types = typesOf.get(table)
  if (!types) typesOf.set(table, (types = new Map(table.columns.map((column) => [column.name, column]))))
  return types
}

/** One column's values as an array literal: each element double-quoted (`"` and `\` escaped), NULL bare. */
function arrayLiteral(rows: Row[], column: string): string {
  let text = '{'
  for (let i = 0; i < rows.length; i++) {
    const value = rows[i][column]
    if (i > 0) text += ','
    if (value == null) text += 'NULL'
    else if (value.includes('"') || value.includes('\\')) text += `"${value.replace(ARRAY_SPECIAL, '\\$&')}"`
    else text += `"${value}"`
  }
  return quoteLiteral(text + '}')
}
const ARRAY_SPECIAL = /["\\]/g

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
