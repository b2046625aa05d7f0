// Rows for a loaded application schema, generated from the catalog: tables in foreign-key order,
// each column's value by its type (apps-values.js), foreign keys taken from rows their table already
// has, rows a constraint or trigger rejects skipped. Seeded, so every run inserts the same rows.
import { columnValue, seededRandom } from './apps-values.js'
import { ident } from './regress.js'

const BATCH = 50

const TABLES = `
  SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   ORDER BY 2`

const COLUMNS = `
  SELECT a.attrelid AS rel, a.attnum, a.attname, a.attnotnull, a.atttypmod,
         COALESCE(NULLIF(a.attidentity, ''), NULLIF(a.attgenerated, '')) AS automatic,
         pg_get_expr(d.adbin, d.adrelid) AS default_expr,
         format_type(a.atttypid, NULL) AS cast_type,
         COALESCE(NULLIF(base.typelem, 0), base.oid) <> base.oid AS is_array,
         elem.typname AS type, elem.typcategory AS category,
         (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = elem.oid) AS enum_labels
    FROM pg_attribute a
    JOIN pg_type t ON t.oid = a.atttypid
    JOIN pg_type base ON base.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
    JOIN pg_type elem ON elem.oid = CASE WHEN base.typcategory = 'A' THEN base.typelem ELSE base.oid END
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
   ORDER BY a.attrelid, a.attnum`

// A partition's own foreign keys (not inherited from its parent) bind the rows inserted through the
// parent too: they are listed under the parent, by its column numbers.
const CONSTRAINTS = `
  SELECT c.conrelid AS rel, c.contype, c.conkey, c.confrelid, c.confkey, pg_get_constraintdef(c.oid) AS def
    FROM pg_constraint c WHERE c.conrelid = ANY($1) AND c.contype IN ('f', 'u', 'p', 'c')
  UNION ALL
  SELECT a.attrelid, 'c', ARRAY[a.attnum], 0, NULL, pg_get_constraintdef(c.oid)
    FROM pg_attribute a JOIN pg_constraint c ON c.contypid = a.atttypid
   WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND c.contype = 'c'
  UNION ALL
  SELECT pg_partition_root(c.conrelid), 'f',
         ARRAY(SELECT pa.attnum FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                 JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.n
                 JOIN pg_attribute pa ON pa.attrelid = pg_partition_root(c.conrelid) AND pa.attname = ca.attname
                ORDER BY k.i),
         c.confrelid, c.confkey, pg_get_constraintdef(c.oid)
    FROM pg_constraint c JOIN pg_class p ON p.oid = c.conrelid
   WHERE p.relispartition AND c.contype = 'f' AND c.conparentid = 0 AND pg_partition_root(c.conrelid) = ANY($1)`

/**
 * Fills every table of the database with up to rowsPerTable rows.
 * @param {import('pg').Client} client @param {{ rowsPerTable: number, seed: string }} options
 * @returns {Promise<{ tables: number, rows: number, emptyTables: string[] }>}
 */
export async function fillRows(client, { rowsPerTable, seed }) {
  const tables = await describeTables(client)
  let rows = 0
  const emptyTables = []
  for (const table of foreignKeyOrder(tables)) {
    const inserted = await fillTable(client, table, tables, rowsPerTable, seededRandom(`${seed}/${table.name}`))
    rows += inserted
    if (inserted === 0) emptyTables.push(`${table.name}: ${table.firstError ?? 'no row'}`)
  }
  return { tables: tables.size, rows, emptyTables }
}

