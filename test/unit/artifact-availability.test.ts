// GitHub Enterprise Server has no artifact service @actions/artifact v2+ can use: the run says so in
// one line, keeps the dump on disk, and names the split workflow's way around it.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { artifactsUnavailable, enterpriseServerHost } from '../../src/artifact/availability.js'
import { githubArtifactStore } from '../../src/artifact/store.js'
import { Stage, Stages, type StageTiming } from '../../src/action/stages.js'
import { renderSummary } from '../../src/action/summary.js'
import { newReport } from '../../src/action/report.js'
import { uploadDumpArtifact, type UploadOutcome } from '../../src/modes/steps/upload.js'
import { recordingLog } from '../support/in-process.js'

test.each([
  ['https://github.com', undefined],
  ['https://octo-corp.ghe.com', undefined],
  ['http://actions.localhost', undefined],
  ['', undefined],
  ['https://github.example.com', 'github.example.com'],
  ['https://GHES.Corp.Internal:8443/', 'ghes.corp.internal']
])('GITHUB_SERVER_URL %p is Enterprise Server: %p', (url, host) => {
  expect(enterpriseServerHost({ GITHUB_SERVER_URL: url })).toBe(host)
})

test('on github.com with a runtime token the service is there', () => {
  expect(artifactsUnavailable({ GITHUB_SERVER_URL: 'https://github.com', ACTIONS_RUNTIME_TOKEN: 't' }, '/d')).toBe(
    undefined
  )
})

describe('an upload on GitHub Enterprise Server', () => {
  const saved = { ...process.env }
  let dumpDir = ''
  beforeAll(() => {
    dumpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghes-dump-'))
    fs.writeFileSync(path.join(dumpDir, 'toc.dat'), 'x')
    // A runtime token is set there too: the host alone must decide, before any request is made.
    Object.assign(process.env, {
      GITHUB_SERVER_URL: 'https://github.example.com',
      ACTIONS_RUNTIME_TOKEN: 'token',
      ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/'
    })
  })
  afterAll(() => {
    process.env = saved
    fs.rmSync(dumpDir, { recursive: true, force: true })
  })

  test('is skipped with one warning line saying what the run does instead', async () => {
    const { log, lines } = recordingLog()
    const timings: StageTiming[] = []
    const outcomes: UploadOutcome[] = []
    const request = {
      artifacts: githubArtifactStore(),
      log,
      dumpDir,
      database: 'shop',
      name: 'pg-dump-shop',
      required: false,
      visibility: 'private' as const
    }
    await new Stages(timings, log).run(
      Stage.UploadArtifact,
      'shop',
      () => uploadDumpArtifact(request, (o) => outcomes.push(o)),
      false
    )
    expect(lines).toEqual([
      `::warning::artifact not uploaded: GitHub Enterprise Server (github.example.com) has no artifact service this action can use; the dump stays at ${dumpDir} on this runner; in a split workflow run the dump and restore jobs on one self-hosted runner and give the restore job that folder as dump-path (upload-artifact: false silences this)`
    ])
    expect(timings).toEqual([
      expect.objectContaining({
        stage: Stage.UploadArtifact,
        status: 'skipped',
        detail: 'GitHub Enterprise Server (github.example.com) has no artifact service this action can use'
      })
    ])

    const report = { ...newReport('dump'), result: 'passed' as const, stages: timings, artifact: outcomes[0] }
    const summary = renderSummary(report)
    expect(summary).toMatch(/\| Upload artifact \| shop \| [\d.]+ \| skipped: GitHub Enterprise Server/)
    expect(summary).not.toMatch(/Upload artifact[^\n]*\| ok \|/)
    expect(summary).toContain('**Artifact:** not uploaded: GitHub Enterprise Server (github.example.com)')
  })

  test('a restore that must download the artifact is refused with the way around it', async () => {
    await expect(githubArtifactStore().download({ name: 'pg-dump-shop', destination: dumpDir })).rejects.toThrow(
      'cannot download artifact "pg-dump-shop": GitHub Enterprise Server (github.example.com) has no artifact service this action can use; run the restore job on the runner that holds the dump and pass its folder as dump-path'
    )
  })
})
