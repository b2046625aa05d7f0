import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { prepareStreamTarget } from '../../src/stream/sessions.js'
import { streamTables, type StreamResult } from '../../src/stream/engine.js'
import { streamedTables, type StreamedTable } from '../../src/stream/tables.js'
import { closeSession, openSession, openSessions } from '../../src/verify/fingerprint/session.js'
import { fingerprintTables } from '../../src/verify/fingerprint/tables.js'
import type { TableFingerprint } from '../../src/verify/fingerprint/types.js'
import { locateDifferingRows } from '../../src/verify/locate.js'
import { canMountTmpfs, mountTmpfs, startHoldingProxy } from '../support/faults.js'
import { serverUrl } from '../support/servers.js'
import { outcome, PASSED, runAction, type ActionRun } from '../support/run-action.js'
import { loadTestbed, tableDigests, uniqueName, withClient } from '../support/testbed.js'

const testbed = loadTestbed()

/**
 * What the stream must carry exactly: tabs, newlines, backslashes and non-ASCII text, NULLs, bytea,
 * xml, arrays, floats, intervals, timestamps; a table big enough to split, one without a key, a
 * hash-partitioned table (its rows go in through the root), a generated column and a reg* column
 * (both hashed server-side).
 */
const SCHEMA = `
CREATE SCHEMA app;
CREATE TABLE app.big (
  id bigint PRIMARY KEY, gone int, note text, doc jsonb, raw bytea, x xml, tags text[],
  at timestamptz, span interval, f float8, n numeric(12, 3)
);
ALTER TABLE app.big DROP COLUMN gone;
CREATE TABLE app."no key" ("Weird ""col""" text, b int);
CREATE TABLE app.parted (id int PRIMARY KEY, v text) PARTITION BY HASH (id);
CREATE TABLE app.parted_0 PARTITION OF app.parted FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE app.parted_1 PARTITION OF app.parted FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE app.ranged (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE app.ranged_low PARTITION OF app.ranged FOR VALUES FROM (0) TO (1000);
CREATE TABLE app.derived (id int PRIMARY KEY, twice int GENERATED ALWAYS AS (id * 2) STORED);
CREATE TABLE app.named (id int PRIMARY KEY, rel regclass);
`
const ROWS = `
INSERT INTO app.big (id, note, doc, raw, x, tags, at, span, f, n)
SELECT i, CASE WHEN i % 97 = 0 THEN NULL ELSE E'tab\\there\\nnewline \\\\ backslash ' || repeat(md5(i::text), 1 + i % 20) || ' é€' END,
       jsonb_build_object('i', i, 's', md5(i::text)), decode(md5(i::text), 'hex'),
       xmlparse(content '<a>' || i || '</a>tail'), ARRAY['x' || i, NULL, 'q"uote'],
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second', i * interval '1 minute 3.5 seconds',
       i / 3.0::float8, i / 7.0
  FROM generate_series(1, 40000) i;
INSERT INTO app."no key" SELECT 'row ' || (i % 50), i % 7 FROM generate_series(1, 3000) i;
INSERT INTO app.parted SELECT i, md5(i::text) FROM generate_series(1, 5000) i;
INSERT INTO app.ranged SELECT i, 'r' FROM generate_series(1, 10) i;
INSERT INTO app.derived SELECT generate_series(1, 100);
INSERT INTO app.named VALUES (1, 'app.big'), (2, 'pg_catalog.pg_class');
`

const connectTo = (url: string) => async (): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}