/** Every table with its columns, foreign keys, unique columns and the literals its CHECKs list. */
async function describeTables(client) {
  const { rows: tableRows } = await client.query(TABLES)
  const oids = tableRows.map((row) => row.oid)
  /** @type {Map<number, any>} */
  const tables = new Map(tableRows.map((row) => [row.oid, { ...row, columns: [], foreignKeys: [] }]))
  for (const row of (await client.query(COLUMNS, [oids])).rows) {
    tables.get(row.rel).columns.push({
      attnum: row.attnum,
      name: row.attname,
      type: row.type,
      category: row.category,
      typmod: row.atttypmod,
      castType: row.cast_type,
      notNull: row.attnotnull,
      isArray: row.is_array,
      enumLabels: row.enum_labels,
      automatic: Boolean(row.automatic) || /^nextval\(/.test(row.default_expr ?? ''),
      // A constant default only (now() or random() would make two runs differ).
      hasDefault: row.default_expr !== null && !row.default_expr.includes('('),
      candidates: [],
      unique: false
    })
  }
  for (const row of (await client.query(CONSTRAINTS, [oids])).rows) {
    const table = tables.get(row.rel)
    const columns = row.conkey.map((n) => table.columns.find((c) => c.attnum === n))
    if (row.contype === 'f') table.foreignKeys.push({ columns, refTable: row.confrelid, refAttnums: row.confkey })
    else if (row.contype === 'c') {
      if (columns.length === 1) {
        columns[0].candidates.push(...checkLiterals(row.def))
        Object.assign(columns[0], checkRange(row.def, columns[0]))
      }
      // A digest kept as bytea: CHECK (length(checksum) = 20).
      for (const m of row.def.matchAll(/\b(?:octet_)?length\(\(?"?(\w+)"?\)?\) = (\d+)/g)) {
        const column = table.columns.find((c) => c.name === m[1] && c.type === 'bytea')
        if (column) column.byteLength = Number(m[2])
      }
    } else if (row.contype !== 'c' && columns.length === 1) columns[0].unique = true
    else if (row.contype !== 'c') for (const column of columns) column.unique ||= column.type !== 'bool'
  }
  return tables
}

/** The literals a CHECK lists for its column: `IN ('a', 'b')`, `= ANY (ARRAY[…])`, `= 'a' OR …`. */
function checkLiterals(definition) {
  // Only a comparison of the column itself (no function of it, no range): octet_length(uuid) = 16 lists no value.
  if (
    !/ANY|IN \(|=/.test(definition) ||
    /[<>]/.test(definition) ||
    /\b(?!ANY\b|ARRAY\b|CHECK\b)\w+\s*\(/i.test(definition)
  )
    return []
  const quoted = [...definition.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1].replaceAll("''", "'"))
  if (quoted.length) return quoted
  return [...definition.matchAll(/(?<![\w.$])(-?\d+(?:\.\d+)?)(?![\w.])/g)].map((m) => m[1])
}

/** The bounds a CHECK puts on a number: `VALUE >= 0 AND VALUE < 65536`, `n > 0`. */
function checkRange(definition, column) {
  const low = /(>=?)\s*\(?(-?\d+)/.exec(definition)
  const high = /(<=?)\s*\(?(-?\d+)/.exec(definition)
  const range = {}
  if (low) range.min = Math.max(column.min ?? -Infinity, Number(low[2]) + (low[1] === '>' ? 1 : 0))
  if (high) range.max = Math.min(column.max ?? Infinity, Number(high[2]) - (high[1] === '<' ? 1 : 0))
  return range
}

/** Referenced tables first; a cycle is broken where it closes (its keys then take NULL or fail). */
function foreignKeyOrder(tables) {
  const ordered = []
  const state = new Map()
  const visit = (oid) => {
    if (state.get(oid)) return
    state.set(oid, 'visiting')
    for (const fk of tables.get(oid).foreignKeys) if (tables.has(fk.refTable) && fk.refTable !== oid) visit(fk.refTable)
    state.set(oid, 'done')
    ordered.push(tables.get(oid))
  }
  for (const oid of tables.keys()) visit(oid)
  return ordered
}

/** Rows of one table, inserted in batches. */
async function fillTable(client, table, tables, rowsPerTable, random) {
  const columns = table.columns.filter((c) => !c.automatic)
  if (columns.length === 0) return insertDefaults(client, table, rowsPerTable)
  let inserted = 0
  for (let start = 0; start < rowsPerTable; start += BATCH) {
    const references = await referencedRows(client, table, tables)
    const rows = []
    for (let row = start; row < Math.min(start + BATCH, rowsPerTable); row++)
      rows.push(rowValues(table, columns, references, row, random))
    inserted += await insertRows(client, table, columns, rows)
  }
  return inserted
}

/** One row: a referenced row's key for each foreign key, a value by type for the rest (or DEFAULT, or NULL). */
function rowValues(table, columns, references, row, random) {
  /** @type {Map<any, unknown>} */
  const values = new Map()
  for (const [index, fk] of table.foreignKeys.entries()) {
    const candidates = references[index]
    const nullable = fk.columns.every((c) => !c.notNull)
    const chosen =
      candidates.length && !(nullable && random() < 0.15) ? candidates[Math.floor(random() * candidates.length)] : null
    fk.columns.forEach((column, i) => values.set(column, chosen ? chosen[i] : null))
  }
  return columns.map((column) => {
    if (values.has(column)) return { value: values.get(column) }
    if (column.hasDefault && random() < 0.3) return { default: true }
    if (!column.notNull && !column.unique && random() < 0.1) return { value: null }
    return { value: columnValue(column, row, random) }
  })
}

/** For each foreign key, the keys its referenced table has (a sample, in a stable order). */
async function referencedRows(client, table, tables) {
  const lists = []
  for (const fk of table.foreignKeys) {
    const refTable = tables.get(fk.refTable)
    if (!refTable) {
      lists.push([])
      continue
    }
    const names = fk.refAttnums.map((n) => ident(refTable.columns.find((c) => c.attnum === n).name))
    const { rows } = await client.query({
      text: `SELECT DISTINCT ${names.join(', ')} FROM ${refTable.name} WHERE ${names.map((n) => `${n} IS NOT NULL`).join(' AND ')} ORDER BY ${names.map((_, i) => i + 1).join(', ')} LIMIT 500`,
      rowMode: 'array'
    })
    lists.push(rows)
  }
  return lists
}

async function insertRows(client, table, columns, rows) {
  const statement = (batch) => {
    const params = []
    const tuples = batch.map(
      (row) =>
        `(${row
          .map((cell, i) => {
            if (cell.default) return 'DEFAULT'
            params.push(cell.value)
            return `$${params.length}::${columns[i].castType}`
          })
          .join(', ')})`
    )
    return {
      text: `INSERT INTO ${table.name} (${columns.map((c) => ident(c.name)).join(', ')}) VALUES ${tuples.join(', ')}`,
      values: params
    }
  }
  // A batch the schema rejects is halved until the rows it rejects are alone, and those are skipped:
  // the corpus wants valid rows only (a CHECK, a unique key or a trigger decides).
  const insert = async (batch) => {
    try {
      await client.query(statement(batch))
      return batch.length
    } catch (error) {
      if (batch.length === 1) {
        table.firstError ??= /** @type {Error} */ (error).message
        return 0
      }
      const half = Math.ceil(batch.length / 2)
      return (await insert(batch.slice(0, half))) + (await insert(batch.slice(half)))
    }
  }
  return insert(rows)
}

async function insertDefaults(client, table, rowsPerTable) {
  let inserted = 0
  for (let row = 0; row < rowsPerTable; row++) {
    try {
      await client.query(`INSERT INTO ${table.name} DEFAULT VALUES`)
      inserted++
    } catch {
      break
    }
  }
  return inserted
}
