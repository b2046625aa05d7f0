import fs from 'node:fs'
import path from 'node:path'
import { stopServer } from './servers.js'

/**
 * A folder the servers' logs are copied into before the test bed is removed. A failure on the server
 * side (a walsender's error, say) is only there: CI sets it and uploads the folder when a test failed.
 */
export const KEEP_SERVER_LOGS_ENV = 'PG_MIGRATE_TEST_SERVER_LOGS'

export default async function globalTeardown() {
  const testbed = globalThis.__testbed
  if (!testbed) return
  await Promise.all([
    stopServer(testbed.source, 'immediate'),
    stopServer(testbed.target, 'immediate'),
    testbed.clientServer.close()
  ])
  const keepIn = process.env[KEEP_SERVER_LOGS_ENV]
  if (keepIn) keepServerLogs([testbed.source, testbed.target], keepIn)
  fs.rmSync(testbed.baseDir, { recursive: true, force: true })
}

/** @param {import('./servers.js').ServerInfo[]} servers @param {string} folder */
function keepServerLogs(servers, folder) {
  fs.mkdirSync(folder, { recursive: true })
  for (const server of servers) {
    const log = path.join(path.dirname(server.dataDir), 'server.log')
    // Read and written, not copied: the copy is the runner's to upload, not the server user's.
    if (fs.existsSync(log))
      fs.writeFileSync(path.join(folder, `pg${server.major}-${process.pid}.log`), fs.readFileSync(log))
  }
}
