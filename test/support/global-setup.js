// Starts what integration tests share once per run: a PostgreSQL 14 source, a 17 target with a
// managed-style admin, and the loopback server for the client bundle. Tests read the state file.
import fs from 'node:fs'
import path from 'node:path'
import { startClientBundleServer, CLIENT_BUNDLE_DIR } from './client-bundle-server.js'
import { defaultBaseDir, startServerPair, stopServer } from './servers.js'
import { STATE_ENV } from './testbed.js'

export default async function globalSetup() {
  const baseDir = defaultBaseDir()
  const { source, target } = await startServerPair(baseDir)
  const clientServer = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR }).catch(async (error) => {
    await Promise.all([stopServer(source), stopServer(target)])
    throw error
  })
  const stateFile = path.join(baseDir, 'state.json')
  fs.writeFileSync(
    stateFile,
    JSON.stringify({ baseDir, source, target, clientTemplate: clientServer.template }, null, 2)
  )
  process.env[STATE_ENV] = stateFile
  globalThis.__testbed = { source, target, clientServer, baseDir }
}
