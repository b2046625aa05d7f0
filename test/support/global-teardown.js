import fs from 'node:fs'
import { stopServer } from './servers.js'

export default async function globalTeardown() {
  const testbed = globalThis.__testbed
  if (!testbed) return
  await Promise.all([
    stopServer(testbed.source, 'immediate'),
    stopServer(testbed.target, 'immediate'),
    testbed.clientServer.close()
  ])
  fs.rmSync(testbed.baseDir, { recursive: true, force: true })
}
