// The job summary of real runs, drawn as GitHub draws it: every Mermaid chart through mermaid-cli in
// chromium (one that does not parse fails the test), the markdown through cmark-gfm, and a picture of
// the page with the charts in place, kept under build/summary-render/ for a person to look at.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { runInProcess, type InProcessOptions, type InProcessRun } from '../support/in-process.js'
import { renderSummary } from '../support/render-summary.js'
import { REPO_ROOT, serverUrl } from '../support/servers.js'
import { loadTestbed, quoteIdent, uniqueName, withClient } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'

const testbed = loadTestbed()
const scratch = scratchFolder('summary-render-')
const OUT = path.join(REPO_ROOT, 'build', 'summary-render')
const withClientOnPath: InProcessOptions = { env: { PGBIN: testbed.clientBinDir } }
const SAMPLE = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sample.sql'), 'utf8')
const owner = { user: uniqueName('render_owner'), password: randomBytes(12).toString('hex') }

beforeAll(async () => {
  fs.rmSync(OUT, { recursive: true, force: true })
  fs.mkdirSync(OUT, { recursive: true })
  process.stdout.write(`rendered summaries (HTML, SVG charts, PNG screenshots): ${OUT}\n`)
  await testbed.query(
    'source',
    'postgres',
    `CREATE ROLE ${quoteIdent(owner.user)} LOGIN REPLICATION PASSWORD '${owner.password}'`
  )
})

function inputs(source: string, target: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'source-url': source,
    'target-url': target,
    jobs: '2',
    'upload-artifact': 'false',
    'dump-path': path.join(scratch, uniqueName('dump')),
    ...extra
  }
}

/** The bars' labels of a rendered Gantt chart, in order. */
function barLabels(svg: string): string[] {
  return [...svg.matchAll(/<text id="[^"]*-task\d+-text"[^>]*>([^<]*)</g)].map((match) => match[1].trim())
}

/** The run's summary rendered into its own folder; the charts it holds, as SVG. */
async function rendered(run: InProcessRun, name: string): Promise<{ charts: string[]; screenshot: string }> {
  const dir = path.join(OUT, name)
  fs.mkdirSync(dir)
  const { charts, screenshot } = await renderSummary(run.summary, dir)
  const blocks = run.summary.match(/^```mermaid$/gm) ?? []
  expect(charts).toHaveLength(blocks.length)
  // A PNG, and not an empty one.
  const png = fs.readFileSync(screenshot)
  expect(png.subarray(1, 4).toString()).toBe('PNG')
  expect(png.length).toBeGreaterThan(10_000)
  return { charts, screenshot }
}

test('a migration: the stages as a Gantt chart that renders, the restore drawn beside the dump', async () => {
  const db = uniqueName('render')
  await testbed.createSourceDatabase(db, SAMPLE)
  // The dump's copy step: its source checksums read every table (the stream's hash some in flight).
  const run = await runInProcess(
    inputs(testbed.sourceUrl(db), testbed.targetUrl(db), { 'copy-method': 'dump' }),
    withClientOnPath
  )
  expect({ result: run.report.result, errors: run.errors }).toEqual({ result: 'passed', errors: [] })
  const { charts } = await rendered(run, 'migrate')
  expect(charts).toHaveLength(1)
  const bars = barLabels(fs.readFileSync(charts[0], 'utf8'))
  expect(bars).toEqual(expect.arrayContaining(['Plan', 'Dump', 'Restore', 'Checksum source', 'Verify']))
  // Outside the chart, the text a person must read is still there.
  expect(run.summary).toContain('**Verification: no differences**')

  // The index builds are a stage of their own, inside the restore.
  const stage = (name: string) => run.report.stages.find((s) => s.stage === name)
  const [restore, indexes] = [stage('Restore'), stage('Build indexes')]
  expect(indexes?.status).toBe('ok')
  expect(indexes?.start ?? -1).toBeGreaterThanOrEqual(restore?.start ?? Infinity)
  // The report's timeline: the checksums of both sides end at every byte and every row they read.
  const database = run.report.databases[0]
  const rows = database.targetFingerprint?.tables.reduce((sum, t) => sum + t.rows, 0)
  for (const side of ['source checksums', 'target checksums']) {
    const last = database.progress?.filter((sample) => sample.stage === side).at(-1)
    expect({ side, rows: last?.rows, bytes: last?.bytes }).toEqual({ side, rows, bytes: last?.totalBytes })
  }
})

test('a sync: the stages with the catch-up and the cutover, and the lag over time, both render', async () => {
  const db = uniqueName('render_sync')
  await testbed.query('source', 'postgres', `CREATE DATABASE ${db} OWNER ${quoteIdent(owner.user)}`)
  const ownerUrl = serverUrl(testbed.source, db, owner)
  await withClient(ownerUrl, (client) =>
    client.query(`CREATE TABLE items (id int PRIMARY KEY, label text);
      INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g;`)
  )
  let written: Promise<unknown> | undefined
  const run = await runInProcess(
    inputs(ownerUrl, testbed.targetUrl(db), { sync: 'logical', 'cutover-idle-seconds': '2' }),
    {
      ...withClientOnPath,
      // Changes for the catch-up to replay: written once the slot is made, before the dump begins.
      onLine(line) {
        if (!written && line.startsWith('sync: '))
          written = withClient(ownerUrl, (client) =>
            client.query(`INSERT INTO items SELECT g, 'new ' || g FROM generate_series(2001, 2500) g`)
          )
      }
    }
  )
  await written
  expect({ result: run.report.result, errors: run.errors }).toEqual({ result: 'passed', errors: [] })
  const { charts } = await rendered(run, 'sync')
  expect(charts).toHaveLength(2)
  const [stages, lag] = charts.map((chart) => fs.readFileSync(chart, 'utf8'))
  expect(barLabels(stages)).toEqual(expect.arrayContaining(['Dump', 'Restore', 'Sync', 'Cutover', 'Verify']))
  expect(lag).toMatch(/aria-roledescription="xychart/)
  expect(lag).toContain('Lag behind the source')
  // The catch-up's timeline ends with every change replayed.
  const catchUp = run.report.databases[0].progress?.filter((sample) => sample.stage === 'catch-up').at(-1)
  expect(catchUp?.rows).toBe(500)
  expect(run.report.databases[0].sync?.applied?.inserts).toBe(500)
})

test('a chart that does not parse fails the rendering', async () => {
  const dir = path.join(OUT, 'broken')
  fs.mkdirSync(dir)
  const broken = '## x\n\n```mermaid\ngantt\n    dateFormat x\n    Dump :done, not-a-time, 5\n```\n'
  await expect(renderSummary(broken, dir)).rejects.toThrow(/mmdc/)
})