describe('the streaming engine', () => {
  const db = uniqueName('stream')
  let sourceUrl: string
  let targetUrl: string
  let tables: StreamedTable[]
  let result: StreamResult
  const splits: [string, number][] = []
  const WINDOW = 256 * 1024

  beforeAll(async () => {
    await testbed.createSourceDatabase(db, SCHEMA + ROWS)
    await withClient(testbed.targetSuperUrl('postgres'), (client) => client.query(`CREATE DATABASE "${db}"`))
    await testbed.query('target', db, SCHEMA)
    sourceUrl = testbed.sourceUrl(db)
    targetUrl = testbed.targetSuperUrl(db)
    // The snapshot every source session imports, held open by a transaction of its own.
    const holder = await connectTo(sourceUrl)()
    try {
      await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      const { rows } = await holder.query<{ id: string }>('SELECT pg_export_snapshot() AS id')
      const snapshot = rows[0].id
      const lister = await openSession(connectTo(sourceUrl), { snapshot })
      tables = await streamedTables(lister).finally(() => closeSession(lister))
      result = await streamTables({
        openSource: () => openSession(connectTo(sourceUrl), { snapshot }),
        openTarget: async () => prepareStreamTarget(await connectTo(targetUrl)(), 17),
        sessions: 2,
        tables,
        level: 'full',
        splitMinBytes: 1024 * 1024,
        windowBytes: WINDOW,
        onSplit: (table, ranges) => splits.push([table, ranges])
      })
    } finally {
      await holder.end()
    }
  })

  afterAll(async () => {
    await withClient(testbed.targetSuperUrl('postgres'), (client) => client.query(`DROP DATABASE "${db}" WITH (FORCE)`))
  })

  it('moves every row exactly, a big table split in block ranges, hash partitions through their root', async () => {
    expect(splits).toEqual([['app.big', 2]])
    expect(tables.map((t) => t.display).sort()).toEqual([
      'app."no key"',
      'app.big',
      'app.derived',
      'app.named',
      'app.parted_0',
      'app.parted_1',
      'app.ranged_low'
    ])
    const into = Object.fromEntries(tables.map((t) => [t.name, t.loadInto]))
    expect(into).toMatchObject({ parted_0: '"app"."parted"', ranged_low: '"app"."ranged_low"' })
    expect(await tableDigests(targetUrl)).toEqual(await tableDigests(sourceUrl))
    expect(result.rows).toBe(40000 + 3000 + 5000 + 10 + 100 + 2)
  })

  it('hashes in flight what the verify reads back; generated and reg* columns go server-side', async () => {
    const hashed = result.fingerprints.map((t) => t.name).sort()
    expect(hashed).toEqual(['big', 'no key', 'parted_0', 'parted_1', 'ranged_low'])
    const why = Object.fromEntries(tables.map((t) => [t.name, t.hashedServerSide]))
    expect(why.derived).toMatch(/generated column/)
    expect(why.named).toMatch(/regclass/)
    const readBack = await targetTables(targetUrl, result.fingerprints)
    for (const streamed of result.fingerprints) {
      const found = readBack.find((t) => t.name === streamed.name)
      expect(found).toMatchObject({ rows: streamed.rows, checksum: streamed.checksum, hash: 'copy-text-by-name' })
    }
  })

  it('finds a row changed on the target, and locates it by key', async () => {
    await testbed.query('target', db, `UPDATE app.big SET note = note || 'x' WHERE id = 31337`)
    const readBack = await targetTables(targetUrl, result.fingerprints)
    const big = result.fingerprints.find((t) => t.name === 'big') as TableFingerprint
    expect(readBack.find((t) => t.name === 'big')?.checksum).not.toBe(big.checksum)
    expect(readBack.find((t) => t.name === 'no key')?.checksum).toBe(
      result.fingerprints.find((t) => t.name === 'no key')?.checksum
    )
    const keys = await locateDifferingRows(connectTo(sourceUrl), connectTo(targetUrl), big)
    expect(keys).toEqual(['31337'])
  })

  it('stops every pair when one fails, naming the table the target refused', async () => {
    const refusing = `${db}_refuses`
    await withClient(testbed.targetSuperUrl('postgres'), (client) => client.query(`CREATE DATABASE "${refusing}"`))
    try {
      await testbed.query('target', refusing, `${SCHEMA} ALTER TABLE app.big ADD CHECK (id < 30000)`)
      const url = testbed.targetSuperUrl(refusing)
      const streaming = streamTables({
        openSource: () => openSession(connectTo(sourceUrl)),
        openTarget: async () => prepareStreamTarget(await connectTo(url)(), 17),
        sessions: 2,
        tables,
        level: 'full',
        splitMinBytes: 1024 * 1024
      })
      await expect(streaming).rejects.toThrow(/^app\.big: .*violates check constraint/)
    } finally {
      await withClient(testbed.targetSuperUrl('postgres'), (client) =>
        client.query(`DROP DATABASE "${refusing}" WITH (FORCE)`)
      )
    }
  })

  it('holds no more than its window (and one socket read per stage) of COPY text at once', () => {
    expect(result.bytes).toBeGreaterThan(40 * WINDOW)
    expect(result.largestPiece).toBeGreaterThan(0)
    expect(result.largestPiece).toBeLessThanOrEqual(WINDOW)
    expect(result.peakHeldBytes).toBeLessThanOrEqual(WINDOW + 4 * result.largestPiece)
  })
})

