import pg from 'pg'
import { PINNED_SETTINGS, type Connect, type Fingerprint, type SchemaObject } from './fingerprint/index.js'
import { normaliseDefinition } from './fingerprint/normalise.js'
import type { ReparseVerdict } from './differences.js'

// A restore is the target parsing what the source printed. So where the two printings of an
// object differ, the target is asked to parse the source's printed pieces once more, in scratch
// objects (a temporary table, view or domain) inside a transaction it rolls back, and to print
// them: that text is what a faithful restore holds, by construction. Nothing is written on the
// source. The target is written only in pg_temp, and never committed.

/**
 * Printers known to lose what they print: their text parses into something else than the source
 * held, and a restore of it cannot be faithful. 12 prints an XMLNAMESPACES name without its
 * quotes, so `"Zz"` comes back as `zz`.
 */
const LOSSY_PRINTING: ReadonlyArray<{ pattern: RegExp; why: string }> = [
  {
    pattern: /XMLNAMESPACES\s*\((?:'(?:[^']|'')*'|[^)'])*\bAS\s+[a-z_0-9$]*[A-Z]/,
    why: 'the source prints an XMLNAMESPACES name that needs quotes without them'
  }
]

const key = (object: SchemaObject): string => `${object.kind} ${object.name}`

/**
 * For every object printed differently on the two sides, whether the target parses the source's
 * printed pieces into the target's own. One session on the target, one transaction rolled back at
 * the end, a savepoint per object.
 */
export async function reparseDefinitions(
  connectTarget: Connect,
  source: Fingerprint,
  target: Fingerprint
): Promise<Map<string, ReparseVerdict>> {
  const targets = new Map(target.inventory.map((object) => [key(object), object]))
  const pairs = source.inventory.flatMap((wanted) => {
    const found = targets.get(key(wanted))
    if (!found || found.definition === wanted.definition || !wanted.printed || !found.printed) return []
    const { printed: w } = wanted
    const { printed: f } = found
    // What lies outside the pieces differs too: no parse can make them one.
    if (w.skeleton !== f.skeleton || w.pieces.length !== f.pieces.length) return []
    return [{ wanted, found }]
  })
  const verdicts = new Map<string, ReparseVerdict>()
  if (pairs.length === 0) return verdicts
  let client: pg.Client | undefined
  try {
    client = await openScratchSession(connectTarget)
    for (const { wanted, found } of pairs) verdicts.set(key(wanted), await reparseOne(client, wanted, found))
  } catch (error) {
    const reason = `the target refused a scratch transaction: ${(error as Error).message}`
    for (const { wanted } of pairs)
      if (!verdicts.has(key(wanted))) verdicts.set(key(wanted), { outcome: 'unchecked', reason })
  } finally {
    await client?.query('ROLLBACK').catch(() => undefined)
    await client?.end().catch(() => undefined)
  }
  return verdicts
}

/** The fingerprint's settings, so the target prints as it did for its own fingerprint; writable, in one transaction. */
async function openScratchSession(connect: Connect): Promise<pg.Client> {
  const client = await connect()
  client.on('error', () => undefined)
  try {
    const settings = PINNED_SETTINGS.map(([name, value]) => `SET ${name} = ${pg.escapeLiteral(value)};`).join(' ')
    // A scratch table reads its model's columns (ACCESS SHARE): wait a little, never long.
    await client.query(`${settings} SET default_transaction_read_only = off; SET lock_timeout = '5s'; BEGIN READ WRITE`)
  } catch (error) {
    await client.end().catch(() => undefined)
    throw error
  }
  return client
}

async function reparseOne(client: pg.Client, wanted: SchemaObject, found: SchemaObject): Promise<ReparseVerdict> {
  const theirs = wanted.printed?.pieces ?? []
  const ours = found.printed?.pieces ?? []
  await client.query('SAVEPOINT pgm_reparse')
  try {
    const reparsed = await printAgain(client, wanted, found)
    if (!reparsed) return { outcome: 'unchecked', reason: `no scratch object for a ${wanted.kind}` }
    const expected = comparablePieces(wanted.kind, ours, found)
    const differs = reparsed.findIndex((text, index) => text !== expected[index])
    if (differs >= 0) return { outcome: 'different', reparsed: reparsed[differs] }
    const lossy = LOSSY_PRINTING.find(({ pattern }) => theirs.some((piece) => pattern.test(piece)))
    const printedAlike = theirs.every(
      (piece, index) => normaliseDefinition(piece, wanted.kind) === normaliseDefinition(ours[index], wanted.kind)
    )
    return lossy && !printedAlike ? { outcome: 'same', lossy: lossy.why } : { outcome: 'same' }
  } catch (error) {
    return { outcome: 'unchecked', reason: `the target cannot parse the source's text: ${(error as Error).message}` }
  } finally {
    await client.query('ROLLBACK TO SAVEPOINT pgm_reparse')
  }
}

/** Runs one statement with the extended protocol: a printed text can only ever be one statement. */
async function run(client: pg.Client, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  return client.query({ text, values, queryMode: 'extended' } as pg.QueryConfig)
}

const SCRATCH = 'pg_temp.pgm_reparse'

/** An index's text after its name and table (`CREATE INDEX i ON s.t USING btree (a)` → `btree (a)`). */
function indexBody(text: string, relation: string): string | undefined {
  for (const on of [` ON ONLY ${relation} USING `, ` ON ${relation} USING `]) {
    const at = text.indexOf(on)
    if (at >= 0) return text.slice(at + on.length)
  }
  return undefined
}

