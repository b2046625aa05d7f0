// A value for one column of a generated row, chosen from the column's type, its length or precision,
// the labels of its enum and the literals its CHECK constraints list, from a seeded generator: the
// same manifest gives the same rows on every run.

/** A small seeded generator (mulberry32): deterministic, and good enough to spread values. */
export function seededRandom(seedText) {
  let seed = 0
  for (const char of seedText) seed = (Math.imul(seed, 31) + char.charCodeAt(0)) | 0
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const BASE_TIME = Date.UTC(2024, 0, 1)
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'north', 'south', 'river', 'stone', 'cloud']

/**
 * @typedef {{ name: string, type: string, category: string, typmod: number, enumLabels: string[] | null, isArray: boolean,
 *   candidates: string[], unique: boolean, byteLength?: number, min?: number, max?: number }} ColumnShape
 * `type` is the base type's name (a domain's base, an array's element), `candidates` the literals a
 * CHECK on this column alone lists (status IN ('new', 'paid')).
 */

/**
 * @param {ColumnShape} column @param {number} row the row's number in its table (unique values)
 * @param {() => number} random
 * @returns {unknown} a value node-postgres sends as text (arrays as arrays)
 */
export function columnValue(column, row, random) {
  const one = () => scalarValue(column, row, random)
  return column.isArray ? [one()] : one()
}

function pick(list, random) {
  return list[Math.floor(random() * list.length)]
}

/** @param {ColumnShape} column @param {number} row @param {() => number} random */
function scalarValue(column, row, random) {
  if (column.enumLabels?.length) return pick(column.enumLabels, random)
  if (column.candidates.length && (!column.unique || column.candidates.length > row))
    return column.unique ? column.candidates[row] : pick(column.candidates, random)
  // Within the bounds a CHECK sets, if any; unique columns count up from the low bound (else from 1).
  const int = (span) => {
    const low = column.min ?? 0
    const high = column.max ?? low + span - 1
    if (column.unique) return Math.min(low + row + (column.min === undefined ? 1 : 0), high)
    return low + Math.floor(random() * (high - low + 1))
  }
  switch (column.type) {
    case 'int2':
      return int(30000)
    case 'int4':
    case 'int8':
    case 'oid':
      return int(1_000_000)
    case 'numeric':
    case 'money':
      return numericValue(column, row, random)
    case 'float4':
    case 'float8':
      return column.unique ? row + 0.5 : Math.round(random() * 1e6) / 1000
    case 'bool':
      return random() < 0.5
    case 'date':
      return new Date(BASE_TIME + Math.floor(random() * 730) * 86_400_000).toISOString().slice(0, 10)
    case 'timestamp':
    case 'timestamptz':
      return new Date(BASE_TIME + Math.floor(random() * 730 * 86_400) * 1000).toISOString()
    case 'time':
    case 'timetz':
      return `${pad(Math.floor(random() * 24))}:${pad(Math.floor(random() * 60))}:${pad(Math.floor(random() * 60))}`
    case 'interval':
      return `${1 + Math.floor(random() * 5000)} minutes`
    default:
      return otherValue(column, row, random)
  }
}

/** @param {ColumnShape} column @param {number} row @param {() => number} random */
function otherValue(column, row, random) {
  const hex = (n) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('')
  switch (column.type) {
    case 'uuid':
      return `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`
    case 'json':
    case 'jsonb':
      return JSON.stringify({ row, word: pick(WORDS, random), n: Math.floor(random() * 100) })
    case 'bytea':
      return column.byteLength
        ? Buffer.from(hex(column.byteLength * 2), 'hex')
        : Buffer.from(hex(24) + row.toString(16).padStart(8, '0'), 'hex')
    case 'inet':
      return `10.${(row >> 8) & 255}.${row & 255}.${1 + Math.floor(random() * 250)}`
    case 'cidr':
      return `10.${(row >> 8) & 255}.${row & 255}.0/24`
    case 'macaddr':
      return Array.from({ length: 6 }, () => hex(2)).join(':')
    case 'bit':
    case 'varbit':
      return Array.from({ length: Math.max(1, column.typmod > 0 ? column.typmod : 8) }, () =>
        random() < 0.5 ? '0' : '1'
      ).join('')
    case 'tsvector':
      return `${pick(WORDS, random)} ${pick(WORDS, random)}`
    case 'tsquery':
      return pick(WORDS, random)
    case 'xml':
      return `<item n="${row}">${pick(WORDS, random)}</item>`
    case 'point':
      return `(${Math.floor(random() * 100)},${Math.floor(random() * 100)})`
    default:
      return textValue(column, row, random)
  }
}

/** Text that fits the column's length, unique by its row number when the column must be. */
function textValue(column, row, random) {
  // A type the generator does not know (a composite, an extension's): NULL, where the column allows it.
  if (column.category !== 'S') return null
  const limit = column.typmod > 4 ? column.typmod - 4 : 64
  const word = pick(WORDS, random)
  if (limit < 4) return column.unique ? row.toString(36).slice(-limit) : word.slice(0, limit)
  const text = column.unique ? `${word}-${row}` : `${word} ${Math.floor(random() * 10_000)}`
  return text.length <= limit ? text : column.unique ? `${row}`.slice(-limit) : text.slice(0, limit)
}

/** A numeric that fits numeric(p, s): at most p - s digits before the point, s after. */
function numericValue(column, row, random) {
  if (column.typmod < 4) return (column.unique ? row + 1 : Math.round(random() * 100_000) / 100).toString()
  const precision = ((column.typmod - 4) >> 16) & 0xffff
  const scale = (column.typmod - 4) & 0xffff
  const max = Math.min(10 ** Math.max(0, precision - scale) - 1, 100_000)
  const whole = column.unique ? (row + 1) % (max + 1) : Math.floor(random() * (max + 1))
  return scale > 0 ? `${whole}.${Math.floor(random() * 10 ** Math.min(scale, 6))}` : `${whole}`
}

function pad(n) {
  return String(n).padStart(2, '0')
}
