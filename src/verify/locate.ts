import type pg from 'pg'
import type { Connect, TableFingerprint } from './fingerprint/index.js'
import { withSession } from './fingerprint/session.js'
import { columnsByName, qualifiedName, quoteIdent, rowHash } from './fingerprint/sql.js'

export interface LocateOptions {
  /** The source's exported snapshot, as for its fingerprint. */
  snapshot?: string
  /** How many keys to return at most. Default 5. */
  limit?: number
  /** Ranges with at most this many rows on each side are compared row by row. Default 1000. */
  leafRows?: number
}

/** A key range: from `low` (inclusive) to `high` (exclusive); undefined is open. Values are key text. */
interface Range {
  low?: string[]
  high?: string[]
}

interface Summary {
  rows: bigint
  sum: bigint
}

/**
 * A few primary keys of rows that differ between the two sides of a table whose checksums differ:
 * rows missing on one side or holding other values. Bisects the key order (the data-diff way):
 * count and checksum a key range on both sides, split ranges that differ at the median key, until
 * ranges are small enough to compare row by row. Tables without a primary key give [].
 */
export async function locateDifferingRows(
  source: Connect,
  target: Connect,
  table: TableFingerprint,
  options: LocateOptions = {}
): Promise<string[]> {
  if (table.primaryKey.length === 0) return []
  const limit = options.limit ?? 5
  // At least one, or a one-row range would split into itself.
  const leafRows = BigInt(Math.max(1, options.leafRows ?? 1000))
  return withSession(source, { snapshot: options.snapshot }, (sourceClient) =>
    withSession(target, {}, async (targetClient) => {
      const [sourceSide, targetSide] = await Promise.all([
        describeSide(sourceClient, table),
        describeSide(targetClient, table)
      ])
      const found: string[] = []
      const search = async (range: Range, atSource: Summary, atTarget: Summary): Promise<void> => {
        if (found.length >= limit || (atSource.rows === atTarget.rows && atSource.sum === atTarget.sum)) return
        if (atSource.rows <= leafRows && atTarget.rows <= leafRows) {
          const keys = await differingKeys(sourceSide, targetSide, range)
          found.push(...keys.slice(0, limit - found.length))
          return
        }
        // Split where the bigger side has half its rows: each step halves that side.
        const [larger, rows] =
          atSource.rows >= atTarget.rows ? [sourceSide, atSource.rows] : [targetSide, atTarget.rows]
        const middle = await larger.keyAt(range, rows / 2n)
        const left: Range = { low: range.low, high: middle }
        const right: Range = { low: middle, high: range.high }
        const [leftAtSource, leftAtTarget] = await Promise.all([sourceSide.summarise(left), targetSide.summarise(left)])
        await search(left, leftAtSource, leftAtTarget)
        // Counts and sums add up, so the right half needs no query of its own.
        await search(right, subtract(atSource, leftAtSource), subtract(atTarget, leftAtTarget))
      }
      const whole: Range = {}
      const [atSource, atTarget] = await Promise.all([sourceSide.summarise(whole), targetSide.summarise(whole)])
      await search(whole, atSource, atTarget)
      return found
    })
  )
}

function subtract(a: Summary, b: Summary): Summary {
  return { rows: a.rows - b.rows, sum: a.sum - b.sum }
}

interface Side {
  summarise(range: Range): Promise<Summary>
  keyAt(range: Range, offset: bigint): Promise<string[]>
  rowsIn(range: Range): Promise<Map<string, string>>
}

/**
 * Queries over one side's copy of the table. Text key columns are ordered with COLLATE "C": the two
 * servers may sort text differently (another libc, another ICU), and both must cut ranges alike.
 * Key values travel as text and are cast back to the column's type on each side.
 */
async function describeSide(client: pg.Client, table: TableFingerprint): Promise<Side> {
  const relation = qualifiedName(table.schema, table.name)
  const { rows: columns } = await client.query<{ name: string; type: string; collatable: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attcollation <> 0 AS collatable
     FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
    [relation]
  )
  const byName = new Map(columns.map((column) => [column.name, column]))
  // Rows hash over their columns in order of name, as the fingerprint's checksums do: a column
  // order that differs between the sides changes no row's hash.
  const rowHashSql = rowHash('r', columnsByName(columns.map((column) => column.name)))
  const key = table.primaryKey.map((name) => {
    const column = byName.get(name)
    if (!column) throw new Error(`${relation} has no column ${name}`)
    return column
  })
  const ordered = key.map((column) => `r.${quoteIdent(column.name)}${column.collatable ? ' COLLATE "C"' : ''}`)
  const tuple = ordered.length === 1 ? ordered[0] : `ROW(${ordered.join(', ')})`
  const keyText = `ARRAY[${key.map((column) => `r.${quoteIdent(column.name)}::text`).join(', ')}]`
  const orderBy = ordered.join(', ')
  const where = rangeFilter(
    tuple,
    key.map((column) => column.type)
  )

  return {
    async summarise(range) {
      const { sql, values } = where(range)
      const { rows } = await client.query<{ rows: string; sum: string }>(
        `SELECT count(*)::text AS rows, coalesce(sum(${rowHashSql}), 0)::text AS sum FROM ONLY ${relation} AS r ${sql}`,
        values
      )
      return { rows: BigInt(rows[0].rows), sum: BigInt(rows[0].sum) }
    },
    async keyAt(range, offset) {
      const { sql, values } = where(range)
      const { rows } = await client.query<{ key: string[] }>(
        `SELECT ${keyText} AS key FROM ONLY ${relation} AS r ${sql} ORDER BY ${orderBy} OFFSET ${offset} LIMIT 1`,
        values
      )
      return rows[0].key
    },
    async rowsIn(range) {
      const { sql, values } = where(range)
      const { rows } = await client.query<{ key: string[]; hash: string }>(
        `SELECT ${keyText} AS key, ${rowHashSql}::text AS hash FROM ONLY ${relation} AS r ${sql} ORDER BY ${orderBy}`,
        values
      )
      return new Map(rows.map((row) => [showKey(row.key), row.hash]))
    }
  }
}

/**
 * SQL: the WHERE clause of a key range, compared as `tuple` (the ordered key) is, with its bounds
 * as parameters cast to the key columns' types.
 */
function rangeFilter(tuple: string, keyTypes: string[]): (range: Range) => { sql: string; values: string[] } {
  return (range) => {
    const values: string[] = []
    const bound = (operator: string, keyValues: string[]): string => {
      const placeholders = keyValues.map((value, index) => {
        values.push(value)
        return `$${values.length}::${keyTypes[index]}`
      })
      return `${tuple} ${operator} ${placeholders.length === 1 ? placeholders[0] : `ROW(${placeholders.join(', ')})`}`
    }
    const conditions = [range.low && bound('>=', range.low), range.high && bound('<', range.high)].filter(Boolean)
    return { sql: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', values }
  }
}

/** Keys in the range that the target lacks or holds other values for, then keys only the target has. */
async function differingKeys(source: Side, target: Side, range: Range): Promise<string[]> {
  const [atSource, atTarget] = await Promise.all([source.rowsIn(range), target.rowsIn(range)])
  const differing = [...atSource].filter(([key, hash]) => atTarget.get(key) !== hash).map(([key]) => key)
  const extra = [...atTarget.keys()].filter((key) => !atSource.has(key))
  return [...differing, ...extra]
}

/** One key column as its value; several as a row, `(17, 2024-06-01 00:00:00+00)`. */
function showKey(values: string[]): string {
  return values.length === 1 ? values[0] : `(${values.join(', ')})`
}