/** The target's own pieces, as printAgain returns them (an index without its name and table). */
function comparablePieces(kind: string, pieces: string[], found: SchemaObject): (string | undefined)[] {
  return kind === 'index' ? [indexBody(pieces[0], found.printed?.context[0] ?? '')] : pieces
}

/**
 * The source's pieces of `wanted`, made by the target into scratch objects shaped like `found`
 * (its table's columns, its domain's base type), and printed by the target. Undefined for kinds
 * with no scratch form.
 */
async function printAgain(client: pg.Client, wanted: SchemaObject, found: SchemaObject): Promise<string[] | undefined> {
  const pieces = wanted.printed?.pieces ?? []
  const context = found.printed?.context ?? []
  const likeTable = (): Promise<pg.QueryResult> => run(client, `CREATE TEMP TABLE pgm_reparse (LIKE ${context[0]})`)
  const first = async (text: string, values: unknown[] = []): Promise<string> =>
    (await run(client, text, values)).rows.map((row: Record<string, string>) => Object.values(row)[0])[0] ?? ''
  switch (wanted.kind) {
    case 'view':
    case 'materialized-view':
      await run(client, `CREATE TEMP VIEW pgm_reparse AS ${pieces[0].replace(/;\s*$/, '')}`)
      return [await first(`SELECT pg_get_viewdef('${SCRATCH}'::regclass)`)]
    case 'constraint':
      await likeTable()
      await run(client, `ALTER TABLE ${SCRATCH} ADD CONSTRAINT pgm_reparse ${pieces[0]}`)
      return [
        await first(
          `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '${SCRATCH}'::regclass AND conname = 'pgm_reparse'`
        )
      ]
    case 'column':
      return [await reparseColumnExpression(client, pieces[0], context, likeTable, first)]
    case 'index': {
      const body = indexBody(pieces[0], wanted.printed?.context[0] ?? '')
      if (body === undefined) return undefined
      await likeTable()
      const unique = context[1] === 'unique' ? 'UNIQUE ' : ''
      await run(client, `CREATE ${unique}INDEX pgm_reparse_index ON ${SCRATCH} USING ${body}`)
      const text = await first(`SELECT pg_get_indexdef('pg_temp.pgm_reparse_index'::regclass)`)
      return [text.slice(text.indexOf(' USING ') + ' USING '.length)]
    }
    case 'policy':
      return reparsePolicy(client, pieces, context, likeTable)
    case 'type':
      return reparseDomain(client, pieces, context)
    default:
      return undefined
  }
}

async function reparseColumnExpression(
  client: pg.Client,
  expression: string,
  context: string[],
  likeTable: () => Promise<pg.QueryResult>,
  first: (text: string, values?: unknown[]) => Promise<string>
): Promise<string> {
  const [, column, type, generated] = context
  await likeTable()
  if (generated === 's' || generated === 'v') {
    const kind = generated === 's' ? 'STORED' : 'VIRTUAL'
    await run(
      client,
      `ALTER TABLE ${SCRATCH} DROP COLUMN ${column}, ADD COLUMN ${column} ${type} GENERATED ALWAYS AS (${expression}) ${kind}`
    )
  } else {
    await run(client, `ALTER TABLE ${SCRATCH} ALTER COLUMN ${column} SET DEFAULT ${expression}`)
  }
  return first(
    `SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
     JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
     WHERE d.adrelid = '${SCRATCH}'::regclass AND quote_ident(a.attname) = $1`,
    [column]
  )
}

async function reparsePolicy(
  client: pg.Client,
  pieces: string[],
  context: string[],
  likeTable: () => Promise<pg.QueryResult>
): Promise<string[]> {
  const [, hasUsing, hasCheck] = context
  const using = hasUsing === 'true' ? ` USING (${pieces[0]})` : ''
  const check = hasCheck === 'true' ? ` WITH CHECK (${pieces[pieces.length - 1]})` : ''
  await likeTable()
  await run(client, `CREATE POLICY pgm_reparse ON ${SCRATCH}${using}${check}`)
  const { rows } = await run(
    client,
    `SELECT pg_get_expr(polqual, polrelid) AS using, pg_get_expr(polwithcheck, polrelid) AS check
     FROM pg_policy WHERE polrelid = '${SCRATCH}'::regclass`
  )
  const row = rows[0] as { using: string | null; check: string | null }
  return [row.using, row.check].filter((text): text is string => text !== null)
}

async function reparseDomain(client: pg.Client, pieces: string[], context: string[]): Promise<string[]> {
  const [base, hasDefault] = context
  await run(client, `CREATE DOMAIN ${SCRATCH} AS ${base}`)
  const checks = hasDefault === 'true' ? pieces.slice(1) : pieces
  if (hasDefault === 'true') await run(client, `ALTER DOMAIN ${SCRATCH} SET DEFAULT ${pieces[0]}`)
  // Named so that their order by name is the order of the source's (pieces are in name order).
  for (const [index, check] of checks.entries()) {
    await run(client, `ALTER DOMAIN ${SCRATCH} ADD CONSTRAINT pgm_reparse_${String(index).padStart(6, '0')} ${check}`)
  }
  const { rows } = await run(
    client,
    `SELECT pg_get_expr(t.typdefaultbin, 0) AS text, '' AS name FROM pg_type t
       WHERE t.oid = '${SCRATCH}'::regtype AND t.typdefaultbin IS NOT NULL
     UNION ALL SELECT pg_get_constraintdef(c.oid), c.conname::text FROM pg_constraint c
       WHERE c.contypid = '${SCRATCH}'::regtype AND c.contype = 'c'
     ORDER BY name`
  )
  return rows.map((row: { text: string }) => row.text)
}
