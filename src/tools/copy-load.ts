import { once } from 'node:events'
import { Writable, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { quoteLiteral } from '../pg/sql.js'
import { releasingWrites, type SlabPool } from './slab-pool.js'

/**
 * Loading a table's COPY text (pg_dump's data file, decompressed) into the target. Node passes the
 * bytes on and never parses a row; with several connections it only cuts the text at newlines,
 * which end every row of COPY's text format (a newline inside a value is written as \n).
 */

/** A source table, with pg_dump's COPY column list. */
export interface FollowedTable {
  /** As logs and the report show it (schema.table, quoted where a name needs it). */
  name: string
  /** Qualified and quoted for SQL. */
  qualified: string
  /** The column list, quoted for SQL. */
  columns: string
  /** Its size on the source (pg_table_size), when known. */
  bytes?: number
}

/** A session that writes what the source holds: names qualified, no timeouts, no row security. */
export function writerSessionSettings(targetMajor: number): string[] {
  return [
    `SET search_path = ''`,
    'SET statement_timeout = 0',
    'SET lock_timeout = 0',
    'SET idle_in_transaction_session_timeout = 0',
    ...(targetMajor >= 17 ? ['SET transaction_timeout = 0'] : []),
    'SET row_security = off'
  ]
}

/** What pg_restore sets before it loads data, so the rows go in alike; the data is in the source's encoding. */
export async function prepareLoadSession(target: pg.Client, encoding: string, targetMajor: number): Promise<void> {
  await target.query(
    [
      `SET client_encoding = ${quoteLiteral(encoding)}`,
      ...writerSessionSettings(targetMajor),
      'SET xmloption = content'
    ].join('; ')
  )
}

const copyStatement = (table: FollowedTable, freeze = false): string =>
  `COPY ${table.qualified} (${table.columns}) FROM STDIN${freeze ? ' (FREEZE)' : ''}`

/** A COPY FROM STDIN stream; with a pool, each piece goes back to it once sent. */
function copyStream(target: pg.Client, table: FollowedTable, pool?: SlabPool, freeze = false): Writable {
  const copy = copyFrom(copyStatement(table, freeze))
  return target.query(pool ? releasingWrites(copy, pool) : copy)
}

/**
 * copyInto, the table emptied in the same transaction first, so COPY writes its rows frozen: the
 * verify's and ANALYZE's reads then set no hint bits (no page written again), and no later vacuum
 * rewrites the table to freeze it. Only for a table nothing else loads meanwhile.
 */
export async function copyIntoFrozen(
  target: pg.Client,
  table: FollowedTable,
  data: Readable,
  pool?: SlabPool
): Promise<void> {
  await target.query(`BEGIN; TRUNCATE ONLY ${table.qualified}`)
  try {
    await pipeline(data, copyStream(target, table, pool, true))
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined)
    throw error
  }
  await target.query('COMMIT')
}

/**
 * Streams COPY text into a table on one connection. If `data` fails, the COPY is cancelled
 * (CopyFail) and nothing of it is committed. `pool`: where the pieces of `data` come from.
 */
export async function copyInto(
  target: pg.Client,
  table: FollowedTable,
  data: Readable,
  pool?: SlabPool
): Promise<void> {
  await pipeline(data, copyStream(target, table, pool))
}

export interface StreamedLoad {
  /** Connections to load over, each prepared with prepareLoadSession; the load runs a transaction on each. */
  targets: pg.Client[]
  table: FollowedTable
  data: Readable
  /**
   * Empties the table on a connection of its own: called only when a commit failed after another
   * had succeeded, so that what was committed goes again.
   */
  truncate: () => Promise<void>
  /** Where the pieces of `data` come from, to give them back once sent. */
  pool?: SlabPool
  /** Over one connection, the rows are written frozen (copyIntoFrozen): nothing else loads the table. */
  freeze?: boolean
}

/**
 * Loads one table over several connections at once, so the target parses and inserts its rows on
 * several backends. Each connection runs its COPY inside a transaction, and no transaction commits
 * before every COPY has taken all its rows: a failure until then (the data, a row the target
 * refuses, a lost connection) cancels every COPY (CopyFail) and rolls every transaction back, so
 * nothing of the table is committed, as with one connection. The commits follow one another; if
 * one fails after another succeeded, the table is emptied again (TRUNCATE on a fresh connection)
 * before the error is passed on. Only when that too is impossible (the target is gone) can part of
 * the table stay, and the error says so.
 */
