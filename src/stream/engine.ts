import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { quoteIdent } from '../pg/sql.js'
import { CopyTextDigest, RowDigest, copyOutStatement, type BlockRange } from '../verify/fingerprint/copy-digest.js'
import { CopyInMessages, CopyOutMessages } from '../verify/fingerprint/copy-messages.js'
import type { TableFingerprint, VerifyLevel } from '../verify/fingerprint/types.js'
import type { StreamedTable } from './tables.js'

/**
 * The streaming copy: each table's rows go from a COPY TO STDOUT on the source to a COPY FROM STDIN
 * on the target through the runner's memory only, over several pairs of sessions, big tables split
 * into block ranges across them (as pgcopydb's --split-tables-larger-than). Back-pressure runs end
 * to end: the target's socket drains the COPY FROM stream, which stops reading the source's COPY
 * stream, whose socket then stops reading, and the source waits. The rows are hashed as they are
 * read, where they lie in the source socket's buffers (copy-messages.ts).
 */

/** Bytes of COPY text the runner may hold per pair of sessions, by default. */
export const WINDOW_BYTES = 4 * 1024 * 1024

/** Tables at least this big are split into block ranges, by default (see planPieces). */
export const SPLIT_MIN_BYTES = 64 * 1024 * 1024

/**
 * The size of a split table's block ranges, by default: also what a resumed run may copy again per
 * pair, since a range commits whole or not at all. Smaller costs a transaction and a COPY statement
 * each (milliseconds); bigger loses more to a kill (half a range per pair, on average).
 */
export const PIECE_BYTES = 16 * 1024 * 1024

/** A table is never split below this size: a range per pair would cost more round trips than it saves. */
const MIN_SPLIT_SHARE_BYTES = 1024 * 1024

export interface StreamRequest {
  /** Opens a source session in the snapshot, with the settings the verify reads the target in. */
  openSource: () => Promise<pg.Client>
  /** Opens a target session ready to load (as the restore role, its settings pinned). */
  openTarget: () => Promise<pg.Client>
  /** Pairs of sessions; at least 1. */
  sessions: number
  tables: StreamedTable[]
  /** `full` hashes the rows in flight, `counts` counts them, `none` neither. */
  level: VerifyLevel | 'none'
  splitMinBytes?: number
  /** A split table's ranges hold about this much (default PIECE_BYTES), and at least one per pair. */
  pieceBytes?: number
  windowBytes?: number
  /**
   * Where each piece is recorded on the target, in the transaction of its COPY (qualified and
   * quoted): a recorded piece is exactly a committed one, which a resumed run keeps.
   */
  recordPiecesIn?: string
  /** Pieces (by key) a run that ended early committed: kept, not moved again. */
  kept?: ReadonlySet<string>
  /** Whole tables are loaded with COPY FREEZE (default true). */
  freeze?: boolean
  onTableDone?: (done: number, total: number, table: string) => void
  /** Said once per table split into ranges. */
  onSplit?: (table: string, ranges: number) => void
}

export interface StreamResult {
  /** The tables hashed in flight, as the source's fingerprint takes them. */
  fingerprints: TableFingerprint[]
  rows: number
  /** Bytes of COPY text moved. */
  bytes: number
  /** The most COPY text the runner held at once for one pair: its read buffer, the hashing stage, its write buffer. */
  peakHeldBytes: number
  /** The largest piece the source's socket handed over at once: what one read may add over the window. */
  largestPiece: number
  /** Pairs of sessions that moved at least one table or range. */
  sessions: number
  /** Pieces moved, and pieces kept from a run that ended early. */
  pieces: { moved: number; kept: number }
  /** Tables each of whose pieces was kept; and those of which some were kept, the rest moved. */
  keptTables: string[]
  partlyKeptTables: string[]
}

export interface Piece {
  table: StreamedTable
  range?: BlockRange
  /** Names the piece across runs: the table, and its block range (null: whole, or open at the end). */
  key: string
  progress: TableProgress
}

interface TableProgress {
  digest: RowDigest
  left: number
  /** Pieces kept from an earlier run: this run saw none of their rows, so it cannot fingerprint the table. */
  kept: number
}

/** The key a piece is recorded under: reproducible by a later run that plans the same source alike. */
export const pieceKey = (table: { schema: string; name: string }, range?: BlockRange): string =>
  JSON.stringify([table.schema, table.name, range?.from ?? null, range?.to ?? null])

/** The table a piece key names. */
export function pieceTable(key: string): [string, string] {
  const [schema, name] = JSON.parse(key) as [string, string]
  return [schema, name]
}

/**
 * One piece per table, or block ranges of a big one when the source can scan ranges (at least one
 * per pair, about `pieceBytes` each), largest table first. Pure: the same source planned alike
 * (sizes, pairs) gives the same keys, which is what lets a resumed run keep committed pieces. The
 * ranges of one table cover its blocks once each, so pieces kept from an earlier plan that this one
 * has too never overlap what it streams; a recorded range this plan lacks (the size changed) has the
 * whole table streamed again (stream/pieces.ts).
 */
