import { Readable, Writable } from 'node:stream'
import type { Connection, Submittable } from 'pg'
import { noteSocketRead } from '../../base/reclaim.js'

/**
 * COPY's rows as they cross the wire: CopyData messages, each a code byte 'd', a 4-byte length
 * (itself included) and a piece of COPY text (the server sends a row a message). A client sends
 * the very same messages to COPY FROM STDIN. So the runner hands the source's messages to the
 * target as they came off the socket, each socket read one piece: nothing is copied, and no object
 * is made per row (pg-copy-streams takes every row out of its message, then copies a read's rows
 * into a new buffer that the target's side wraps in a message again). The rows are hashed where
 * they lie in the socket's buffer.
 */

const COPY_DATA = 0x64
const COPY_DONE = 0x63
/** Messages the server may send during a COPY's data besides CopyData (CopyOutResponse first; notices, parameter changes, notifications anywhere). */
const PASSED_OVER = new Set([0x48, 0x4e, 0x53, 0x41])

/** Where the reader is in a message: at its code byte, in its length, in its body. */
const CODE = 0
const LENGTH = 1
const BODY = 2

/** Receives COPY text: bytes [start, end) of `data`, valid only during the call. */
export type TextSink = (data: Buffer, start: number, end: number) => void

type DataListener = (data: Buffer) => void

export interface CopyOutOptions {
  /** Each stretch of COPY text, in order, as it arrives. */
  onText: TextSink
  /** Push the CopyData messages on (to a COPY FROM STDIN); false: the data is only read. */
  forward: boolean
  /** Called with each piece pushed on. */
  onPiece?: (piece: Buffer) => void
  highWaterMark?: number
}

/**
 * A COPY … TO STDOUT as a pg submittable: while the COPY's data comes, it reads the connection's
 * socket itself instead of pg's parser (pg's listener is set aside and given back with the bytes
 * after CopyDone, or from an error on, so pg ends the query as usual). Pushes the CopyData
 * messages' bytes, headers included, when `forward`.
 */
export class CopyOutMessages extends Readable implements Submittable {
  private connection?: Connection
  private pgListeners: DataListener[] = []
  private part = CODE
  private code = 0
  private lengthBytes = 0
  private length = 0
  /** Bytes of the current message's body still to come. */
  private left = 0

  constructor(
    readonly text: string,
    private readonly options: CopyOutOptions
  ) {
    super(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark })
  }

  submit(connection: Connection): void {
    this.connection = connection
    const socket = connection.stream
    // pg's parser, and whatever else reads the socket: none of them may see the COPY's data.
    this.pgListeners = socket.listeners('data') as DataListener[]
    for (const listener of this.pgListeners) socket.removeListener('data', listener)
    socket.on('data', this.onData)
    connection.query(this.text)
  }

  override _read(): void {
    this.connection?.stream.resume()
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    // Stopped by its reader mid-COPY: the socket flows again, to its end, so that the connection can close.
    this.connection?.stream.resume()
    done(error)
  }

  // pg calls these once it has the socket back (or the connection ended).
  handleError(error: Error): void {
    this.callback()
    this.destroy(error)
  }
  handleCommandComplete(): void {}
  handleReadyForQuery(): void {
    this.callback()
  }
  /** pg's query_timeout wraps it to clear its timer: called once the query is over. */
  callback(): void {}

  private readonly onData = (chunk: Buffer): void => {
    noteSocketRead(chunk.length)
    // A message cut at the end of the last read goes on from the start of this one.
    let runStart = this.part !== CODE && this.code === COPY_DATA ? 0 : -1
    let at = 0
    while (at < chunk.length) {
      if (this.part === CODE) {
        const code = chunk[at]
        if (code !== COPY_DATA) {
          if (runStart >= 0) this.pass(chunk.subarray(runStart, at))
          runStart = -1
          // An error, or anything the COPY does not expect: pg reads it from its first byte.
          if (code !== COPY_DONE && !PASSED_OVER.has(code)) return this.giveBack(chunk.subarray(at), false)
        } else if (runStart < 0) runStart = at
        this.code = code
        this.part = LENGTH
        this.lengthBytes = 0
        this.length = 0
        at++
      } else if (this.part === LENGTH) {
        this.length = this.length * 256 + chunk[at++]
        if (++this.lengthBytes < 4) continue
        this.left = this.length - 4
        this.part = this.left > 0 ? BODY : CODE
        if (this.code === COPY_DONE) return this.giveBack(chunk.subarray(at), true)
      } else {
        const end = Math.min(chunk.length, at + this.left)
        if (this.code === COPY_DATA) this.options.onText(chunk, at, end)
        this.left -= end - at
        at = end
        if (this.left === 0) this.part = CODE
      }
    }
    if (runStart >= 0) this.pass(chunk.subarray(runStart))
  }

  private pass(piece: Buffer): void {
    if (!this.options.forward || piece.length === 0 || this.destroyed) return
    this.options.onPiece?.(piece)
    if (!this.push(piece)) this.connection?.stream.pause()
  }

  /** Hands the socket, and what is left of this read, back to pg; `done`: the data ended with CopyDone. */
  private giveBack(rest: Buffer, done: boolean): void {
    const connection = this.connection
    if (!connection) return
    connection.stream.removeListener('data', this.onData)
    for (const listener of this.pgListeners) connection.stream.on('data', listener)
    connection.stream.resume()
    this.connection = undefined
    if (done) this.push(null)
    if (rest.length > 0) for (const listener of this.pgListeners) listener(rest)
  }
}