/** The target's tables as the verify reads them, hashed the way the source side says. */
async function targetTables(url: string, like: TableFingerprint[]): Promise<TableFingerprint[]> {
  const sessions = await openSessions(connectTo(url), 2)
  try {
    return await fingerprintTables(sessions, 'full', undefined, { like, splitMinBytes: 1024 * 1024 })
  } finally {
    await Promise.all(sessions.map(closeSession))
  }
}

describe('migrate over the stream', () => {
  const source = uniqueName('streamrun')
  const target = uniqueName('streamrun_t')
  let run: ActionRun
  // Kept until the end, so the dump folder can be looked at after the run.
  let workDir: string

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-stream-'))
    await testbed.createSourceDatabase(
      source,
      `${SCHEMA}
       CREATE INDEX big_note ON app.big (note);
       CREATE TABLE app.child (id int PRIMARY KEY, big_id bigint REFERENCES app.big);
       CREATE SEQUENCE app.counter START 41;
       SELECT nextval('app.counter');
       ${ROWS}
       INSERT INTO app.child SELECT i, i FROM generate_series(1, 1000) i;`
    )
    run = await runAction(
      testbed.actionInputs(source, target, { 'upload-artifact': 'false', 'copy-method': 'stream' }),
      { workDir }
    )
  })

  afterAll(async () => {
    fs.rmSync(workDir, { recursive: true, force: true })
    await withClient(testbed.targetSuperUrl('postgres'), (client) =>
      client.query(`DROP DATABASE IF EXISTS "${target}" WITH (FORCE)`)
    )
  })

  it('passes verify', async () => {
    expect(outcome(run)).toEqual(PASSED)
    expect(run.stdout).toContain('the rows move by the stream: as requested (copy-method: stream)')
    expect(run.stdout).toMatch(/app\.big: split into 2 block ranges/)
    expect(run.stdout).toMatch(/app\.derived: checksummed server-side, as it has a generated column/)
    expect(await tableDigests(testbed.targetSuperUrl(target))).toEqual(await tableDigests(testbed.sourceUrl(source)))
    const { rows } = await testbed.query('target', target, `SELECT last_value FROM app.counter`)
    expect(Number(rows[0].last_value)).toBe(41)
    const [database] = run.report.databases
    const hashes = Object.fromEntries(
      (database.sourceFingerprint.tables as TableFingerprint[]).map((t) => [t.name, t.hash])
    )
    // big prints its rows for its hash (xml, arrays, floats…): in flight. The others hash by value on each server.
    expect(hashes).toMatchObject({
      big: 'copy-text-by-name',
      child: 'record-by-name',
      'no key': 'record-by-name',
      derived: 'record-by-name'
    })
    expect(database.stream).toMatchObject({ tables: 8, hashedInFlight: 1, hashedByValue: 5 })
    expect(run.stdout).toContain('5 of 8 tables checksummed by value on each server')
    expect(run.summary).toMatch(
      /Streamed the rows from the source to the target \(as requested \(copy-method: stream\)\): 8 tables, 49,112 rows, .* of COPY text over 2 pairs of sessions, none of it on the runner's disk .*; 1 table checked against hashes taken as its rows passed, 5 tables checksummed by value on each server, which costs the target less than printing the rows back, 2 other tables checksummed on each server/
    )
  })

  it('builds the indexes after the rows, a stage of its own inside the restore', () => {
    type Timing = { stage: string; database?: string; status: string; start: number }
    const stage = (name: string) => (run.report.stages as Timing[]).find((s) => s.stage === name)
    const [restore, indexes] = [stage('Restore'), stage('Build indexes')]
    expect({ status: indexes?.status, database: indexes?.database }).toEqual({ status: 'ok', database: source })
    expect(indexes?.start ?? -1).toBeGreaterThanOrEqual(restore?.start ?? Infinity)
  })

  it('writes no rows to the dump folder, and leaves it empty', async () => {
    const [database] = run.report.databases
    const { rows } = await testbed.query('source', source, `SELECT pg_database_size(current_database()) AS bytes`)
    // The schema alone: well under 1 % of the database.
    expect(database.dump.bytes).toBeLessThan(Number(rows[0].bytes) / 100)
    expect(database.dump.path.startsWith(workDir)).toBe(true)
    expect(fs.existsSync(database.dump.path)).toBe(false)
  })
})

