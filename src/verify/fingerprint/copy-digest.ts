import { qualifiedName, quoteIdent } from './sql.js'

/**
 * A table's rows hashed by the runner as COPY's text form passes through it: the streaming copy
 * hashes the source's rows on their way to the target (no second read of the source), and the
 * verify reads the target back through COPY, in sessions with the same settings, and hashes it with
 * the same function. Each row (one line of COPY text, without its newline) gets a 128-bit hash; the
 * table's checksum is their sum mod 2^128, with the row count beside it: order-independent, and a
 * duplicated row counts twice where xor would cancel it.
 *
 * The hash is MurmurHash3 x86_128, in 32-bit integer arithmetic that JavaScript runs fast: a crypto
 * hash per row measured about 2.5 µs a row here, several times the cost of moving the row. It is
 * not meant to resist a forger: both sides are hashed from what the action itself copied, so nobody
 * chooses the rows of both.
 */

const C1 = 0x239b961b
const C2 = 0xab0e9789
const C3 = 0x38b34ae5
const C4 = 0xa1e38b93

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r))

function fmix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

const mixK1 = (k: number): number => Math.imul(rotl(Math.imul(k, C1), 15), C2)
const mixK2 = (k: number): number => Math.imul(rotl(Math.imul(k, C2), 16), C3)
const mixK3 = (k: number): number => Math.imul(rotl(Math.imul(k, C3), 17), C4)
const mixK4 = (k: number): number => Math.imul(rotl(Math.imul(k, C4), 18), C1)

/** Little-endian bytes [at, at + count) of `data` as one word, count < 4 allowed (the tail). */
function word(data: Buffer, at: number, count: number): number {
  let k = 0
  for (let i = count - 1; i >= 0; i--) k = (k << 8) | data[at + i]
  return k
}

/**
 * The four 32-bit words of MurmurHash3 x86_128 of data[start, end), into `out`; `view` is a DataView
 * of `data`: its little-endian word reads compile to one load each, where Buffer.readInt32LE's sum
 * of four bytes measured 2-4 times slower.
 */
export function murmur128(data: Buffer, view: DataView, start: number, end: number, out: Uint32Array): void {
  let h1 = 0
  let h2 = 0
  let h3 = 0
  let h4 = 0
  const length = end - start
  let at = start
  for (; at + 16 <= end; at += 16) {
    h1 ^= mixK1(view.getInt32(at, true))
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0
    h2 ^= mixK2(view.getInt32(at + 4, true))
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0
    h3 ^= mixK3(view.getInt32(at + 8, true))
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0
    h4 ^= mixK4(view.getInt32(at + 12, true))
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0
  }
  const tail = end - at
  if (tail > 12) h4 ^= mixK4(word(data, at + 12, tail - 12))
  if (tail > 8) h3 ^= mixK3(word(data, at + 8, Math.min(4, tail - 8)))
  if (tail > 4) h2 ^= mixK2(word(data, at + 4, Math.min(4, tail - 4)))
  if (tail > 0) h1 ^= mixK1(word(data, at, Math.min(4, tail)))
  h1 ^= length
  h2 ^= length
  h3 ^= length
  h4 ^= length
  h1 = (h1 + h2 + h3 + h4) | 0
  h2 = (h2 + h1) | 0
  h3 = (h3 + h1) | 0
  h4 = (h4 + h1) | 0
  h1 = fmix(h1)
  h2 = fmix(h2)
  h3 = fmix(h3)
  h4 = fmix(h4)
  h1 = (h1 + h2 + h3 + h4) | 0
  out[0] = h1
  out[1] = (h2 + h1) | 0
  out[2] = (h3 + h1) | 0
  out[3] = (h4 + h1) | 0
}

/** Checksums are sums of 128-bit row hashes modulo this. */
export const COPY_DIGEST_MODULUS = 1n << 128n

/** Lanes are summed as plain numbers and carried this often, before any could pass 2^53. */
const CARRY_EVERY = 1 << 20

/** The count of rows and the sum of their 128-bit hashes, mod 2^128. */
export class RowDigest {
  rows = 0
  /** Four 32-bit lanes, low first, each a sum of up to CARRY_EVERY words. */
  private readonly lanes = [0, 0, 0, 0]
  private sinceCarry = 0
  private readonly words = new Uint32Array(4)
  /** A DataView of the buffer last hashed: rows come many to a buffer. */
  private viewed?: Buffer
  private view: DataView = new DataView(new ArrayBuffer(0))