/** CopyDone, as a client sends it. */
const COPY_DONE_MESSAGE = Buffer.from([COPY_DONE, 0, 0, 0, 4])

/** CopyFail with its reason, as a client sends it. */
function copyFailMessage(reason: string): Buffer {
  const text = Buffer.from(`${reason}\0`)
  const message = Buffer.alloc(5 + text.length)
  message[0] = 0x66
  message.writeUInt32BE(4 + text.length, 1)
  text.copy(message, 5)
  return message
}

/**
 * A COPY … FROM STDIN as a pg submittable that takes whole CopyData messages (a CopyOutMessages'
 * pieces) and writes them to the socket as they are; it sends CopyDone at the end and finishes once
 * the server has committed the rows to the COPY (ReadyForQuery).
 */
export class CopyInMessages extends Writable implements Submittable {
  private connection?: Connection
  /** Waits for the server's CopyInResponse. */
  private waiting?: () => void
  private started = false
  private finishing?: (error?: Error | null) => void
  private serverFailed = false

  constructor(
    readonly text: string,
    highWaterMark?: number
  ) {
    super(highWaterMark === undefined ? {} : { highWaterMark })
  }

  submit(connection: Connection): void {
    this.connection = connection
    connection.query(this.text)
  }

  override _write(piece: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.whenStarted(() => {
      const socket = this.connection?.stream
      if (!socket) return done(new Error('the connection ended'))
      if (socket.write(piece)) done()
      else socket.once('drain', () => done())
    })
  }

  override _final(done: (error?: Error | null) => void): void {
    this.whenStarted(() => {
      this.finishing = done
      this.connection?.stream.write(COPY_DONE_MESSAGE)
    })
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    // Cut short by this side: the server drops the COPY's rows on CopyFail (sent once it asked for data).
    // After ReadyForQuery (a finished stream is destroyed too) or the server's error there is none to send.
    if (this.connection && !this.serverFailed)
      this.whenStarted(() => this.connection?.stream.write(copyFailMessage('the copy was cut short')))
    done(error)
  }

  handleCopyInResponse(): void {
    this.started = true
    const waiting = this.waiting
    this.waiting = undefined
    waiting?.()
  }

  handleError(error: Error): void {
    this.callback()
    this.serverFailed = true
    this.connection = undefined
    const finishing = this.finishing
    this.finishing = undefined
    if (finishing) finishing(error)
    else this.destroy(error)
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    this.callback()
    this.connection = undefined
    const finishing = this.finishing
    this.finishing = undefined
    finishing?.()
  }

  /** pg's query_timeout wraps it to clear its timer: called once the query is over. */
  callback(): void {}

  private whenStarted(send: () => void): void {
    if (this.started) send()
    else this.waiting = send
  }
}
