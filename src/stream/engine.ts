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

/** Tables at least this big are split into one block range per pair, by default (see planPieces). */
export const SPLIT_MIN_BYTES = 64 * 1024 * 1024

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
  windowBytes?: number
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
}

interface Piece {
  table: StreamedTable
  range?: BlockRange
  progress: TableProgress
}

interface TableProgress {
  digest: RowDigest
  left: number
}

/** One piece per table, or one per block range of a big one when the source can scan ranges; largest first. */
function planPieces(request: StreamRequest): Piece[] {
  const pairs = Math.max(1, request.sessions)
  const tables = [...request.tables].sort((a, b) => b.bytes - a.bytes)
  // A table that holds more than a pair's share of all the rows would leave the others idle at the
  // end however the rest is spread: it is split too, below the fixed size, down to 1 MiB.
  const share = tables.reduce((sum, table) => sum + table.bytes, 0) / pairs
  const splitMinBytes = request.splitMinBytes ?? Math.min(SPLIT_MIN_BYTES, Math.max(MIN_SPLIT_SHARE_BYTES, share))
  return tables.flatMap((table): Piece[] => {
    const blocks = Math.ceil(table.bytes / table.blockSize)
    const split = pairs > 1 && table.tidRanges && table.bytes >= splitMinBytes && blocks >= pairs
    const progress: TableProgress = { digest: new RowDigest(), left: split ? pairs : 1 }
    if (!split) return [{ table, progress }]
    request.onSplit?.(table.display, pairs)
    return Array.from({ length: pairs }, (_, i) => ({
      table,
      progress,
      // The last range is open: rows a HOT update moved past the end are in the snapshot's blocks anyway.
      range: {
        from: Math.floor((i * blocks) / pairs),
        to: i === pairs - 1 ? undefined : Math.floor(((i + 1) * blocks) / pairs)
      }
    }))
  })
}

/** Streams every table over `sessions` pairs; each pair takes the next piece as it finishes one. */
export async function streamTables(request: StreamRequest): Promise<StreamResult> {
  const queue = planPieces(request)
  const result: StreamResult = {
    fingerprints: [],
    rows: 0,
    bytes: 0,
    peakHeldBytes: 0,
    largestPiece: 0,
    sessions: 0
  }
  const total = request.tables.length
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
      if (--piece.progress.left > 0) continue
      const fingerprint = fingerprintOf(piece.table, piece.progress.digest, request.level)
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
 * fingerprint must read the source itself: a table hashed server-side, or no verify at all.
 */
function fingerprintOf(
  table: StreamedTable,
  digest: RowDigest,
  level: StreamRequest['level']
): TableFingerprint | undefined {
  if (level === 'none' || (level === 'full' && table.hashedServerSide)) return undefined
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
  if (freeze) await target.query(`BEGIN; TRUNCATE ONLY ${table.loadInto}`)
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
    // What the pair holds as each piece comes: the queues of both streams, the target's socket, a cut row.
    onPiece: (chunk) => {
      const held =
        reading.readableLength +
        chunk.length +
        writing.writableLength +
        target.connection.stream.writableLength +
        digesting.heldBytes
      if (held > result.peakHeldBytes) result.peakHeldBytes = held
      if (chunk.length > result.largestPiece) result.largestPiece = chunk.length
    }
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
  if (freeze) await target.query('COMMIT')
  const { digest } = digesting
  piece.progress.digest.merge(digest)
  result.rows += digest.rows
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
