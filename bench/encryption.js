// What artifact-encryption-key costs: every file of a real dump encrypted with age and decrypted
// again, streamed the way the action does (age-encryption's Encrypter and Decrypter over a
// ReadableStream, one file after another), timed, with the runner's peak RSS, and checked byte for
// byte. bench/run.js runs it on the resume case's dump (pg_dump -Fd -Z zstd of the largest
// database); on its own it takes any folder: node bench/encryption.js <dump folder>.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { pathToFileURL } from 'node:url'
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption'
import { now, round } from './processes.js'

/** @param {string} dir @returns {string[]} */
const filesUnder = (dir) =>
  fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))

/** @param {string} file */
const webStream = (file) =>
  /** @type {ReadableStream<Uint8Array>} */ (Readable.toWeb(fs.createReadStream(file, { highWaterMark: 1 << 20 })))

/** @param {string} file */
const sha256 = async (file) => {
  const hash = createHash('sha256')
  await pipeline(fs.createReadStream(file), hash)
  return hash.digest('hex')
}

/**
 * Encrypts `dumpDir` into a sibling folder and decrypts it into another, as the dump and restore
 * jobs do; both are removed after.
 * @param {string} dumpDir
 */
export async function encryptionCase(dumpDir) {
  const files = filesUnder(dumpDir)
  const bytes = files.reduce((sum, f) => sum + fs.statSync(path.join(dumpDir, f)).size, 0)
  const [sealed, opened] = [`${dumpDir}.age`, `${dumpDir}.opened`]
  const identity = await generateX25519Identity()
  let peakRss = 0
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50)
  try {
    const encrypter = new Encrypter()
    encrypter.addRecipient(await identityToRecipient(identity))
    const decrypter = new Decrypter()
    decrypter.addIdentity(identity)
    /** @param {string} from @param {string} to @param {(s: ReadableStream<Uint8Array>) => Promise<any>} step */
    const each = async (from, to, step) => {
      const started = now()
      const cpu = process.cpuUsage()
      for (const file of files) {
        const target = path.join(to, file)
        fs.mkdirSync(path.dirname(target), { recursive: true })
        await pipeline(Readable.fromWeb(await step(webStream(path.join(from, file)))), fs.createWriteStream(target))
      }
      const used = process.cpuUsage(cpu)
      return { wall: (now() - started) / 1000, cpu: (used.user + used.system) / 1e6 }
    }
    const encrypted = await each(dumpDir, sealed, (s) => encrypter.encrypt(s))
    const sealedBytes = filesUnder(sealed).reduce((sum, f) => sum + fs.statSync(path.join(sealed, f)).size, 0)
    const decrypted = await each(sealed, opened, (s) => decrypter.decrypt(s))
    for (const file of files)
      if ((await sha256(path.join(dumpDir, file))) !== (await sha256(path.join(opened, file))))
        throw new Error(`encryption case: ${file} came back different`)
    const mbps = (/** @type {number} */ s) => round(bytes / 1e6 / s, 1)
    const result = {
      files: files.length,
      bytes,
      overheadBytes: sealedBytes - bytes,
      encryptSeconds: round(encrypted.wall),
      decryptSeconds: round(decrypted.wall),
      encryptMBps: mbps(encrypted.wall),
      decryptMBps: mbps(decrypted.wall),
      // Per CPU second: what the runner's core does, less sensitive to other load than wall time.
      encryptMBperCpuSecond: mbps(encrypted.cpu),
      decryptMBperCpuSecond: mbps(decrypted.cpu),
      peakRssMiB: Math.round(peakRss / 2 ** 20)
    }
    console.log(
      `encryption (age, ${result.files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB): encrypt ${result.encryptSeconds} s (${result.encryptMBps} MB/s), decrypt ${result.decryptSeconds} s (${result.decryptMBps} MB/s); per CPU second ${result.encryptMBperCpuSecond} and ${result.decryptMBperCpuSecond} MB; +${result.overheadBytes} bytes, peak RSS ${result.peakRssMiB} MiB`
    )
    return result
  } finally {
    clearInterval(sampler)
    for (const dir of [sealed, opened]) fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2]
  if (!dir || !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    console.error('usage: node bench/encryption.js <dump folder>')
    process.exitCode = 2
  } else await encryptionCase(path.resolve(dir))
}
