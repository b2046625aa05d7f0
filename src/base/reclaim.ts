import v8 from 'node:v8'
import vm from 'node:vm'

/**
 * Every socket read is a new buffer outside V8's heap, and V8 frees dead ones only when a
 * collection runs: a young-generation one when the heap's small objects fill it, a full one when
 * the buffers outside the heap have grown by about 64 MiB. Code that reads a lot and allocates
 * almost nothing else (the COPY readers in verify/fingerprint/copy-messages.ts) would so hold up to
 * 64 MiB of dead reads, a full collection each time (measured: verify's read-back peaked at 69 MiB
 * of buffers). A young-generation collection every few MiB read frees them while they are young,
 * and costs a fraction of a millisecond: what it scans is what is still alive.
 */

type Collect = (options: { type: 'minor' }) => void

/** The collector, exposed at run time (as Node's own tests do); undefined where the runtime refuses. */
const collect = ((): Collect | undefined => {
  try {
    v8.setFlagsFromString('--expose-gc')
    const found: unknown = vm.runInNewContext('typeof gc === "function" ? gc : undefined')
    return typeof found === 'function' ? (found as Collect) : undefined
  } catch {
    return undefined
  }
})()

/** Bytes read between two collections: a few socket reads' worth of dead buffers at most. */
const RECLAIM_EVERY = 8 * 1024 * 1024

let readSinceCollect = 0

/** Counts `bytes` just read from a socket; collects the young generation every RECLAIM_EVERY bytes. */
export function noteSocketRead(bytes: number): void {
  readSinceCollect += bytes
  if (readSinceCollect < RECLAIM_EVERY) return
  readSinceCollect = 0
  collect?.({ type: 'minor' })
}