describe('the stream with filters, one pair of sessions and verify: counts', () => {
  const source = uniqueName('streamcounts')
  const target = uniqueName('streamcounts_t')

  beforeAll(async () => {
    await testbed.createSourceDatabase(source, `${SCHEMA}${ROWS}`)
  })

  afterAll(async () => {
    await withClient(testbed.targetSuperUrl('postgres'), (client) =>
      client.query(`DROP DATABASE IF EXISTS "${target}" WITH (FORCE)`)
    )
  })

  it('moves only what the filters select, its rows counted on both sides', async () => {
    const run = await runAction(
      testbed.actionInputs(source, target, {
        'copy-method': 'stream',
        'upload-artifact': 'false',
        jobs: '1',
        verify: 'counts',
        tables: 'app.big, app.parted*',
        'exclude-table-data': 'app.parted_1'
      })
    )
    expect(outcome(run)).toEqual(PASSED)
    expect(run.stdout).not.toMatch(/split into/)
    const [database] = run.report.databases
    const parted = await testbed.query('source', source, 'SELECT count(*)::int AS n FROM app.parted_0')
    // app.big and app.parted_0: the filters leave app.parted_1's rows behind, and every other table.
    expect(database.stream).toMatchObject({ tables: 2, rows: 40000 + parted.rows[0].n, hashedInFlight: 0 })
    const counts = await testbed.query(
      'target',
      target,
      `SELECT (SELECT count(*) FROM app.big) AS big, (SELECT count(*) FROM app.parted_1) AS parted_1,
              (SELECT count(*) FROM pg_class WHERE relname = 'derived') AS derived`
    )
    expect(counts.rows[0]).toEqual({ big: '40000', parted_1: '0', derived: '0' })
    const hashes = (database.sourceFingerprint.tables as TableFingerprint[]).map((t) => [t.name, t.rows, t.checksum])
    expect(hashes).toContainEqual(['big', 40000, null])
  })
})

describe('the stream cancelled while a COPY waits on the target', () => {
  const source = uniqueName('streamcancel')
  const target = uniqueName('streamcancel_t')

  beforeAll(async () => {
    await testbed.createSourceDatabase(source, `${SCHEMA}${ROWS}`)
  })

  it('stops: no session of the run stays, and the database it had created is dropped', async () => {
    // The first COPY … FROM STDIN of the stream is held at a proxy: the signal lands while rows move.
    const proxy = await startHoldingProxy(testbed.target, /COPY \S+ \([^)]*\) FROM stdin/i)
    try {
      let action: ChildProcess | undefined
      const inputs = testbed.actionInputs(source, target, { 'upload-artifact': 'false', 'copy-method': 'stream' })
      inputs['target-url'] = serverUrl(
        { ...testbed.target, host: '127.0.0.1', port: proxy.port },
        target,
        testbed.target.admin
      )
      const running = runAction(inputs, { onChild: (child) => (action = child) })
      const held = await Promise.race([proxy.held, running.then(() => '')])
      expect(held).toMatch(/^COPY "app"\./)
      action?.kill('SIGINT')
      const interrupted = await running
      expect({ exitCode: interrupted.exitCode, cancelled: interrupted.report.cancelled }).toEqual({
        exitCode: 1,
        cancelled: 'SIGINT'
      })
      expect(interrupted.stdout).toContain('the rows move by the stream')
      const { rows } = await testbed.query(
        'target',
        'postgres',
        `SELECT count(*)::int AS n FROM pg_database WHERE datname = '${target}'`
      )
      expect(rows[0].n).toBe(0)
      const left = await testbed.query(
        'source',
        'postgres',
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg-migrate-action' AND datname = '${source}'`
      )
      expect(left.rows[0].n).toBe(0)
    } finally {
      await proxy.close()
    }
  })
})

