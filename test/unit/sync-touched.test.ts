// What the verify at cutover learns from the change stream, without servers: the keys each change
// touches, whether each row existed at the slot's snapshot, the tables read whole and why, and the
// bound on the keys kept in memory.
import type { Pgoutput } from 'pg-logical-replication'
import { TouchedRows } from '../../src/sync/touched.js'

const lines: string[] = []
const log = { info: (line: string) => lines.push(line), warning: () => undefined, debug: () => undefined }

function relation(name: string, keyColumns: string[], replicaIdentity: 'default' | 'full' = 'default') {
  return {
    tag: 'relation',
    relationOid: 1,
    schema: 'app',
    name,
    replicaIdentity,
    columns: [],
    keyColumns
  } as unknown as Pgoutput.MessageRelation
}

const items = relation('items', ['id'])
const insert = (id: number) =>
  ({ tag: 'insert', relation: items, new: { id: String(id), v: 'x' } }) as unknown as Pgoutput.Message
const update = (id: number, from?: number) =>
  ({
    tag: 'update',
    relation: items,
    key: from === undefined ? null : { id: String(from) },
    old: null,
    new: { id: String(id), v: 'y' }
  }) as unknown as Pgoutput.Message
const remove = (id: number) =>
  ({ tag: 'delete', relation: items, key: { id: String(id) }, old: null }) as unknown as Pgoutput.Message

test('each key once, with whether its row existed at the snapshot: told by its first change', () => {
  const touched = new TouchedRows(log as never)
  for (const message of [insert(10), update(10), update(1), remove(2), update(30, 3), insert(2), remove(10)])
    touched.note(message)
  const [table] = touched.touched
  const existed = [...table.keys].map(([key, touchedKey]) => [key, touchedKey.existed])
  expect(Object.fromEntries(existed)).toEqual({
    '["10"]': false,
    '["1"]': true,
    '["2"]': true,
    '["3"]': true,
    '["30"]': false
  })
  expect(table.changes).toEqual({ inserts: 2, updates: 3, deletes: 2 })
  expect(table.whole).toBeUndefined()
})

test('a keyless table and a truncated one are read whole', () => {
  const touched = new TouchedRows(log as never)
  const loose = relation('loose', [], 'full')
  touched.note({ tag: 'insert', relation: loose, new: { x: '1' } } as unknown as Pgoutput.Message)
  touched.note(insert(1))
  touched.note({
    tag: 'truncate',
    cascade: false,
    restartIdentity: false,
    relations: [items]
  } as unknown as Pgoutput.Message)
  touched.note(insert(2))
  expect(touched.touched.map((t) => [t.name, t.whole, t.keys.size])).toEqual([
    ['loose', 'no key', 0],
    ['items', 'truncated', 0]
  ])
})

test('past the bound on keys, the table holding the most is read whole, and the log says so', () => {
  lines.length = 0
  const touched = new TouchedRows(log as never, 5)
  const other = relation('other', ['k'])
  touched.note({ tag: 'insert', relation: other, new: { k: 'a' } } as unknown as Pgoutput.Message)
  for (let id = 1; id <= 5; id++) touched.note(insert(id))
  expect(touched.touched.map((t) => [t.name, t.whole, t.keys.size])).toEqual([
    ['other', undefined, 1],
    ['items', 'too many keys', 0]
  ])
  expect(lines).toEqual(['sync: more than 5 rows changed in all: app.items (5 of them) is verified whole at cutover'])
})

const begin = (xid: number) => ({ tag: 'begin', xid, commitLsn: null, commitTime: 0n }) as unknown as Pgoutput.Message
const commit = (endLsn: string) =>
  ({ tag: 'commit', flags: 0, commitLsn: null, commitEndLsn: endLsn, commitTime: 0n }) as unknown as Pgoutput.Message

test('the mark at an applied position: the last transaction committed up to it; each key keeps its last one', () => {
  const touched = new TouchedRows(log as never)
  for (const message of [begin(100), insert(1), commit('0/100'), begin(102), update(1), insert(2), commit('0/200')])
    touched.note(message)
  touched.note(begin(101))
  touched.note(remove(3))
  touched.note(commit('0/300'))
  expect([touched.markAt(0x50n), touched.markAt(0x100n), touched.markAt(0x2ffn), touched.markAt(0x300n)]).toEqual([
    0, 1, 2, 3
  ])
  const [table] = touched.touched
  expect([...table.keys].map(([key, touchedKey]) => [key, touchedKey.transaction])).toEqual([
    ['["1"]', 2],
    ['["2"]', 2],
    ['["3"]', 3]
  ])
  expect(table.lastTransaction).toBe(3)
})

test('a source snapshot must see every transaction up to the mark: none running in it, none at or past its xmax', () => {
  const touched = new TouchedRows(log as never)
  for (const [xid, end] of [
    [100, '0/100'],
    [102, '0/200'],
    [101, '0/300']
  ] as const) {
    touched.note(begin(xid))
    touched.note(insert(xid))
    touched.note(commit(end))
  }
  expect(touched.seesAllUpTo(3, '99:103:')).toBe(true)
  // 101 still running in the snapshot (its commit record decoded a moment before it became visible).
  expect(touched.seesAllUpTo(3, '99:103:101')).toBe(false)
  expect(touched.seesAllUpTo(2, '99:103:101')).toBe(true)
  expect(touched.seesAllUpTo(3, '99:102:')).toBe(false)
  // xids carry their epoch in the snapshot: compared modulo 2^32, as the server compares them.
  expect(touched.seesAllUpTo(3, `${2 ** 32 + 99}:${2 ** 32 + 103}:`)).toBe(true)
  touched.forgetBefore(3, '102:104:')
  expect(touched.markAt(0x100n)).toBe(1)
  expect(touched.seesAllUpTo(3, '99:102:')).toBe(false)
})