export async function copyIntoStreams(load: StreamedLoad): Promise<void> {
  const { targets, table, data, pool } = load
  // Several transactions cannot all have emptied the table: only one connection writes rows frozen.
  if (targets.length === 1) return (load.freeze ? copyIntoFrozen : copyInto)(targets[0], table, data, pool)
  await Promise.all(targets.map((target) => target.query('BEGIN')))
  const copies = targets.map((target) => copyStream(target, table, pool))
  const splitter = new LineSplitter(copies, pool)
  // A COPY whose connection ended before its CopyInResponse never ends its CopyFail: not waited for.
  const ends = targets.map(connectionEnd)
  try {
    await pipeline(data, splitter)
  } catch (error) {
    // Every COPY still open sends CopyFail; then each transaction, aborted or not, rolls back.
    for (const copy of copies) copy.destroy(error as Error)
    await Promise.allSettled(copies.map((copy, at) => Promise.race([finished(copy), ends[at].ended])))
    await Promise.allSettled(targets.map((target) => target.query('ROLLBACK')))
    throw error
  } finally {
    for (const end of ends) end.forget()
  }
  let committed = 0
  try {
    for (const target of targets) {
      await target.query('COMMIT')
      committed++
    }
  } catch (error) {
    await Promise.allSettled(targets.slice(committed + 1).map((target) => target.query('ROLLBACK')))
    if (committed === 0) throw error
    const message = (error as Error).message
    await load.truncate().catch((cleanup: Error) => {
      throw new Error(
        `${message}; ${committed} of ${targets.length} streams of ${table.name} had committed, and emptying it failed too (${cleanup.message}): the table holds part of its rows`
      )
    })
    throw new Error(`${message} (the streams of ${table.name} that had committed were emptied again)`)
  }
}

/** Resolves when the connection ends; `forget` removes the listener once nothing waits for it. */
function connectionEnd(target: pg.Client): { ended: Promise<void>; forget: () => void } {
  let listener = (): void => undefined
  const ended = new Promise<void>((resolve) => (listener = () => resolve()))
  target.once('end', listener)
  return { ended, forget: () => target.off('end', listener) }
}

/** Resolves when a COPY has ended (ReadyForQuery), rejects with its error. */
function finished(copy: Writable): Promise<void> {
  if (copy.writableFinished) return Promise.resolve()
  return new Promise((resolve, reject) => {
    copy.once('finish', resolve)
    copy.once('error', reject)
    copy.once('close', () => (copy.writableFinished ? resolve() : reject(new Error('COPY closed before its end'))))
  })
}

/**
 * Hands whole lines to the COPY streams: each piece of data is cut after its last newline; what
 * comes before goes to the next stream not waiting for its backend, what follows waits for the next
 * piece. A stream that fails fails the whole load.
 */
class LineSplitter extends Writable {
  /** The start of a line whose newline has not come yet. */
  private carry: Buffer[] = []
  private failure?: Error
  private readonly ended: Promise<void>[]
  /** The stream that got the last piece. */
  private last = -1

  constructor(
    private readonly copies: Writable[],
    private readonly pool?: SlabPool
  ) {
    super({ highWaterMark: 1 << 20 })
    // Attached at once: a stream that fails while nothing is written to it must not go unheard.
    this.ended = copies.map((copy) =>
      finished(copy).catch((error: Error) => {
        this.failure ??= error
        throw error
      })
    )
    for (const promise of this.ended) promise.catch(() => undefined)
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.send(chunk).then(() => done(), done)
  }

  override _final(done: (error?: Error | null) => void): void {
    const rest = Buffer.concat(this.carry)
    for (const part of this.carry) this.pool?.release(part)
    this.carry = []
    const flush = rest.length > 0 ? this.readyCopy().then((copy) => void copy.write(rest)) : Promise.resolve()
    flush
      .then(() => {
        for (const copy of this.copies) copy.end()
        return Promise.all(this.ended)
      })
      .then(() => done(), done)
  }

  private async send(chunk: Buffer): Promise<void> {
    const newline = chunk.lastIndexOf(10)
    if (newline < 0) {
      this.carry.push(chunk)
      return
    }
    const copy = await this.readyCopy()
    // One stream gets the carried start and the rest of its line, in one go: nothing can come between.
    // Each piece written holds its slab until sent; the carried ones already hold theirs.
    for (const part of this.carry) copy.write(part)
    const head = chunk.subarray(0, newline + 1)
    this.pool?.hold(head)
    copy.write(head)
    const tail = newline + 1 < chunk.length ? chunk.subarray(newline + 1) : undefined
    if (tail) this.pool?.hold(tail)
    this.carry = tail ? [tail] : []
    this.pool?.release(chunk)
  }

  /**
   * The next stream, in turn, whose socket has taken what it was given; waits for the first to
   * drain when none has. In turn, so every backend gets work even when each keeps up.
   */
  private async readyCopy(): Promise<Writable> {
    for (;;) {
      if (this.failure) throw this.failure
      for (let i = 1; i <= this.copies.length; i++) {
        const at = (this.last + i) % this.copies.length
        if (this.copies[at].writableNeedDrain) continue
        this.last = at
        return this.copies[at]
      }
      const controller = new AbortController()
      try {
        await Promise.race([
          ...this.copies.map((copy) => once(copy, 'drain', { signal: controller.signal })),
          Promise.race(this.ended).then(() => undefined)
        ])
      } finally {
        controller.abort()
      }
    }
  }
}
