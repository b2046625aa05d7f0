import { createHash } from 'node:crypto'
import fs from 'node:fs'

/** A file's sha256, streamed: dump files run to gigabytes, and the restore goes on meanwhile. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    fs.createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject)
  })
}
