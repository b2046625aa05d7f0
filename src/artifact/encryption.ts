import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { MigrationError } from '../base/errors.js'
import { filesUnder } from '../base/files.js'

/** What an encrypted dump file's name ends with: the `age` CLI's own convention. */
export const ENCRYPTED_SUFFIX = '.age'

/** An age key as the user stored it: a secret identity (dump and restore) or a public recipient (dump only). */
export type AgeKey = { identity: string } | { recipient: string }

const IDENTITY = /^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/
const RECIPIENT = /^age1[0-9a-z]+$/

/**
 * Reads an age key from the text of a secret: the key itself, or a whole key file as `age-keygen`
 * writes it (comment lines, then the secret key). Undefined when the text holds neither.
 */
export function parseAgeKey(text: string): AgeKey | undefined {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
  if (lines.length !== 1) return undefined
  const [key] = lines
  if (IDENTITY.test(key)) return { identity: key }
  if (RECIPIENT.test(key)) return { recipient: key }
  return undefined
}

/** The public half the dump is encrypted to. */
export async function recipientOf(key: AgeKey): Promise<string> {
  if ('recipient' in key) return key.recipient
  const { identityToRecipient } = await loadAge()
  return identityToRecipient(key.identity)
}

/**
 * Encrypts every file of `plainDir` into `encryptedDir`, each as `<name>.age`, streamed a chunk at a
 * time (age's STREAM: 64 KiB pieces), so a file of any size passes through a few pieces of memory.
 * Each file is a standard age file: `age -d -i key.txt` opens it without this action.
 */
export async function encryptFolder(plainDir: string, encryptedDir: string, recipient: string): Promise<number> {
  const encrypter = new (await loadAge()).Encrypter()
  encrypter.addRecipient(recipient)
  const files = filesUnder(plainDir)
  for (const file of files) {
    const to = path.join(encryptedDir, file + ENCRYPTED_SUFFIX)
    fs.mkdirSync(path.dirname(to), { recursive: true })
    const encrypted = await encrypter.encrypt(webStream(path.join(plainDir, file)))
    await pipeline(Readable.fromWeb(encrypted as WebReadableStream<Uint8Array>), fs.createWriteStream(to))
  }
  return files.length
}

/** True when `dir` holds a dump encrypted by encryptFolder (its manifest is encrypted too). */
export function isEncryptedDump(dir: string, manifestFile: string): boolean {
  return fs.existsSync(path.join(dir, manifestFile + ENCRYPTED_SUFFIX))
}

// The fix names the input: src/action/hints.ts words it from the reason.
const refusedKey = (message: string, reason: 'missing' | 'public' | 'wrong'): MigrationError =>
  new MigrationError('dump-encrypted', message, { facts: { reason } })

/**
 * Decrypts an encrypted dump in place, `<name>.age` to `<name>`, the manifest first: a missing or
 * wrong key is refused before any dump file is written, and long before the target is touched.
 * age authenticates every piece, so a changed byte fails here too.
 */
export async function decryptFolder(dir: string, manifestFile: string, key: AgeKey | undefined): Promise<number> {
  if (!key) throw refusedKey(`the dump in ${dir} is encrypted and no key was given`, 'missing')
  if (!('identity' in key))
    throw refusedKey(`the dump in ${dir} is encrypted; a public age key (age1…) cannot decrypt it`, 'public')
  const decrypter = new (await loadAge()).Decrypter()
  decrypter.addIdentity(key.identity)
  const files = filesUnder(dir).filter((file) => file.endsWith(ENCRYPTED_SUFFIX))
  const first = manifestFile + ENCRYPTED_SUFFIX
  const ordered = [first, ...files.filter((file) => file !== first)]
  for (const file of ordered) {
    const from = path.join(dir, file)
    const to = from.slice(0, -ENCRYPTED_SUFFIX.length)
    try {
      const plain = await decrypter.decrypt(webStream(from))
      await pipeline(Readable.fromWeb(plain as WebReadableStream<Uint8Array>), fs.createWriteStream(to))
    } catch (error) {
      fs.rmSync(to, { force: true })
      const message = (error as Error).message
      if (file === first && /no identity matched/i.test(message))
        throw refusedKey(`the dump in ${dir} was encrypted for another age key`, 'wrong')
      throw new MigrationError('dump-damaged', `${file} in ${dir} cannot be decrypted: ${message}`, {
        hint: 'the dump is damaged: download it again or dump again; the target was not touched'
      })
    }
    fs.rmSync(from)
  }
  return ordered.length
}

// Loaded on first use: most runs encrypt nothing, and the inputs only check a key's shape.
const loadAge = () => import('age-encryption')

function webStream(file: string): ReadableStream<Uint8Array> {
  return Readable.toWeb(fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) as ReadableStream<Uint8Array>
}