describe('a dump folder on a disk a quarter the size of the database', () => {
  const mountable = canMountTmpfs()
  const needsMount = mountable ? test : test.skip
  if (!mountable) console.log('skipping the small-disk stream test: mounting a tmpfs needs root')
  const source = uniqueName('streamdisk')
  let scratch: string

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-streamdisk-'))
    await testbed.createSourceDatabase(source, `${SCHEMA}${ROWS}`)
  })

  afterAll(async () => {
    fs.rmSync(scratch, { recursive: true, force: true })
    await withClient(testbed.targetSuperUrl('postgres'), async (client) => {
      for (const target of [`${source}_s`, `${source}_d`, `${source}_a`])
        await client.query(`DROP DATABASE IF EXISTS "${target}" WITH (FORCE)`)
    })
  })

  needsMount('the plan blocks the dump path, uncompressed, with a hint that works: auto then streams', async () => {
    const { rows } = await testbed.query('source', source, 'SELECT pg_database_size(current_database()) AS bytes')
    const quarter = Math.floor(Number(rows[0].bytes) / 4)
    const dir = path.join(scratch, 'small')
    const unmount = mountTmpfs(dir, { size: String(quarter) })
    try {
      const dumpPath = path.join(dir, 'dump')
      const dumped = await runAction(
        testbed.actionInputs(source, `${source}_d`, {
          'upload-artifact': 'false',
          'dump-path': dumpPath,
          'copy-method': 'dump',
          compression: 'none'
        })
      )
      const blocked = dumped.report.databases[0]
      expect(dumped.report.result).toBe('failed')
      expect(blocked.findings).toContainEqual(
        expect.objectContaining({
          id: 'dump-disk-too-small',
          severity: 'blocker',
          message: expect.stringMatching(
            /the disk under dump-path has .* free, and the dump \(uncompressed\) needs about/
          ),
          hint: expect.stringMatching(/copy-method: stream \(or auto\)/)
        })
      )
      // The plan's estimate: the tables' size on the source, more than the disk holds; nothing written.
      expect(blocked.disk?.freeBytes).toBeLessThan(blocked.disk?.dumpBytes ?? 0)
      expect(dumped.summary).toMatch(/Disk under dump-path: .* free\. The dump path needs about/)
      const created = await testbed.query(
        'target',
        'postgres',
        `SELECT 1 FROM pg_database WHERE datname = '${source}_d'`
      )
      expect(created.rowCount).toBe(0)

      // The hint followed: copy-method auto (its default) streams, and says why.
      const streamed = await runAction(
        testbed.actionInputs(source, `${source}_s`, { 'upload-artifact': 'false', 'dump-path': dumpPath })
      )
      expect(outcome(streamed)).toEqual(PASSED)
      expect(streamed.report.databases[0].copyMethod).toEqual({
        method: 'stream',
        why: expect.stringMatching(/the disk under dump-path \(.* free\) would not surely hold the dump uncompressed/)
      })
      expect(await tableDigests(testbed.targetSuperUrl(`${source}_s`))).toEqual(
        await tableDigests(testbed.sourceUrl(source))
      )
    } finally {
      unmount()
    }
  })

  test('auto keeps the dump path where the disk holds the dump uncompressed, and says why', async () => {
    const run = await runAction(
      testbed.actionInputs(source, `${source}_a`, {
        'upload-artifact': 'false',
        'dump-path': path.join(scratch, 'roomy', 'dump')
      })
    )
    expect(outcome(run)).toEqual(PASSED)
    expect(run.report.databases[0].copyMethod).toEqual({
      method: 'dump',
      why: expect.stringMatching(/^the disk under dump-path holds the dump uncompressed \(.* free, up to .* needed\)/)
    })
    expect(run.report.databases[0].stream).toBeUndefined()
  })
})
