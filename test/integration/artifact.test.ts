import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import * as fs from 'node:fs/promises'
import * as os from 'node:os'
import * as path from 'node:path'
import type { ProgressSample } from '../../src/base/progress.js'
import { startArtifactServices, unzipEntries, type ArtifactServices } from '../support/artifact-service.js'
import { recordingLog } from '../support/in-process.js'

type ArtifactModule = typeof import('../../src/artifact/github-artifacts.js')

let services: ArtifactServices
let artifact: ArtifactModule
let work: string
let dumpDir: string
const savedEnv = { ...process.env }

// A directory-format dump in miniature: a binary table file, text, and one nested file.
const dumpFiles: Record<string, Buffer> = {
  'manifest.json': Buffer.from(JSON.stringify({ source: 'pg14', tables: 2 })),
  'toc.dat': randomBytes(4096),
  '3001.dat.zst': randomBytes(300_000),
  'blobs/blob_16384.dat': Buffer.from([0, 255, 1, 254, 0, 0, 10, 13])
}

beforeAll(async () => {
  // In process, @actions/core writes its workflow commands to stdout: keep them out of the test log.
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
  services = await startArtifactServices()
  Object.assign(process.env, services.env)
  // @actions/github reads GITHUB_API_URL when first loaded, so load the stage after the env is set.
  artifact = await import('../../src/artifact/github-artifacts.js')
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'artifact-test-'))
  dumpDir = path.join(work, 'dump')
  for (const [name, bytes] of Object.entries(dumpFiles)) {
    await fs.mkdir(path.dirname(path.join(dumpDir, name)), { recursive: true })
    await fs.writeFile(path.join(dumpDir, name), bytes)
  }
})

afterAll(async () => {
  await services?.close()
  process.env = savedEnv
  if (work) await fs.rm(work, { recursive: true, force: true })
})

async function readTree(dir: string, prefix = ''): Promise<Record<string, Buffer>> {
  const files: Record<string, Buffer> = {}
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name
    if (entry.isDirectory()) Object.assign(files, await readTree(path.join(dir, entry.name), rel))
    else files[rel] = await fs.readFile(path.join(dir, entry.name))
  }
  return files
}

// @actions/artifact sleeps 3 s, then ×1.5 with jitter, between its 5 attempts and has no setting for
// it; shrink just those sleeps so a test of the failure path takes milliseconds, and record them.
async function withShortRetrySleeps<T>(work: () => Promise<T>): Promise<{ result: Promise<T>; sleeps: number[] }> {
  const realSetTimeout = globalThis.setTimeout
  const sleeps: number[] = []
  const spy = jest.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    const isRetrySleep = ms !== undefined && ms >= 3000 && ms < 16000
    if (isRetrySleep) sleeps.push(ms)
    return realSetTimeout(fn, isRetrySleep ? 5 : ms)
  }) as typeof setTimeout)
  const result = work()
  await result.catch(() => undefined)
  spy.mockRestore()
  return { result, sleeps }
}

