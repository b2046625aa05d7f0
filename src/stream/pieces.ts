// The stream's record of committed pieces on the target, and what a resumed stream does with it: the
// pieces an earlier run committed stay, tables whose pieces this run plans otherwise are emptied, and
// only the schema and post-data entries whose objects the target lacks are restored.
import type pg from 'pg'
import type { Log } from '../base/log.js'
import { count } from '../base/text.js'
import { addressKey, attachedRelations, clearForReload, existingObjects, relationKey } from '../pg/loaded-objects.js'
import { quoteIdent, RUN_SCHEMA } from '../pg/sql.js'
import { parseTocLine, tocObjects, type TocObject } from '../tools/toc.js'
import { pieceTable, type Piece } from './engine.js'

/** Where each committed piece is recorded, beside the run's mark: the verify does not compare that schema. */
export const PIECES_TABLE = `${quoteIdent(RUN_SCHEMA)}.piece`

/**
 * Readies the record in the target database (the run's mark made the schema). A fresh copy starts
 * it empty; a resumed one keeps it. The writer (the restore role) records in it as it loads.
 */
export async function preparePieceRecord(db: pg.Client, options: { fresh: boolean; writer?: string }): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(RUN_SCHEMA)}`)
  if (options.fresh) await db.query(`DROP TABLE IF EXISTS ${PIECES_TABLE}`)
  await db.query(`CREATE TABLE IF NOT EXISTS ${PIECES_TABLE} (piece text PRIMARY KEY)`)
  if (options.writer === undefined) return
  const role = quoteIdent(options.writer)
  await db.query(
    `GRANT USAGE ON SCHEMA ${quoteIdent(RUN_SCHEMA)} TO ${role}; GRANT SELECT, INSERT ON ${PIECES_TABLE} TO ${role}`
  )
}

export interface StreamResume {
  /** Keys of the pieces kept: committed by the earlier run and planned alike by this one. */
  kept: Set<string>
  /** The restore list's lines to run: what the target lacks, and what setting again changes nothing. */
  entries: Set<string>
  /** The objects restored because the target lacked them. */
  created: string[]
  /** Tables whose earlier pieces did not match this run's plan (the source changed size): emptied. */
  emptied: string[]
}

const LARGE_OBJECTS = /^(BLOB|BLOBS|BLOB METADATA|LARGE OBJECT|LARGE OBJECTS) /
const TABLE_DATA = /^TABLE DATA /
const MATERIALIZED_VIEW_DATA = /^MATERIALIZED VIEW DATA /

/**
 * What a resumed stream keeps and restores. `db` is a session of the target as the login; `source`
 * the snapshot's session, where the schema dump's entries are named (as a dump's manifest names them).
 */
export async function resumeStream(
  db: pg.Client,
  source: pg.Client,
  plan: { lines: string[]; pieces: Piece[] },
  log: Log
): Promise<StreamResume> {
  const { rows } = await db.query<{ piece: string }>(`SELECT piece FROM ${PIECES_TABLE}`)
  const planned = new Set(plan.pieces.map((piece) => piece.key))
  // A table keeps its pieces only if every one it recorded is planned alike now: otherwise its
  // size changed, its ranges moved, and rows of the old ranges would lie beside the new ones.
  const staleTables = new Map<string, [string, string]>()
  for (const { piece } of rows)
    if (!planned.has(piece)) staleTables.set(relationKey(...pieceTable(piece)), pieceTable(piece))
  const kept = new Set(
    rows.map((row) => row.piece).filter((piece) => !staleTables.has(relationKey(...pieceTable(piece))))
  )
  const toc = await tocObjects(source, plan.lines, log)
  // The schema dump's own rows (extensions' configuration) and large objects are loaded all again:
  // their tables are emptied first, so a run that had loaded them leaves no duplicate.
  const dataTables = plan.lines.flatMap((line) => {
    const entry = parseTocLine(line)
    const names = entry && TABLE_DATA.test(entry.rest) ? toc[entry.id]?.address?.names : undefined
    return names?.length === 2 ? [[names[0], names[1]] as [string, string]] : []
  })
  // A table none of whose pieces is kept is emptied too: a run by the dump (or an older version)
  // may have loaded it, and a range's COPY appends, where only a whole table's truncates first.
  const keptIn = new Set([...kept].map((piece) => relationKey(...pieceTable(piece))))
  const unkept = new Map<string, [string, string]>()
  for (const { table } of plan.pieces) {
    const key = relationKey(table.schema, table.name)
    if (!keptIn.has(key)) unkept.set(key, [table.schema, table.name])
  }
  const emptied = [...staleTables.values()]
  const others = [...unkept].filter(([key]) => !staleTables.has(key)).map(([, names]) => names)
  await clearForReload(db, [...emptied, ...others, ...dataTables], true, log)
  if (emptied.length > 0) {
    await db.query(`DELETE FROM ${PIECES_TABLE} WHERE piece <> ALL ($1::text[])`, [[...kept]])
    log.info(`resume: ${count(emptied.length, 'table')} changed size on the source since, emptied to stream again`)
  }
  const catalogs = new Set(Object.values(toc).flatMap((object) => (object.address ? [object.address.catalog] : [])))
  const existing = await existingObjects(db, catalogs, log)
  const attached = await attachedRelations(db)
  const { entries, created } = missingEntries(plan.lines, toc, existing, attached)
  return { kept, entries, created, emptied: emptied.map(([schema, name]) => `${schema}.${name}`) }
}

/** The entries whose objects the target lacks, and those that change nothing when run again. */
function missingEntries(
  lines: string[],
  toc: Record<string, TocObject>,
  existing: Set<string>,
  attached: Set<string>
): { entries: Set<string>; created: string[] } {
  const entries = new Set<string>()
  const created: string[] = []
  for (const line of lines) {
    const entry = parseTocLine(line)
    if (!entry) continue
    const object = toc[entry.id]
    let take: boolean
    if (LARGE_OBJECTS.test(entry.rest) || TABLE_DATA.test(entry.rest)) take = true
    // A refresh reads the rows as they are now: run again, it changes nothing wrong.
    else if (MATERIALIZED_VIEW_DATA.test(entry.rest)) take = true
    else if (object?.attach) {
      take = !attached.has(relationKey(object.attach.schema, object.attach.name))
      if (take) created.push(`attach ${object.attach.kind} ${object.attach.schema}.${object.attach.name}`)
    } else if (object?.address && entry.catalog !== 0) {
      take = !existing.has(addressKey(object.address))
      if (take) created.push(`${object.address.type} ${object.address.names.join('.')}`)
    }
    // Comments, grants, sequence values and ownership, row security: setting them again changes nothing.
    else take = entry.catalog === 0
    if (take) entries.add(line)
  }
  return { entries, created }
}
