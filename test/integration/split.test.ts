import fs from 'node:fs'
import path from 'node:path'
import { startArtifactServices, unzipEntries } from '../support/artifact-service.js'
import { runAction, outcome, PASSED } from '../support/run-action.js'
import { REPO_ROOT } from '../support/servers.js'
import { loadTestbed, uniqueName } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'

const testbed = loadTestbed()
const SAMPLE = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sample.sql'), 'utf8')
let services: Awaited<ReturnType<typeof startArtifactServices>>
const scratch = scratchFolder('split-')

beforeAll(async () => {
  services = await startArtifactServices({})
})
afterAll(async () => {
  await services.close()
  fs.rmSync(scratch, { recursive: true, force: true })
})

async function targetTables(db: string): Promise<number> {
  const { rows } = await testbed.query(
    'target',
    db,
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`
  )
  return rows[0].n
}

describe('split migration: dump here, restore there, the artifact in between', () => {
  const db = uniqueName('split')
  const artifact = `dump-${db}`

  beforeAll(async () => {
    await testbed.createSourceDatabase(db, SAMPLE)
  })

  test('dump mode uploads the dump and its manifest; the zip holds exactly the dump files', async () => {
    const dumpPath = fs.mkdtempSync(path.join(scratch, 'dump-'))
    const run = await runAction(
      {
        mode: 'dump',
        'source-url': testbed.sourceUrl(db),
        // The restore side runs 17: dump with 17's pg_dump, as a 14 → 17 split would.
        'postgres-version': '17',
        'client-download-url': testbed.clientTemplate,
        'artifact-name': artifact,
        'dump-path': path.join(dumpPath, 'dump')
      },
      { env: services.env }
    )
    expect(outcome(run)).toEqual(PASSED)
    expect(run.outputs['artifact-id']).toMatch(/^\d+$/)
    expect(run.outputs['artifact-digest']).toMatch(/^sha256:[0-9a-f]{64}$/)
    const entries: Map<string, Buffer> = await unzipEntries(await services.readBlob(artifact))
    const dumpDir = path.join(dumpPath, 'dump')
    const onDisk = fs.readdirSync(dumpDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    expect(new Set(entries.keys())).toEqual(
      new Set(onDisk.map((e) => path.relative(dumpDir, path.join(e.parentPath, e.name))))
    )
    for (const [name, bytes] of entries) expect(bytes.equals(fs.readFileSync(path.join(dumpDir, name)))).toBe(true)
    const manifest = JSON.parse(entries.get('manifest.json')?.toString() ?? '{}')
    expect(manifest).toMatchObject({ format: 2, database: db, sourceVersion: expect.stringMatching(/^14\./) })
    expect(manifest.sourceFingerprint.tables.length).toBeGreaterThan(5)
  })

  test('restore mode, given no source, downloads the artifact, restores and verifies against the manifest', async () => {
    const run = await runAction(
      {
        mode: 'restore',
        'target-url': testbed.targetUrl(db),
        'client-download-url': testbed.clientTemplate,
        'artifact-name': artifact
      },
      { env: services.env }
    )
    expect(outcome(run)).toEqual(PASSED)
    expect(run.outputs.mismatches).toBe('0')
    expect(run.report.databases[0].comparison.passed).toBe(true)
    expect(await targetTables(db)).toBeGreaterThan(5)
  })

  test('a flipped byte in one dump file makes restore refuse before the target is written', async () => {
    const dumpDir = fs.mkdtempSync(path.join(scratch, 'corrupt-'))
    const entries: Map<string, Buffer> = await unzipEntries(await services.readBlob(artifact))
    for (const [name, bytes] of entries) {
      fs.mkdirSync(path.dirname(path.join(dumpDir, name)), { recursive: true })
      fs.writeFileSync(path.join(dumpDir, name), bytes)
    }
    const victim = [...entries.keys()].find((name) => name.endsWith('.dat.zst')) as string
    const bytes = fs.readFileSync(path.join(dumpDir, victim))
    bytes[Math.floor(bytes.length / 2)] ^= 0x01
    fs.writeFileSync(path.join(dumpDir, victim), bytes)
    const fresh = uniqueName('split_target')
    const run = await runAction({
      mode: 'restore',
      'target-url': testbed.targetUrl(fresh),
      'client-download-url': testbed.clientTemplate,
      'dump-path': dumpDir
    })
    expect(run.exitCode).not.toBe(0)
    expect(run.stdout).toContain(`${victim} in ${dumpDir} does not match its sha256 in the manifest`)
    expect(run.outputs.result).toBe('failed')
    const exists = await testbed.query('target', 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${fresh}'`)
    expect(exists.rowCount).toBe(0)
  })
})

describe('a failing upload does not hide the migration result', () => {
  const table =
    'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g;'

  afterEach(() => services.failNext(0))

  // The library retries each call five times with backoff: about 30 s per run here.
  test('by default the migration passes and the failed upload is a warning', async () => {
    const db = uniqueName('upload_fails')
    await testbed.createSourceDatabase(db, table)
    services.failNext(1000)
    const run = await runAction(testbed.actionInputs(db, db), { env: services.env })
    expect({ exitCode: run.exitCode, result: run.outputs.result }).toEqual({ exitCode: 0, result: 'passed' })
    expect(run.stdout).toMatch(/::warning::artifact upload failed/)
    expect(run.report.artifact.failed).toMatch(/500/)
    expect(run.report.databases[0].comparison.passed).toBe(true)
  }, 170000)

  test('with artifact-required the run fails, and still reports the verified migration', async () => {
    const db = uniqueName('upload_required')
    await testbed.createSourceDatabase(db, table)
    services.failNext(1000)
    const run = await runAction(testbed.actionInputs(db, db, { 'artifact-required': 'true' }), { env: services.env })
    expect(run.exitCode).not.toBe(0)
    expect(run.outputs.result).toBe('failed')
    expect(run.stdout).toMatch(/::error::.*artifact-required is true/)
    expect(run.report.databases[0].comparison.passed).toBe(true)
    expect(run.report.databases[0].error.stage).toBe('Upload artifact')
  }, 170000)
})
