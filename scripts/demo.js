// A real migration on the embedded default: starts a local PostgreSQL 14 and 17, loads a sample shop
// database into 14, runs the bundled action as a workflow step would, and shows its log and job
// summary as a terminal can (`npm run demo -- --debug` shows the debug lines too). The step's work
// folder (the report, the summary, the dump) is kept for the reader to open; the servers are not.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CLIENT_BUNDLE_DIR, startClientBundleServer } from '../test/support/client-bundle-server.js'
import { runAction } from '../test/support/run-action.js'
import {
  REPO_ROOT,
  defaultBaseDir,
  serverUrl,
  startServerPair,
  stopServer,
  withClient
} from '../test/support/servers.js'
import { logLine, summaryText } from './terminal.js'

const debug = process.argv.includes('--debug')
const baseDir = defaultBaseDir('pg-migrate-demo')
console.log('starting PostgreSQL 14 (source) and 17 (target, admin without superuser)…')
const { source, target } = await startServerPair(baseDir)
const bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-demo-run-'))
try {
  await withClient(serverUrl(source, 'postgres'), (client) => client.query('CREATE DATABASE shop'))
  const sample = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sample.sql'), 'utf8')
  await withClient(serverUrl(source, 'shop'), (client) => client.query(sample))
  console.log('loaded the sample database "shop" into PostgreSQL 14; running the action…\n')
  let pending = ''
  const run = await runAction(
    {
      'source-url': serverUrl(source, 'shop'),
      'target-url': serverUrl(target, 'shop', target.admin),
      'client-download-url': bundle.template,
      'validation-queries':
        'SELECT status, count(*) FROM shop.orders GROUP BY status;\nSELECT sum(total) FROM shop.order_totals;'
    },
    {
      workDir,
      // Kept with the test bed: the next demo finds the client in the tool cache.
      toolCache: path.join(REPO_ROOT, '.testbed', 'demo-tool-cache'),
      onStdout(chunk) {
        pending += chunk
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) {
          const shown = logLine(line, { debug })
          if (shown !== undefined) console.log(shown)
        }
      }
    }
  )
  console.log(`\n${summaryText(run.summary)}`)
  console.log('Outputs')
  console.log('───────')
  for (const [name, value] of Object.entries(run.outputs)) console.log(`  ${name}: ${value}`)
  console.log(`\nThe report, the job summary (summary.md) and the dump are kept in ${workDir}`)
  console.log(`Remove it when done: rm -rf ${workDir}`)
  process.exitCode = run.exitCode ?? 1
} finally {
  await bundle.close()
  await Promise.all([stopServer(source, 'immediate'), stopServer(target, 'immediate')])
  fs.rmSync(baseDir, { recursive: true, force: true })
}