  /** Adds the row data[start, end) (its newline left out). */
  add(data: Buffer, start: number, end: number): void {
    if (data !== this.viewed) {
      this.viewed = data
      this.view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    }
    murmur128(data, this.view, start, end, this.words)
    for (let i = 0; i < 4; i++) this.lanes[i] += this.words[i]
    this.rows++
    if (++this.sinceCarry >= CARRY_EVERY) this.carry()
  }

  /** Adds another digest's rows (a block range of the same table). */
  merge(other: RowDigest): void {
    other.carry()
    for (let i = 0; i < 4; i++) this.lanes[i] += other.lanes[i]
    this.rows += other.rows
    this.carry()
  }

  /** The sum as a decimal string, as TableFingerprint.checksum holds it. */
  checksum(): string {
    this.carry()
    const [a, b, c, d] = this.lanes.map(BigInt)
    return (a + (b << 32n) + (c << 64n) + (d << 96n)).toString()
  }

  private carry(): void {
    for (let i = 0; i < 3; i++) {
      const over = Math.floor(this.lanes[i] / 0x100000000)
      this.lanes[i] -= over * 0x100000000
      this.lanes[i + 1] += over
    }
    this.lanes[3] %= 0x100000000
    this.sinceCarry = 0
  }
}

/**
 * Splits COPY text into rows and hashes them (COPY's text format ends every row with a newline; one
 * inside a value is written \n). The text comes in stretches cut anywhere: a row cut between two is
 * held until its end comes, and `heldBytes` says how much. `countOnly`: rows are counted, not
 * hashed (verify: counts).
 */
export class CopyTextDigest {
  readonly digest = new RowDigest()
  heldBytes = 0
  private carried: Buffer[] = []

  constructor(private readonly countOnly = false) {}

  /** Hashes the rows that bytes [start, end) of `data` end, and holds the start of the row they leave open. */
  add(data: Buffer, start = 0, end = data.length): void {
    let newline = nextNewline(data, start, end)
    if (newline >= 0 && this.carried.length > 0) {
      const row = Buffer.concat([...this.carried, data.subarray(start, newline)])
      this.addRow(row, 0, row.length)
      this.carried = []
      this.heldBytes = 0
      start = newline + 1
      newline = nextNewline(data, start, end)
    }
    while (newline >= 0) {
      this.addRow(data, start, newline)
      start = newline + 1
      newline = nextNewline(data, start, end)
    }
    if (start < end) {
      // A copy: `data` is not this digest's to keep.
      this.carried.push(Buffer.from(data.subarray(start, end)))
      this.heldBytes += end - start
    }
  }

  /** COPY ends every row with a newline: text left over means the data was cut short. */
  end(): void {
    if (this.heldBytes > 0) throw new Error('the COPY data ended inside a row')
  }

  private addRow(data: Buffer, start: number, end: number): void {
    if (this.countOnly) this.digest.rows++
    else this.digest.add(data, start, end)
  }
}

function nextNewline(data: Buffer, start: number, end: number): number {
  if (start >= end) return -1
  const at = data.indexOf(10, start)
  return at < end ? at : -1
}

/** Blocks [from, to) of a table; `to` undefined: to its end, whatever it has grown to. */
export interface BlockRange {
  from: number
  to?: number
}

/** A WHERE clause for a block range: the server (14+) scans only those blocks (TID range scan). */
export function blockRangeWhere(alias: string, range?: BlockRange): string {
  if (!range) return ''
  const upper =
    range.to === undefined ? '' : ` AND ${alias}.ctid OPERATOR(pg_catalog.<) '(${range.to},0)'::pg_catalog.tid`
  return ` WHERE ${alias}.ctid OPERATOR(pg_catalog.>=) '(${range.from},0)'::pg_catalog.tid${upper}`
}

/**
 * The one statement both sides are read with, so their text can only differ where their rows do:
 * the columns in order of their names (quoted here from catalog names), ONLY the table itself.
 */
export function copyOutStatement(
  table: { schema: string; name: string; columns: readonly string[] },
  range?: BlockRange
): string {
  const columns = table.columns.map((column) => `r.${quoteIdent(column)}`).join(', ')
  return `COPY (SELECT ${columns} FROM ONLY ${qualifiedName(table.schema, table.name)} AS r${blockRangeWhere('r', range)}) TO STDOUT`
}
