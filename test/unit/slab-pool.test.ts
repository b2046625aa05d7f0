import { from as copyFrom } from 'pg-copy-streams'
import { releasingWrites, SlabPool } from '../../src/tools/slab-pool.js'

test('a slab comes back when its last view is released, and is taken again', () => {
  const pool = new SlabPool(1024, 1)
  const slab = pool.take()
  const head = slab.subarray(0, 10)
  const tail = slab.subarray(10, 20)
  pool.hold(head)
  pool.hold(tail)
  pool.release(slab)
  pool.release(head)
  expect(pool.take().buffer).not.toBe(slab.buffer)
  pool.release(tail)
  expect(pool.take().buffer).toBe(slab.buffer)
  expect(pool.reused).toBe(1)
})

test('past the slabs it keeps, the pool lets released ones go', () => {
  const pool = new SlabPool(1024, 1)
  const [a, b] = [pool.take(), pool.take()]
  pool.release(a)
  pool.release(b)
  expect(pool.take().buffer).toBe(a.buffer)
  expect(pool.take().buffer).not.toBe(b.buffer)
})

test('buffers not from the pool are left alone', () => {
  const pool = new SlabPool(1024)
  const other = Buffer.alloc(1024)
  pool.hold(other)
  pool.release(other)
  expect(pool.take().buffer).not.toBe(other.buffer)
  expect(pool.reused).toBe(0)
})

/**
 * The socket, doubled at its boundary: it keeps what it is given and calls back only when the test
 * says it has sent it, as a socket to a busy backend does.
 */
function heldSocket() {
  const written: Buffer[] = []
  const callbacks: (() => void)[] = []
  const connection = {
    query: () => undefined,
    sendCopyFail: () => undefined,
    stream: {
      write(data: Buffer, done?: () => void) {
        written.push(data)
        if (done) callbacks.push(done)
        return true
      }
    }
  }
  return { connection, written, sendAll: () => callbacks.splice(0).forEach((done) => done()) }
}

test('a COPY stream gives a piece back only once its socket has sent it', () => {
  const pool = new SlabPool(1024, 4)
  const socket = heldSocket()
  const copy = releasingWrites(copyFrom('COPY t FROM STDIN'), pool) as unknown as {
    submit(connection: unknown): void
    handleCopyInResponse(connection: unknown): void
    write(chunk: Buffer): boolean
  }
  copy.submit(socket.connection)
  copy.handleCopyInResponse(socket.connection)
  const slab = pool.take()
  slab.write('1\tone\n')
  copy.write(slab.subarray(0, 6))
  // Framed as CopyData: 'd', the length with itself, then the piece, untouched.
  expect(Buffer.concat(socket.written)).toEqual(Buffer.from('d\u0000\u0000\u0000\n1\tone\n', 'latin1'))
  expect(pool.take().buffer).not.toBe(slab.buffer)
  socket.sendAll()
  expect(pool.take().buffer).toBe(slab.buffer)
})