export function planPieces(
  request: Pick<StreamRequest, 'sessions' | 'tables' | 'splitMinBytes' | 'pieceBytes'>
): Piece[] {
  const pairs = Math.max(1, request.sessions)
  const tables = [...request.tables].sort((a, b) => b.bytes - a.bytes)
  // A table that holds more than a pair's share of all the rows would leave the others idle at the
  // end however the rest is spread: it is split too, below the fixed size, down to 1 MiB.
  const share = tables.reduce((sum, table) => sum + table.bytes, 0) / pairs
  const splitMinBytes = request.splitMinBytes ?? Math.min(SPLIT_MIN_BYTES, Math.max(MIN_SPLIT_SHARE_BYTES, share))
  const pieceBytes = request.pieceBytes ?? PIECE_BYTES
  return tables.flatMap((table): Piece[] => {
    const blocks = Math.ceil(table.bytes / table.blockSize)
    const split = pairs > 1 && table.tidRanges && table.bytes >= splitMinBytes && blocks >= pairs
    const progress: TableProgress = { digest: new RowDigest(), left: 0, kept: 0 }
    if (!split) return [{ table, key: pieceKey(table), progress }]
    const ranges = Math.min(blocks, Math.max(pairs, Math.ceil(table.bytes / pieceBytes)))
    return Array.from({ length: ranges }, (_, i) => {
      // The last range is open: rows a HOT update moved past the end are in the snapshot's blocks anyway.
      const range = {
        from: Math.floor((i * blocks) / ranges),
        to: i === ranges - 1 ? undefined : Math.floor(((i + 1) * blocks) / ranges)
      }
      return { table, range, key: pieceKey(table, range), progress }
    })
  })
}

/** The pieces to move: those not kept. Counts each table's pieces left, and what was kept, in `result`. */
function piecesToMove(request: StreamRequest, result: StreamResult): Piece[] {
  const planned = planPieces(request)
  const kept = request.kept ?? new Set<string>()
  const moving = planned.filter((piece) => !kept.has(piece.key))
  for (const piece of planned) {
    if (kept.has(piece.key)) piece.progress.kept++
    else piece.progress.left++
  }
  const splits = new Map<StreamedTable, Piece[]>()
  for (const piece of planned) if (piece.range) splits.set(piece.table, [...(splits.get(piece.table) ?? []), piece])
  for (const [table, pieces] of splits) request.onSplit?.(table.display, pieces.length)
  const seen = new Set<TableProgress>()
  for (const { table, progress } of planned) {
    if (seen.has(progress)) continue
    seen.add(progress)
    if (progress.kept > 0 && progress.left === 0) result.keptTables.push(table.display)
    else if (progress.kept > 0) result.partlyKeptTables.push(table.display)
  }
  result.pieces.kept = planned.length - moving.length
  return moving
}

/** Streams every table over `sessions` pairs; each pair takes the next piece as it finishes one. */
export async function streamTables(request: StreamRequest): Promise<StreamResult> {
  const result: StreamResult = {
    fingerprints: [],
    rows: 0,
    bytes: 0,
    peakHeldBytes: 0,
    largestPiece: 0,
    sessions: 0,
    pieces: { moved: 0, kept: 0 },
    keptTables: [],
    partlyKeptTables: []
  }
  const queue = piecesToMove(request, result)
  const total = new Set(queue.map((piece) => piece.table)).size
  let failed = false
  let cause: unknown
  let tablesDone = 0
  const clients: pg.Client[] = []
  const pair = async (): Promise<void> => {
    const source = await request.openSource()
    clients.push(source)
    const target = await request.openTarget()
    clients.push(target)
    let moved = false
    for (let piece = queue.shift(); piece && !failed; piece = queue.shift()) {
      if (!moved) {
        moved = true
        result.sessions++
      }
      await movePiece(source, target, piece, request, result)
      result.pieces.moved++
      if (--piece.progress.left > 0) continue
      const fingerprint = fingerprintOf(piece.table, piece.progress, request.level)
      if (fingerprint) result.fingerprints.push(fingerprint)
      request.onTableDone?.(++tablesDone, total, piece.table.display)
    }
  }
  const pairs = Array.from({ length: Math.max(1, Math.min(request.sessions, queue.length)) }, () =>
    pair().catch(async (error: unknown) => {
      // The other pairs stop at once: their sessions end, and their COPY with them.
      // The first failure is the cause: the others follow from their sessions ending.
      if (failed) return
      failed = true
      cause = error
      await Promise.all(clients.map((client) => client.end().catch(() => undefined)))
    })
  )
  try {
    await Promise.all(pairs)
    if (failed) throw cause
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)))
  }
  return result
}

