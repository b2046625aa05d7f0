import { CopyTextDigest, RowDigest, copyOutStatement } from '../../src/verify/fingerprint/copy-digest.js'
import { chooseCopyMethod } from '../../src/stream/choose.js'
import { partsChecksum } from '../../src/verify/fingerprint/tables.js'

const rows = Array.from({ length: 500 }, (_, i) => `${i}\tvalue ${'x'.repeat(i % 37)}\t\\N\té€\\n${i * 7}`)

/** The digest of COPY text handed over in pieces of `size` bytes. */
function digestOf(text: string, size: number): { rows: number; checksum: string } {
  const digesting = new CopyTextDigest()
  // Stretches of a larger buffer, as they lie in a socket's read: the digest must not look past them.
  const data = Buffer.from(`\n${text}\n`)
  for (let at = 1; at < data.length - 1; at += size) digesting.add(data, at, Math.min(at + size, data.length - 1))
  expect(digesting.heldBytes).toBe(0)
  digesting.end()
  return { rows: digesting.digest.rows, checksum: digesting.digest.checksum() }
}

test('the digest does not depend on where the pieces are cut, nor on the order of the rows', () => {
  const text = rows.map((row) => `${row}\n`).join('')
  const whole = digestOf(text, text.length)
  expect(whole.rows).toBe(500)
  for (const size of [1, 3, 16, 17, 4096]) expect(digestOf(text, size)).toEqual(whole)
  const reversed = [...rows]
    .reverse()
    .map((row) => `${row}\n`)
    .join('')
  expect(digestOf(reversed, 100)).toEqual(whole)
})

test('one changed byte, a row swapped for another, or a duplicate changes the checksum', () => {
  const text = rows.map((row) => `${row}\n`).join('')
  const whole = digestOf(text, 64).checksum
  expect(digestOf(text.replace('value x', 'value y'), 64).checksum).not.toBe(whole)
  const swapped = [...rows.slice(1), rows[1]].map((row) => `${row}\n`).join('')
  expect(digestOf(swapped, 64)).toMatchObject({ rows: 500 })
  expect(digestOf(swapped, 64).checksum).not.toBe(whole)
  expect(digestOf(text + `${rows[0]}\n`, 64).rows).toBe(501)
})

test('ranges of a table merge into the whole table', () => {
  const all = new RowDigest()
  const halves = [new RowDigest(), new RowDigest()]
  rows.forEach((row, i) => {
    const data = Buffer.from(row)
    all.add(data, 0, data.length)
    halves[i % 2].add(data, 0, data.length)
  })
  halves[0].merge(halves[1])
  expect(halves[0].checksum()).toBe(all.checksum())
  expect(BigInt(all.checksum())).toBeLessThan(1n << 128n)
})

test('a table read back in ranges adds up as the ranges merged in flight: modulo 2^128', () => {
  const halves = [new RowDigest(), new RowDigest()]
  const all = new RowDigest()
  // Enough rows that the two halves' sums, added plainly, pass 2^128 in about half the cases.
  for (let i = 0; i < 64; i++) {
    const data = Buffer.from(`row ${i}`)
    halves[i % 2].add(data, 0, data.length)
    all.add(data, 0, data.length)
  }
  const parts = halves.map((half) => ({ checksum: BigInt(half.checksum()) }))
  const plain = parts[0].checksum + parts[1].checksum
  expect(partsChecksum('copy-text-by-name', parts)).toBe(all.checksum())
  expect(partsChecksum('text-by-name', parts)).toBe(plain.toString())
  expect(partsChecksum('copy-text-by-name', [{ checksum: (1n << 128n) - 1n }, { checksum: 2n }])).toBe('1')
  expect(partsChecksum('copy-text-by-name', [{ checksum: null }, { checksum: 2n }])).toBeNull()
})

test('text cut inside a row is refused at the end', () => {
  const digesting = new CopyTextDigest()
  digesting.add(Buffer.from('1\ta\n2\tb'))
  expect(digesting.heldBytes).toBe(3)
  expect(() => digesting.end()).toThrow('ended inside a row')
})

