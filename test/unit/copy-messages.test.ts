import { once } from 'node:events'
import { PassThrough } from 'node:stream'
import type { Connection } from 'pg'
import { CopyOutMessages } from '../../src/verify/fingerprint/copy-messages.js'

/** A backend message: its code, its length (itself included), its body. */
function message(code: string, body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  const header = Buffer.alloc(5)
  header.write(code, 0, 'latin1')
  header.writeUInt32BE(4 + bytes.length, 1)
  return Buffer.concat([header, bytes])
}

const rows = ['1\tone\n', '2\ttwo é€\n', `3\t${'x'.repeat(300)}\n`, '4\t\\N\n']
const copyOutResponse = message('H', Buffer.from([0, 0, 2, 0, 0, 0, 0]))
const data = rows.map((row) => message('d', row))
const notice = message('N', 'Snotice\0\0')
const copyDone = message('c', '')
const afterCopy = Buffer.concat([message('C', 'COPY 4\0'), message('Z', 'I')])

/**
 * Feeds `wire` to a CopyOutMessages over a stand-in for pg's connection, `size` bytes a read.
 * Returns what it pushed on, the text it saw, and what went back to pg's own listener.
 */
async function readWire(wire: Buffer, size: number) {
  const socket = new PassThrough()
  const toPg: Buffer[] = []
  socket.on('data', (chunk: Buffer) => toPg.push(chunk))
  const connection = { stream: socket, query: () => undefined } as unknown as Connection
  const text: Buffer[] = []
  const pushed: Buffer[] = []
  const reading = new CopyOutMessages('COPY x TO STDOUT', {
    forward: true,
    onText: (chunk, start, end) => text.push(Buffer.from(chunk.subarray(start, end)))
  })
  reading.submit(connection)
  reading.on('data', (piece: Buffer) => pushed.push(piece))
  const outcome = new Promise<void>((resolve, reject) => reading.on('end', resolve).on('error', reject))
  for (let at = 0; at < wire.length; at += size) socket.write(wire.subarray(at, at + size))
  socket.end()
  // Every read delivered, to this reader or, once it is done, to pg.
  await once(socket, 'end')
  return {
    outcome,
    pushed: () => Buffer.concat(pushed),
    text: () => Buffer.concat(text),
    toPg: () => Buffer.concat(toPg)
  }
}

test('passes the CopyData messages on whole, wherever the reads cut them, and gives pg the rest', async () => {
  const wire = Buffer.concat([copyOutResponse, data[0], data[1], notice, data[2], data[3], copyDone, afterCopy])
  for (const size of [1, 2, 3, 5, 7, 64, wire.length]) {
    const read = await readWire(wire, size)
    await read.outcome
    expect(read.pushed()).toEqual(Buffer.concat(data))
    expect(read.text().toString()).toBe(rows.join(''))
    expect(read.toPg()).toEqual(afterCopy)
  }
})

test('gives pg an error from its first byte, and pushes no part of it', async () => {
  const error = message('E', 'SERROR\0Mboom\0\0')
  const wire = Buffer.concat([copyOutResponse, data[0], error, message('Z', 'I')])
  for (const size of [1, 4, wire.length]) {
    const read = await readWire(wire, size)
    expect(read.pushed()).toEqual(data[0])
    expect(read.toPg()).toEqual(wire.subarray(copyOutResponse.length + data[0].length))
  }
})