/**
 * What the source's fingerprint takes as read for a table: its rows hashed in flight (full), or
 * counted (counts: the target is counted server-side, which needs no hash). Undefined where the
 * fingerprint must read the source itself: a table hashed server-side, one with pieces an earlier
 * run copied (this run saw only part of its rows), or no verify at all.
 */
function fingerprintOf(
  table: StreamedTable,
  { digest, kept }: TableProgress,
  level: StreamRequest['level']
): TableFingerprint | undefined {
  if (level === 'none' || kept > 0 || (level === 'full' && table.hashedServerSide)) return undefined
  return {
    schema: table.schema,
    name: table.name,
    rows: digest.rows,
    checksum: level === 'full' ? digest.checksum() : null,
    hash: level === 'full' ? 'copy-text-by-name' : 'text-by-name',
    primaryKey: table.primaryKey,
    ...(table.partitionRoot ? { partitionRoot: table.partitionRoot } : {})
  }
}

/**
 * One table or block range: the source's CopyData messages go to the target as they came off its
 * socket, their rows hashed on the way; the window is split between the two streams.
 */
async function movePiece(
  source: pg.Client,
  target: pg.Client,
  piece: Piece,
  request: StreamRequest,
  result: StreamResult
): Promise<void> {
  const window = request.windowBytes ?? WINDOW_BYTES
  const { table } = piece
  const digesting = new CopyTextDigest(request.level !== 'full' || table.hashedServerSide !== undefined)
  const columns = table.columns.map(quoteIdent).join(', ')
  // A whole table loaded into itself (no range, not through its partitions' root) is emptied in the
  // transaction that loads it, so COPY can write its rows frozen: the verify's and ANALYZE's reads
  // then set no hint bits, and no later vacuum rewrites the table to freeze it.
  const freeze = request.freeze !== false && !piece.range && table.loadInto === quotedName(table)
  // A piece commits with its record, or not at all: a run killed mid-piece leaves no row of it, so a
  // resumed run moves it whole again and never needs to find a partial range's rows on the target
  // (whose ctids say nothing of the source's blocks).
  const record = request.recordPiecesIn
  if (freeze) await target.query(`BEGIN; TRUNCATE ONLY ${table.loadInto}`)
  else if (record) await target.query('BEGIN')
  const writing = new CopyInMessages(
    `COPY ${table.loadInto} (${columns}) FROM STDIN${freeze ? ' (FREEZE)' : ''}`,
    window / 2
  )
  const reading = new CopyOutMessages(copyOutStatement(table, piece.range), {
    forward: true,
    highWaterMark: window / 4,
    onText: (data, start, end) => {
      digesting.add(data, start, end)
      result.bytes += end - start
    },
    onPiece: (chunk) => meterHeld(result, chunk.length, [reading, writing, target.connection.stream, digesting])
  })
  // A COPY whose connection ends before the server answered it never settles its stream (a run
  // cancelled then, or the other pairs ended after a failure): the end of either connection ends the wait.
  const ends = [source, target].map(connectionEnd)
  try {
    await Promise.race([pipeline(source.query(reading), target.query(writing)), ...ends.map((end) => end.ended)])
    digesting.end()
  } catch (error) {
    throw new Error(`${table.display}: ${(error as Error).message}`)
  } finally {
    for (const end of ends) end.forget()
  }
  if (record) await target.query(`INSERT INTO ${record} (piece) VALUES ($1)`, [piece.key])
  if (freeze || record) await target.query('COMMIT')
  const { digest } = digesting
  piece.progress.digest.merge(digest)
  result.rows += digest.rows
}

/**
 * What the pair holds as each piece comes: the queues of both streams, the target's socket, a cut
 * row (the digest's), and the piece itself.
 */
function meterHeld(
  result: StreamResult,
  piece: number,
  holders: [{ readableLength: number }, { writableLength: number }, { writableLength: number }, { heldBytes: number }]
): void {
  const [reading, writing, socket, digesting] = holders
  const held = reading.readableLength + piece + writing.writableLength + socket.writableLength + digesting.heldBytes
  if (held > result.peakHeldBytes) result.peakHeldBytes = held
  if (piece > result.largestPiece) result.largestPiece = piece
}

/** Rejects when the connection ends; `forget` removes the listener once nothing waits for it. */
function connectionEnd(client: pg.Client): { ended: Promise<never>; forget: () => void } {
  let listener = (): void => undefined
  const ended = new Promise<never>((_, reject) => (listener = () => reject(new Error('the connection ended'))))
  // Nothing may be left to reject unheard once the piece is done.
  ended.catch(() => undefined)
  client.once('end', listener)
  return { ended, forget: () => client.off('end', listener) }
}

const quotedName = (table: StreamedTable): string => `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`
