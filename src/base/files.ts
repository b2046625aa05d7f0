import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/**
 * A file's sha256, read a piece at a time into one buffer: dump files run to gigabytes, the restore
 * goes on meanwhile, and a fresh buffer per piece would make the garbage collector run for each
 * few dozen megabytes.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256')
  const buffer = Buffer.allocUnsafe(1024 * 1024)
  const handle = await fs.promises.open(file)
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
      if (bytesRead === 0) return hash.digest('hex')
      hash.update(buffer.subarray(0, bytesRead))
    }
  } finally {
    await handle.close()
  }
}

/** Every file under `dir`, by path relative to it, sorted. */
export function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort()
}

export function folderSize(dir: string): { bytes: number; files: number } {
  let bytes = 0
  let files = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    files++
    bytes += fs.statSync(path.join(entry.parentPath, entry.name)).size
  }
  return { bytes, files }
}

/**
 * A name from a database (which may hold `/`, `..`, NUL or anything else) as one safe path segment:
 * bytes outside [A-Za-z0-9_.-] and a leading dot percent-encoded. `%` is encoded too, so two names
 * never share a file name.
 */
export function safeFileName(name: string): string {
  const encoded = [...Buffer.from(name, 'utf8')]
    .map((byte) => {
      const c = String.fromCharCode(byte)
      return /[A-Za-z0-9_.-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
    })
    .join('')
  return encoded.startsWith('.') ? `%2E${encoded.slice(1)}` : encoded || '%'
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

/** Free bytes on the disk that will hold `dir` (its nearest existing ancestor), if the system says. */
export function freeBytesUnder(dir: string): number | undefined {
  let at = path.resolve(dir)
  while (!fs.existsSync(at) && path.dirname(at) !== at) at = path.dirname(at)
  try {
    const stats = fs.statfsSync(at)
    return stats.bavail * stats.bsize
  } catch {
    return undefined
  }
}
