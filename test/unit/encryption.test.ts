import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { generateX25519Identity } from 'age-encryption'
import { decryptFolder, encryptFolder, recipientOf } from '../../src/artifact/encryption.js'

let work: string
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'encryption-'))
})
afterEach(() => fs.rmSync(work, { recursive: true, force: true }))

// A dump folder in miniature: the manifest, a table file bigger than one age chunk, a nested file.
function plainDump(): Record<string, Buffer> {
  const files = {
    'manifest.json': Buffer.from('{"format":2}'),
    '3001.dat': Buffer.from('row text '.repeat(20_000)),
    'blobs/blob_1.dat': Buffer.from([0, 1, 2])
  }
  for (const [name, bytes] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(work, 'plain', name)), { recursive: true })
    fs.writeFileSync(path.join(work, 'plain', name), bytes)
  }
  return files
}

test('a folder encrypted to a key comes back byte for byte with it, and only with it', async () => {
  const files = plainDump()
  const identity = await generateX25519Identity()
  const sealed = path.join(work, 'sealed')
  expect(await encryptFolder(path.join(work, 'plain'), sealed, await recipientOf({ identity }))).toBe(3)
  expect(fs.readFileSync(path.join(sealed, '3001.dat.age')).includes('row text')).toBe(false)

  await expect(decryptFolder(sealed, 'manifest.json', { identity: await generateX25519Identity() })).rejects.toThrow(
    `the dump in ${sealed} was encrypted for another age key`
  )
  // Refused before any file was written.
  expect(fs.existsSync(path.join(sealed, 'manifest.json'))).toBe(false)

  await decryptFolder(sealed, 'manifest.json', { identity })
  for (const [name, bytes] of Object.entries(files)) expect(fs.readFileSync(path.join(sealed, name))).toEqual(bytes)
  expect(fs.readdirSync(sealed, { recursive: true }).filter((f) => String(f).endsWith('.age'))).toEqual([])
})

test('a changed byte in an encrypted file is refused as damage', async () => {
  plainDump()
  const identity = await generateX25519Identity()
  const sealed = path.join(work, 'sealed')
  await encryptFolder(path.join(work, 'plain'), sealed, await recipientOf({ identity }))
  const victim = path.join(sealed, '3001.dat.age')
  const bytes = fs.readFileSync(victim)
  bytes[bytes.length - 100] ^= 1
  fs.writeFileSync(victim, bytes)
  await expect(decryptFolder(sealed, 'manifest.json', { identity })).rejects.toThrow(
    `3001.dat.age in ${sealed} cannot be decrypted`
  )
  expect(fs.existsSync(path.join(sealed, '3001.dat'))).toBe(false)
})
