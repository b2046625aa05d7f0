import type { Writable } from 'node:stream'

/**
 * Buffers of one size, taken to read into and given back once the socket has sent them. Streaming
 * a dump through fresh buffers makes V8 run a full garbage collection for every few dozen
 * megabytes of them (their memory is outside its heap, and counted): measured, two seconds of CPU
 * per gigabyte. Views of a slab (subarray) count against it until each one is released.
 */
export class SlabPool {
  private readonly free: Buffer[] = []
  /** References per slab still in use, by its memory. */
  private readonly refs = new Map<ArrayBufferLike, number>()
  /** How many times a slab came back and was taken again. */
  reused = 0

  constructor(
    readonly slabBytes: number,
    private readonly keep = 16
  ) {}

  /** A slab to fill, holding one reference. Never waits: past `keep` slabs, fresh ones are made. */
  take(): Buffer {
    const recycled = this.free.pop()
    if (recycled) this.reused++
    const slab = recycled ?? Buffer.allocUnsafeSlow(this.slabBytes)
    this.refs.set(slab.buffer, 1)
    return slab
  }

  /** One more reference to the slab behind `view`, if it is one of ours. */
  hold(view: Buffer): void {
    const count = this.refs.get(view.buffer)
    if (count !== undefined) this.refs.set(view.buffer, count + 1)
  }

  /** Drops a reference; the last one gives the slab back. */
  release(view: Buffer): void {
    const count = this.refs.get(view.buffer)
    if (count === undefined) return
    if (count > 1) {
      this.refs.set(view.buffer, count - 1)
      return
    }
    this.refs.delete(view.buffer)
    if (this.free.length < this.keep) this.free.push(Buffer.from(view.buffer, 0, this.slabBytes))
  }
}

/**
 * A pg-copy-streams COPY stream that releases each piece it was given once its socket has sent it.
 * Without the hook (another pg-copy-streams), pieces are never given back and the pool makes fresh
 * slabs: slower, never wrong.
 */
export function releasingWrites<T extends Writable>(copy: T, pool: SlabPool): T {
  const stream = copy as unknown as {
    flushChunk?: (chunk: Buffer) => boolean
    connection: { stream: { write: (data: Buffer, done?: () => void) => boolean } }
  }
  if (typeof stream.flushChunk !== 'function') return copy
  stream.flushChunk = function (chunk: Buffer): boolean {
    const header = Buffer.from([0x64, 0, 0, 0, 0])
    header.writeUInt32BE(chunk.length + 4, 1)
    this.connection.stream.write(header)
    return this.connection.stream.write(chunk, () => pool.release(chunk))
  }
  return copy
}