test('the read statement quotes every name from the catalog', () => {
  expect(copyOutStatement({ schema: 'a"b', name: 'my table', columns: ['x', 'Y"'] }, { from: 3, to: 9 })).toBe(
    `COPY (SELECT r."x", r."Y""" FROM ONLY "a""b"."my table" AS r WHERE r.ctid OPERATOR(pg_catalog.>=) '(3,0)'::pg_catalog.tid AND r.ctid OPERATOR(pg_catalog.<) '(9,0)'::pg_catalog.tid) TO STDOUT`
  )
})

test.each([
  [{ requested: 'auto', uploadArtifact: false, sync: 'none' }, 'stream', /no artifact is wanted/],
  [{ requested: 'auto', uploadArtifact: true, sync: 'none' }, 'dump', /uploaded as an artifact/],
  [{ requested: 'stream', uploadArtifact: true, sync: 'none' }, 'stream', /none is uploaded/],
  [{ requested: 'dump', uploadArtifact: false, sync: 'none' }, 'dump', /as requested/],
  [{ requested: 'stream', uploadArtifact: false, sync: 'logical' }, 'stream', /as requested/],
  [{ requested: 'auto', uploadArtifact: false, sync: 'logical' }, 'stream', /jobs' sessions in the slot's snapshot/],
  [{ requested: 'auto', uploadArtifact: true, sync: 'logical' }, 'dump', /uploaded as an artifact/],
  [{ requested: 'dump', uploadArtifact: false, sync: 'logical' }, 'dump', /as requested/]
] as const)('copy-method %o: %s', (facts, method, why) => {
  const choice = chooseCopyMethod({ ...facts, compression: 'auto' })
  expect(choice.method).toBe(method)
  expect(choice.why).toMatch(why)
})

/** The plan's estimate for 1 GiB of tables, with `free` bytes under dump-path. */
const GiB = 1024 ** 3
const diskWith = (free: number) => ({
  freeBytes: free,
  tableBytes: GiB,
  dumpBytes: GiB,
  dumpBytesUpTo: 3 * GiB,
  dumpCompressedBytes: GiB / 4
})

test.each([
  ['auto', 10 * GiB, false, 'auto', 'dump', /holds the dump uncompressed \(10.0 GiB free, up to 3.0 GiB needed\)/],
  ['auto', 2 * GiB, false, 'auto', 'stream', /would not surely hold the dump uncompressed \(up to 3.0 GiB\)/],
  ['auto', 10 * GiB, false, 'zstd', 'stream', /compression: zstd was asked for/],
  ['auto', 10 * GiB, true, 'auto', 'dump', /uploaded as an artifact/],
  ['auto', GiB / 8, true, 'auto', 'stream', /cannot hold the dump \(about 256.0 MiB\).*no artifact is uploaded/],
  ['dump', GiB / 8, false, 'auto', 'dump', /as requested/]
] as const)(
  'copy-method %s with %d bytes free (upload %s, compression %s): %s',
  (requested, free, upload, compression, method, why) => {
    const choice = chooseCopyMethod({
      requested,
      uploadArtifact: upload,
      sync: 'none',
      compression,
      disk: diskWith(free)
    })
    expect(choice.method).toBe(method)
    expect(choice.why).toMatch(why)
  }
)

test('known rows sum to the checksum earlier builds computed: a manifest made by one compares with another', () => {
  const known = ['', 'a', 'ab', 'abc', 'abcd', '1\tone', 'é€ and more text past sixteen bytes', 'x'.repeat(33)]
  const digest = new RowDigest()
  // Short rows and long ones, inside a larger buffer as they lie in a socket's read.
  for (const row of [...known, '0123456789abcdef', '0123456789abcdefg']) {
    const data = Buffer.from(`>${row}<`)
    digest.add(data, 1, data.length - 1)
  }
  expect(digest.rows).toBe(10)
  expect(digest.checksum()).toBe('121509998509426560212935380903735856960')
})
