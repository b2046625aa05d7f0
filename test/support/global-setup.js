// Starts what integration tests share once per run: a PostgreSQL 14 source, a 17 target with a
// managed-style admin, and the loopback server for the client bundle. Tests read the state file.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CLIENT_BUNDLE_DIR, findClientBundle, startClientBundleServer } from './client-bundle-server.js'
import { defaultBaseDir, startServerPair, stopServer } from './servers.js'
import { TOOL_CACHE_ENV } from './run-action.js'
import { STATE_ENV } from './testbed.js'

export default async function globalSetup() {
  const baseDir = defaultBaseDir()
  const { source, target } = await startServerPair(baseDir)
  const clientServer = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR }).catch(async (error) => {
    await Promise.all([stopServer(source), stopServer(target)])
    throw error
  })
  // Tests that run client tools themselves (not through the action) use the same 17 client.
  const clientDir = path.join(baseDir, 'client')
  fs.mkdirSync(clientDir)
  execFileSync('tar', ['xzf', findClientBundle().file, '-C', clientDir])
  const clientBinDir = path.join(clientDir, fs.readdirSync(clientDir)[0], 'bin')
  // One tool cache for every run that does not ask for its own, holding the 17 and 18 clients as the
  // installer caches a download: tests of the download itself give their own, empty cache.
  const toolCache = path.join(baseDir, 'tool-cache')
  for (const major of [17, 18]) {
    const bundle = findClientBundle(CLIENT_BUNDLE_DIR, major)
    const into = path.join(toolCache, 'postgresql', `${bundle.version}`, os.arch())
    fs.mkdirSync(into, { recursive: true })
    execFileSync('tar', ['xzf', bundle.file, '-C', into, '--strip-components=1'])
    fs.writeFileSync(`${into}.complete`, '')
  }
  process.env[TOOL_CACHE_ENV] = toolCache
  const stateFile = path.join(baseDir, 'state.json')
  const state = { baseDir, source, target, clientTemplate: clientServer.template, clientBinDir }
  fs.writeFileSync(stateFile, JSON.stringify(state, null, 2))
  process.env[STATE_ENV] = stateFile
  globalThis.__testbed = { source, target, clientServer, baseDir }
}
