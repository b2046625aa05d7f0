import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll } from '@jest/globals'

/**
 * A scratch folder for one test file. Its path is known when the file loads, so paths built from it
 * at the top of the file work; the folder itself is made in beforeAll and removed in afterAll, so a
 * run whose every test is filtered out (`-t`), where neither hook runs, leaves nothing behind.
 */
export function scratchFolder(prefix: string): string {
  const dir = path.join(os.tmpdir(), `${prefix}${process.pid}-${randomBytes(4).toString('hex')}`)
  beforeAll(() => fs.mkdirSync(dir))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}