describe('uploadDump', () => {
  let uploaded: Awaited<ReturnType<ArtifactModule['uploadDump']>>

  it('uploads every file of the dump folder, stored uncompressed, byte for byte', async () => {
    uploaded = await artifact.uploadDump(dumpDir, { name: 'pg-dump', retentionDays: 3 })

    const zip = await services.readBlob('pg-dump')
    expect(uploaded).toEqual({
      id: expect.any(Number),
      name: 'pg-dump',
      size: zip.length,
      digest: `sha256:${createHash('sha256').update(zip).digest('hex')}`,
      url: `https://github.com/octo-org/app/actions/runs/4242/artifacts/${'id' in uploaded ? uploaded.id : ''}`
    })
    const entries = await unzipEntries(zip)
    expect(Object.fromEntries(entries)).toEqual(dumpFiles)
    // compressionLevel 0: random bytes plus zip headers, nothing deflated away or added
    const payload = Object.values(dumpFiles).reduce((sum, b) => sum + b.length, 0)
    expect(zip.length).toBeGreaterThan(payload)
    expect(zip.length).toBeLessThan(payload + 2048)

    const create = services.calls.find((c) => c.method === 'CreateArtifact')
    expect(create?.body).toMatchObject({ name: 'pg-dump', version: 7, expires_at: expect.any(String) })
  })

  it('downloads it again in the same run, with a progress line against the artifact size', async () => {
    const destination = path.join(work, 'same-run')
    const { log, lines } = recordingLog()
    const timeline: ProgressSample[] = []
    await expect(artifact.downloadDump({ name: 'pg-dump', destination, progress: { log, timeline } })).resolves.toBe(
      destination
    )
    expect(await readTree(destination)).toEqual(dumpFiles)
    // The run ends with every byte on disk: the dump's files, against the zip that holds them.
    const payload = Object.values(dumpFiles).reduce((sum, b) => sum + b.length, 0)
    const size = 'size' in uploaded ? uploaded.size : 0
    expect(timeline.at(-1)).toMatchObject({ stage: 'download', bytes: payload, totalBytes: size })
    expect(lines.at(-1)).toMatch(/^download: 297\.\d KiB of 29\d\.\d KiB \(100%\); [\d.]+ [KM]iB\/s/)
  })

  it('downloads it from another run with a token', async () => {
    const destination = path.join(work, 'other-run')
    await artifact.downloadDump({
      name: 'pg-dump',
      destination,
      runId: 4242,
      repository: 'octo-org/app',
      token: 't0k3n'
    })
    expect(await readTree(destination)).toEqual(dumpFiles)
  })

  it('refuses a second artifact with the same name in the run', async () => {
    await expect(artifact.uploadDump(dumpDir, { name: 'pg-dump' })).rejects.toThrow(
      'uploading artifact "pg-dump" failed: Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run: pg-dump'
    )
  })

  it('rides out a short outage of the artifact service', async () => {
    services.failNext(2)
    const { result, sleeps } = await withShortRetrySleeps(() => artifact.uploadDump(dumpDir, { name: 'after-outage' }))
    await expect(result).resolves.toMatchObject({ name: 'after-outage' })
    expect(sleeps).toHaveLength(2)
  })

  it('fails with a clear message once the retries run out', async () => {
    services.failNext(5)
    const { result, sleeps } = await withShortRetrySleeps(() => artifact.uploadDump(dumpDir, { name: 'never' }))
    await expect(result).rejects.toThrow(
      'uploading artifact "never" failed: Failed to CreateArtifact: Failed to make request after 5 attempts: Failed request: (500) Internal Server Error: injected failure'
    )
    expect(sleeps[0]).toBe(3000)
    expect(sleeps).toHaveLength(4)
  })
})

describe('downloadDump', () => {
  it('says which artifact is missing and what to do', async () => {
    await expect(artifact.downloadDump({ name: 'nope', destination: path.join(work, 'nope') })).rejects.toThrow(
      'artifact "nope" not found in this run; upload it earlier in this run under that name, or pass the run id and a token to read it from another run'
    )
    await expect(
      artifact.downloadDump({ name: 'nope', destination: path.join(work, 'nope'), runId: 4242, token: 't0k3n' })
    ).rejects.toThrow('artifact "nope" not found in run 4242 of octo-org/app; check the name and run id')
  })
})

describe('outside GitHub Actions', () => {
  it('skips the upload and keeps the dump on disk', async () => {
    const token = process.env.ACTIONS_RUNTIME_TOKEN
    delete process.env.ACTIONS_RUNTIME_TOKEN
    try {
      await expect(artifact.uploadDump(dumpDir, { name: 'local' })).resolves.toEqual({
        skipped: true,
        reason: 'not running in GitHub Actions (no ACTIONS_RUNTIME_TOKEN)',
        instead: `the dump stays at ${dumpDir}`
      })
      await expect(artifact.downloadDump({ name: 'pg-dump', destination: path.join(work, 'x') })).rejects.toThrow(
        'cannot look up artifact "pg-dump": not running in GitHub Actions'
      )
    } finally {
      process.env.ACTIONS_RUNTIME_TOKEN = token
    }
  })
})
