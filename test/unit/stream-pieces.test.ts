import { planPieces, pieceKey, pieceTable, PIECE_BYTES } from '../../src/stream/engine.js'
import type { StreamedTable } from '../../src/stream/tables.js'

const MiB = 1024 * 1024

function table(name: string, bytes: number): StreamedTable {
  return {
    schema: 'app',
    name,
    display: `app.${name}`,
    columns: ['"id"'],
    loadInto: `"app"."${name}"`,
    bytes,
    blockSize: 8192,
    tidRanges: true,
    primaryKey: ['id']
  }
}

describe('the stream plans its pieces', () => {
  it('splits a big table into ranges of about PIECE_BYTES, covering every block once, the last open', () => {
    const pieces = planPieces({ sessions: 2, tables: [table('small', 1 * MiB), table('big', 100 * MiB)] })
    const big = pieces.filter((piece) => piece.table.name === 'big')
    expect(big).toHaveLength(Math.ceil((100 * MiB) / PIECE_BYTES))
    expect(big[0].range?.from).toBe(0)
    for (let i = 1; i < big.length; i++) expect(big[i].range?.from).toBe(big[i - 1].range?.to)
    expect(big.at(-1)?.range?.to).toBeUndefined()
    expect(pieces.filter((piece) => piece.table.name === 'small').map((piece) => piece.range)).toEqual([undefined])
  })

  it('gives at least one range per pair to a table above its share, and none with one pair', () => {
    const tables = [table('a', 6 * MiB), table('b', 2 * MiB)]
    expect(planPieces({ sessions: 3, tables }).filter((piece) => piece.table.name === 'a')).toHaveLength(3)
    expect(planPieces({ sessions: 1, tables })).toHaveLength(2)
  })

  it('names each piece alike in every run that plans the same sizes; other sizes move the ranges', () => {
    const keys = (bytes: number) =>
      planPieces({ sessions: 2, tables: [table('big', bytes), table('small', MiB)] }).map((piece) => piece.key)
    expect(keys(100 * MiB)).toEqual(keys(100 * MiB))
    const doubled = new Set(keys(200 * MiB))
    // Twice the blocks: every range of the big table begins or ends at another block.
    expect(keys(100 * MiB).filter((key) => pieceTable(key)[1] === 'big' && doubled.has(key))).toEqual([])
    expect(keys(100 * MiB)).toContain(pieceKey(table('small', 0)))
    expect(pieceTable(pieceKey(table('small', 0)))).toEqual(['app', 'small'])
  })
})
