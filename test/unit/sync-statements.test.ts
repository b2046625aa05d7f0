// The apply's SQL text without servers: identifiers quoted by the action from catalog names, values
// as literals of the source's text (a quote doubled, a backslash left alone under
// standard_conforming_strings), a multi-row statement's values as one array literal per column, typed
// by the column's type.
import {
  deleteRows,
  executeShape,
  fullMatch,
  insertRows,
  insertShape,
  updateRows,
  updateShape
} from '../../src/sync/statements.js'
import type { SyncedTable } from '../../src/sync/tables.js'

const table: SyncedTable = {
  oid: 1,
  name: 'ignored',
  schema: 'a"b',
  table: 'T',
  otherUnique: false,
  columns: [
    { name: 'id', type: 23, typeSchema: 'pg_catalog', typeName: 'int4', always: false },
    { name: 'select', type: 25, typeSchema: 'pg_catalog', typeName: 'text', always: false },
    { name: 'bits', type: 1560, typeSchema: 'pg_catalog', typeName: 'bit', always: false }
  ]
}

test('a multi-row insert keeps the rows in order: one array per column, NULLs bare, quotes and backslashes escaped', () => {
  expect(
    insertRows(
      table,
      ['id', 'select'],
      [
        { id: '1', select: `it's "q"` },
        { id: '2', select: null },
        { id: '3', select: '\\x00' }
      ]
    )
  ).toBe(
    `INSERT INTO "a""b"."T" ("id", "select") OVERRIDING SYSTEM VALUE SELECT v.c0, v.c1 FROM ROWS FROM (` +
      `pg_catalog.unnest('{"1","2","3"}'::"pg_catalog"."int4"[]), ` +
      `pg_catalog.unnest('{"it''s \\"q\\"",NULL,"\\\\x00"}'::"pg_catalog"."text"[])) AS v (c0, c1)`
  )
})

test('deletes by a list of keys, one column or several', () => {
  expect(deleteRows(table, ['id'], [{ id: '1' }, { id: '2' }])).toBe(
    `DELETE FROM "a""b"."T" AS d USING ROWS FROM (pg_catalog.unnest('{"1","2"}'::"pg_catalog"."int4"[])) AS v (k0) WHERE d."id" = v.k0`
  )
  expect(deleteRows(table, ['id', 'select'], [{ id: '1', select: 'x' }])).toBe(
    `DELETE FROM "a""b"."T" AS d USING ROWS FROM (pg_catalog.unnest('{"1"}'::"pg_catalog"."int4"[]), ` +
      `pg_catalog.unnest('{"x"}'::"pg_catalog"."text"[])) AS v (k0, k1) WHERE d."id" = v.k0 AND d."select" = v.k1`
  )
})

test('an update of several rows types each array by the column type, by the type names quoted here', () => {
  expect(
    updateRows(
      table,
      ['id'],
      ['select', 'bits'],
      [
        { id: '1', select: 'a', bits: '101' },
        { id: '2', select: null, bits: '1' }
      ]
    )
  ).toBe(
    `UPDATE "a""b"."T" AS u SET "select" = v.c1, "bits" = v.c2 FROM ROWS FROM (` +
      `pg_catalog.unnest('{"1","2"}'::"pg_catalog"."int4"[]), pg_catalog.unnest('{"a",NULL}'::"pg_catalog"."text"[]), ` +
      `pg_catalog.unnest('{"101","1"}'::"pg_catalog"."bit"[])) AS v (c0, c1, c2) WHERE u."id" = v.c0`
  )
  // One row needs no arrays: the literals take the columns' types.
  expect(updateRows(table, ['id'], ['select'], [{ id: '1', select: 'a' }])).toBe(
    `UPDATE "a""b"."T" SET "select" = 'a' WHERE "id" = '1'`
  )
})

test('an array column, or one whose type delimits array elements otherwise, goes as text[] cast per row', () => {
  const tagged: SyncedTable = {
    ...table,
    columns: [
      table.columns[0],
      { name: 'tags', type: 1009, typeSchema: 'pg_catalog', typeName: '_text', always: false, viaText: true }
    ]
  }
  expect(
    insertRows(
      tagged,
      ['id', 'tags'],
      [
        { id: '1', tags: '{a,"b c",NULL}' },
        { id: '2', tags: null }
      ]
    )
  ).toBe(
    `INSERT INTO "a""b"."T" ("id", "tags") OVERRIDING SYSTEM VALUE SELECT v.c0, v.c1::"pg_catalog"."_text" FROM ROWS FROM (` +
      `pg_catalog.unnest('{"1","2"}'::"pg_catalog"."int4"[]), ` +
      `pg_catalog.unnest('{"{a,\\"b c\\",NULL}",NULL}'::pg_catalog.text[])) AS v (c0, c1)`
  )
})

test('shapes carry placeholders, and their runs the literals; a changed key is found by its old value', () => {
  const update = updateShape(table, ['id', 'select'], ['id'], { id: '9', select: 'x' }, { id: '1' })
  expect(update).toEqual({
    text: `UPDATE "a""b"."T" SET "id" = $1, "select" = $2 WHERE "id" = $3`,
    values: ['9', 'x', '1']
  })
  expect(executeShape('pg_migrate_1', update.values)).toBe(`EXECUTE "pg_migrate_1"('9', 'x', '1')`)
  expect(insertShape(table, ['id', 'select'], { id: '1', select: null }).text).toBe(
    `INSERT INTO "a""b"."T" ("id", "select") OVERRIDING SYSTEM VALUE VALUES ($1, $2)`
  )
  expect(executeShape('s', ['1', null])).toBe(`EXECUTE "s"('1', NULL)`)
})

test('a REPLICA IDENTITY FULL row is found by the columns it carries, as text, one row only', () => {
  expect(fullMatch(table, ['id', 'select', 'bits'], { id: '1', select: null, bits: undefined })).toBe(
    `ctid = (SELECT ctid FROM "a""b"."T" WHERE "id"::text = '1'::text AND "select" IS NULL LIMIT 1)`
  )
})
