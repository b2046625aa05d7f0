import { jest } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { hintFor } from '../../src/action/hints.js'
import type { MigrationError } from '../../src/base/errors.js'
import { finders, installClient } from '../../src/tools/client/install.js'
import { chooseClient, majorOf } from '../../src/tools/client/version-policy.js'
import { CLIENT_BUNDLE_DIR, startClientBundleServer } from '../support/client-bundle-server.js'
import { recordingLog } from '../support/in-process.js'
import { loadTestbed, withClient } from '../support/testbed.js'

const testbed = loadTestbed()
let bundle: Awaited<ReturnType<typeof startClientBundleServer>>
let workDir: string

async function serverMajor(url: string): Promise<number> {
  return withClient(url, async (client) =>
    majorOf(Number((await client.query('SHOW server_version_num')).rows[0].server_version_num))
  )
}

beforeAll(async () => {
  // In process, @actions/tool-cache writes its debug workflow commands to stdout: keep them out of the test log.
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
  bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-install-'))
  process.env.RUNNER_TOOL_CACHE = path.join(workDir, 'tool-cache')
  process.env.RUNNER_TEMP = path.join(workDir, 'temp')
})

/** Where to look: the template given, nothing on this machine's PATH. */
const search = (downloadTemplate: string) => ({ downloadTemplate, env: {}, log: recordingLog().log })

afterAll(async () => {
  await bundle.close()
  fs.rmSync(workDir, { recursive: true, force: true })
})

test('a 14 → 17 pair gets a 17 client: downloaded, verified, cached, then reused from the cache', async () => {
  const requirement = chooseClient(
    await serverMajor(testbed.sourceUrl('postgres')),
    await serverMajor(testbed.targetUrl('postgres'))
  )
  expect(requirement.major).toBe(17)

  const downloaded = await installClient(requirement, search(bundle.template), [finders.inToolCache, finders.download])
  expect(downloaded).toMatchObject({ major: 17, source: 'download' })
  expect(downloaded.version).toMatch(/^17\.\d+$/)
  expect(downloaded.binDir.startsWith(process.env.RUNNER_TOOL_CACHE as string)).toBe(true)
  const tarballs = bundle.requests.filter((p) => p.endsWith('.tar.gz'))
  expect(tarballs).toHaveLength(1)
  for (const program of Object.values(downloaded.programs)) expect(fs.existsSync(program)).toBe(true)

  const cached = await installClient(requirement, search(bundle.template), [finders.inToolCache, finders.download])
  expect(cached).toMatchObject({ major: 17, source: 'tool-cache', version: downloaded.version })
  expect(bundle.requests.filter((p) => p.endsWith('.tar.gz'))).toHaveLength(1)
})

test('a corrupted tarball is refused before extraction', async () => {
  process.env.RUNNER_TOOL_CACHE = path.join(workDir, 'empty-cache')
  const requirement = chooseClient(14, 17)
  await expect(
    installClient(requirement, search(bundle.corruptTemplate), [finders.inToolCache, finders.download])
  ).rejects.toThrow(/does not match its published sha256/)
  expect(fs.existsSync(path.join(workDir, 'empty-cache', 'postgresql'))).toBe(false)
})

test('a missing download (404) names the input to change', async () => {
  process.env.RUNNER_TOOL_CACHE = path.join(workDir, 'empty-cache-2')
  const error = (await installClient(chooseClient(14, 17), search(`${bundle.url}/nothing-{version}-{target}.tar.gz`), [
    finders.download
  ]).catch((e: unknown) => e)) as MigrationError
  expect(error.message).toContain('HTTP 404')
  expect(hintFor(error)).toContain('client-download-url')
})

test('a 17 → 14 pair is refused as a downgrade', async () => {
  const source = await serverMajor(testbed.targetUrl('postgres'))
  const target = await serverMajor(testbed.sourceUrl('postgres'))
  expect(() => chooseClient(source, target)).toThrow(
    "the target runs PostgreSQL 14, older than the source's 17: a downgrade"
  )
})
