import type pg from 'pg'
import { PgoutputPlugin, type Pgoutput } from 'pg-logical-replication'
import { MigrationError } from '../base/errors.js'
import { quoteIdent, quoteLiteral } from '../pg/sql.js'
import { formatLsn } from './lsn.js'
import { isRowChange, readRowChange } from './pgoutput.js'

/**
 * pgoutput's messages as pg-logical-replication parses them, each column value left as the text the
 * source printed (null for NULL, undefined for an unchanged TOASTed value). The library would turn
 * values into JavaScript ones with node-postgres's parsers, and a timestamp's microseconds or a
 * float's last digits do not survive that; text goes back into the target exactly as it came. Row
 * changes, nearly all the stream, are read by pgoutput.ts: the library's reader costs more per value.
 */
class TextPgoutputPlugin extends PgoutputPlugin {
  /** The tables described so far, by the source's OID: a change names its table by it. */
  private readonly relations = new Map<number, Pgoutput.MessageRelation>()

  /** The library also sends `messages`, an option only 14 and later know: 12 and 13 refuse the stream. */
  start(client: pg.Client, slot: string, lsn: string): Promise<unknown> {
    return client.query(
      `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${lsn} (proto_version '1', publication_names ${quoteLiteral(quoteIdent(this.options.publicationNames[0]))})`
    )
  }

  parse(buffer: Buffer): Pgoutput.Message {
    if (isRowChange(buffer)) return readRowChange(buffer, this.relations)
    const message = super.parse(buffer)
    if (message.tag === 'relation') {
      // Should the library read a row after all, it keeps the text too.
      for (const column of message.columns) column.parser = (raw: unknown) => raw
      this.relations.set(message.relationOid, message)
    }
    return message
  }
}

/** What the stream hands on, in the order the source sent it. */
export type StreamItem =
  /** `size`: the message's bytes on the wire, about those of its values. */
  | { kind: 'change'; lsn: bigint; size: number; message: Pgoutput.Message }
  /** A keepalive: the source has sent everything before `lsn`. */
  | { kind: 'position'; lsn: bigint }

/** Items waiting to be applied before the socket is paused: bounded memory however far behind the target is. */
const PAUSE_AT = 2000
const RESUME_AT = 200

/**
 * The change stream of a slot, on the replication connection that created it. Items are handed to
 * `consume` one at a time, in order, and `drain` runs each time none is left; `ended` rejects when the stream or `consume` fails and resolves
 * once stop() has ended it.
 */
export class ChangeStream {
  private readonly queue: StreamItem[] = []
  private pumping = false
  private paused = false
  private stopping = false
  private failure?: unknown
  private readonly failed: Promise<never>
  private fail: (error: unknown) => void = () => undefined
  readonly ended: Promise<void>

  constructor(
    private readonly connection: pg.Client,
    slot: string,
    publication: string,
    start: bigint,
    /** A promise when the next item must wait for it. */
    private readonly consume: (item: StreamItem) => Promise<void> | undefined,
    /** Called whenever everything received so far has been consumed: the time to send what was batched. */
    private readonly drain: () => Promise<void>
  ) {
    this.failed = new Promise<never>((_resolve, reject) => (this.fail = reject))
    this.failed.catch(() => undefined)
    const plugin = new TextPgoutputPlugin({ protoVersion: 1, publicationNames: [publication] })
    const wire = this.wire()
    wire.on('copyData', ({ chunk }: { chunk: Buffer }) => this.received(plugin, chunk))
    const replication = plugin.start(connection, slot, formatLsn(start)).then(
      () => {
        if (!this.stopping) throw new MigrationError('sync-stream', 'the source ended the change stream')
      },
      (error: Error) => {
        if (this.stopping) return
        throw new MigrationError('sync-stream', `the change stream from the source failed: ${error.message}`)
      }
    )
    this.ended = Promise.race([replication, this.failed])
    this.ended.catch(() => undefined)
  }

  /** Everything the source has sent so far has been consumed. */
  get drained(): boolean {
    return this.queue.length === 0 && !this.pumping
  }

  /** Tells the source how far the target has durably applied; `ping` asks for a keepalive back at once. */
  sendStatus(applied: bigint, ping: boolean): void {
    if (this.stopping) return
    const message = Buffer.alloc(34)
    message.write('r', 0)
    // Written, flushed and applied: the position after the last byte, so +1 is not needed for a commit end.
    message.writeBigUInt64BE(applied, 1)
    message.writeBigUInt64BE(applied, 9)
    message.writeBigUInt64BE(applied, 17)
    message.writeBigUInt64BE(BigInt(Date.now() - 946_684_800_000) * 1000n, 25)
    message.writeUInt8(ping ? 1 : 0, 33)
    this.wire().sendCopyFromChunk(message)
  }

  /** Ends the stream and its connection (the temporary slot goes with it). */
  async stop(): Promise<void> {
    this.stopping = true
    await this.connection.end().catch(() => undefined)
    await this.ended.catch(() => undefined)
  }

  private received(plugin: TextPgoutputPlugin, chunk: Buffer): void {
    if (this.failure) return
    try {
      const lsn = chunk.readBigUInt64BE(1)
      if (chunk[0] === 0x77)
        this.queue.push({ kind: 'change', lsn, size: chunk.length, message: plugin.parse(chunk.subarray(25)) })
      else if (chunk[0] === 0x6b) this.queue.push({ kind: 'position', lsn })
      else return
    } catch (error) {
      this.stopWith(
        new MigrationError('sync-stream', `a change from the source could not be read: ${(error as Error).message}`)
      )
      return
    }
    if (this.queue.length >= PAUSE_AT && !this.paused) {
      this.paused = true
      this.wire().stream.pause()
    }
    void this.pump()
  }

  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      while (!this.failure) {
        if (this.queue.length === 0) {
          await this.drain()
          if (this.queue.length === 0) break
          continue
        }
        const consumed = this.consume(this.queue.shift() as StreamItem)
        if (consumed) await consumed
        if (this.paused && this.queue.length <= RESUME_AT) {
          this.paused = false
          this.wire().stream.resume()
        }
      }
    } catch (error) {
      this.stopWith(error)
    } finally {
      this.pumping = false
    }
  }

  private stopWith(error: unknown): void {
    this.failure ??= error
    this.queue.length = 0
    this.fail(error)
  }

  /** node-postgres's protocol connection under the client: CopyBoth data arrives and leaves there. */
  private wire(): {
    on: (event: string, listener: (message: { chunk: Buffer }) => void) => void
    sendCopyFromChunk: (chunk: Buffer) => void
    stream: { pause: () => void; resume: () => void }
  } {
    return (this.connection as unknown as { connection: ReturnType<ChangeStream['wire']> }).connection
  }
}
