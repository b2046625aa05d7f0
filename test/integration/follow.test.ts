import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { deferred } from '../../src/base/async.js'
import { Cancellation } from '../../src/base/cancellation.js'
import { Connector } from '../../src/pg/connection.js'
import { parseDatabaseUrl } from '../../src/pg/endpoint.js'
import { Passfile } from '../../src/pg/passfile.js'
import type { Client } from '../../src/tools/client/install.js'
import { copyInto, dataFileReader, followableTables, restoreBesideDump } from '../../src/tools/follow.js'
import type { DumpProgress } from '../../src/tools/pg-dump.js'
import { ProcessRunner } from '../../src/tools/run-tool.js'
import { recordingLog } from '../support/in-process.js'
import { outcome, PASSED, runAction } from '../support/run-action.js'
import { loadTestbed, loadTestbedState, tableDigests, uniqueName, withClient } from '../support/testbed.js'

const testbed = loadTestbed()
const { clientBinDir } = loadTestbedState()

/**
 * Tables over the 8 MiB the action follows, with what a COPY can get wrong: a dropped and a generated
 * column, an identity column, tabs, newlines, backslashes and non-ASCII text, NULLs, bytea, xml,
 * arrays. A partitioned table as big is left to pg_restore; a foreign key and indexes come after.
 */
const BIG_TABLES = `
CREATE SCHEMA app;
CREATE TABLE app.big (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  gone int,
  note text,
  doc jsonb,
  raw bytea,
  x xml,
  tags text[],
  at timestamptz,
  n numeric(12, 3),
  half bigint GENERATED ALWAYS AS (id / 2) STORED
);
ALTER TABLE app.big DROP COLUMN gone;
INSERT INTO app.big (note, doc, raw, x, tags, at, n)
SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE E'tab\\there\\nnewline \\\\ backslash ' || md5(i::text) || ' é€' END,
       jsonb_build_object('i', i, 's', repeat(md5(i::text), 2)),
       decode(md5(i::text), 'hex'),
       xmlparse(content '<a>' || i || '</a>tail'),
       ARRAY['x' || i, NULL, 'q"uote'],
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
       i / 7.0
  FROM generate_series(1, 50000) i;
CREATE INDEX big_note ON app.big (note);
CREATE TABLE public.refs (id int PRIMARY KEY, big_id bigint REFERENCES app.big, filler text);
INSERT INTO public.refs SELECT i, i, repeat('r', 200) FROM generate_series(1, 50000) i;
CREATE TABLE public.small (id int PRIMARY KEY);
INSERT INTO public.small SELECT generate_series(1, 10);
CREATE TABLE public.parted (id int, filler text) PARTITION BY RANGE (id);
CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (1000000);
INSERT INTO public.parted SELECT i, repeat('p', 200) FROM generate_series(1, 50000) i;
`

async function migrate(source: string, target: string, extra: Record<string, string> = {}) {
  const run = await runAction(testbed.actionInputs(source, target, extra))
  expect(outcome(run)).toEqual(PASSED)
  const [sourceDigests, targetDigests] = await Promise.all([
    tableDigests(testbed.sourceUrl(source)),
    tableDigests(testbed.targetSuperUrl(target))
  ])
  expect(targetDigests).toEqual(sourceDigests)
  return run
}

describe('the restore follows the dump', () => {
  const db = uniqueName('follow')

  beforeAll(async () => {
    await testbed.createSourceDatabase(db, BIG_TABLES)
  })

  test('big tables load as pg_dump writes them; small ones and partitions by pg_restore; all verified', async () => {
    const run = await migrate(db, `${db}_auto`)
    expect([...run.report.databases[0].restore.followed].sort()).toEqual(['app.big', 'public.refs'])
    expect(run.stdout).toContain('loading app.big as pg_dump writes it')
    expect(run.summary).toContain('2 tables loaded as pg_dump wrote them')
    expect(run.report.stages.find((s: { stage: string }) => s.stage === 'Restore')?.status).toBe('ok')
  })

  test('compression gzip is followed too', async () => {
    const run = await migrate(db, `${db}_gzip`, { compression: 'gzip' })
    expect(run.report.databases[0].restore.followed).toHaveLength(2)
  })

  // An uncompressed dump, followed: what compression none gives too.
  test('with nothing uploaded, auto leaves the dump uncompressed, and says why', async () => {
    // The dump path asked for: with nothing uploaded, copy-method auto would stream the rows instead.
    const run = await migrate(db, `${db}_plain`, { 'upload-artifact': 'false', 'copy-method': 'dump' })
    expect(run.stdout).toMatch(/compression: none \(the dump is not uploaded, and .* free holds it uncompressed\)/)
    expect(run.stdout).toContain('--compress=0')
    expect(run.report.databases[0].restore.followed).toHaveLength(2)
  })

  test('lz4, which Node cannot stream, restores once the dump is complete', async () => {
    const run = await migrate(db, `${db}_lz4`, { compression: 'lz4' })
    expect(run.report.databases[0].restore.followed).toBeUndefined()
  })

  test('one job restores once the dump is complete', async () => {
    const run = await migrate(db, `${db}_one`, { jobs: '1' })
    expect(run.report.databases[0].restore.followed).toBeUndefined()
  })
})

test('a LATIN1 source is loaded in its own encoding', async () => {
  const db = uniqueName('latin1')
  await testbed.query(
    'source',
    'postgres',
    `CREATE DATABASE ${db} ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'`
  )
  await testbed.query(
    'source',
    db,
    `CREATE TABLE words (id int PRIMARY KEY, word text);
     INSERT INTO words SELECT i, 'café crème brûlée ' || repeat(md5(i::text), 3) FROM generate_series(1, 80000) i`
  )
  const run = await migrate(db, db)
  expect(run.report.databases[0].restore.followed).toEqual(['public.words'])
  const { rows } = await testbed.query('target', db, `SELECT word FROM words WHERE id = 1`)
  expect(rows[0].word).toMatch(/^café crème brûlée /)
})

test('data that fails part way cancels the COPY, so nothing of it is committed', async () => {
  const db = uniqueName('cut')
  await testbed.createTargetDatabase(db)
  await withClient(testbed.targetUrl(db), async (client: pg.Client) => {
    await client.query('CREATE TABLE t (id int)')
    const rows = (cutShort: boolean) =>
      Readable.from(
        (async function* () {
          for (let i = 1; i <= 1000; i++) yield Buffer.from(`${i}\n`)
          if (cutShort) throw new Error('the data file was cut short')
        })()
      )
    const count = async () => (await client.query('SELECT count(*)::int AS n FROM t')).rows[0].n as number
    const table = { name: 'public.t', qualified: 'public.t', columns: 'id' }
    await expect(copyInto(client, table, rows(true))).rejects.toThrow('the data file was cut short')
    expect(await count()).toBe(0)
    // The same rows, whole, are committed: the zero above was the cancel's doing.
    await copyInto(client, table, rows(false))
    expect(await count()).toBe(1000)
  })
})

/**
 * pg_dump played back at its boundary, the dump folder and its --verbose lines, from a real dump:
 * toc.dat first, then the table's data file written a piece at a time while the follower reads it.
 */
describe('a data file read while it is written', () => {
  const db = uniqueName('growing')
  let realDump: string
  let entry: string
  const client: Client = {
    version: '17',
    major: 17,
    binDir: clientBinDir,
    source: 'runner',
    programs: Object.fromEntries(
      ['pg_dump', 'pg_restore', 'psql', 'pg_dumpall'].map((p) => [p, path.join(clientBinDir, p)])
    ) as Client['programs']
  }

  beforeAll(async () => {
    await testbed.createSourceDatabase(
      db,
      `CREATE TABLE t (id int PRIMARY KEY, note text);
       INSERT INTO t SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 200000) i`
    )
    realDump = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-growing-'))
    const url = new URL(testbed.sourceUrl(db))
    execFileSync(client.programs.pg_dump, ['--format=directory', '--compress=gzip:1', `--file=${realDump}/dump`], {
      env: {
        ...process.env,
        PGHOST: url.hostname,
        PGPORT: url.port,
        PGUSER: decodeURIComponent(url.username),
        PGPASSWORD: decodeURIComponent(url.password),
        PGDATABASE: db
      }
    })
    entry = fs.readdirSync(path.join(realDump, 'dump')).find((f) => f.endsWith('.dat.gz')) as string
  })
  afterAll(() => fs.rmSync(realDump, { recursive: true, force: true }))

  async function rowsCopying(target: string): Promise<number> {
    const { rows } = await testbed.query(
      'target',
      target,
      'SELECT coalesce(sum(tuples_processed), 0)::int AS n FROM pg_stat_progress_copy'
    )
    return rows[0].n
  }

  /** The rows a COPY into `target` has taken, once there are any (0 if none within a minute). */
  async function rowsCopyingOnceAny(target: string): Promise<number> {
    const until = Date.now() + 60_000
    for (;;) {
      const rows = await rowsCopying(target)
      if (rows > 0 || Date.now() > until) return rows
      await sleep(50)
    }
  }

  /**
   * Plays pg_dump: toc.dat, the start line, the data file in pieces, then `end` (finish or fail).
   * `streams`: load the table over the jobs' two connections instead of one.
   */
  async function playBack(target: string, end: 'finish' | 'fail', streams = false) {
    await testbed.createTargetDatabase(target)
    const dumpDir = path.join(realDump, target)
    fs.mkdirSync(dumpDir)
    fs.copyFileSync(path.join(realDump, 'dump', 'toc.dat'), path.join(dumpDir, 'toc.dat'))
    const tables = await withClient(testbed.sourceUrl(db), (source: pg.Client) => followableTables(source, 0))
    const passfile = new Passfile(realDump)
    const { log } = recordingLog()
    const scope = { log, cancellation: new Cancellation() }
    // pg_dump, played back: its lines go to whoever listens, and its end is ours to choose.
    const listeners: ((line: string) => void)[] = []
    const exited = deferred<boolean>()
    const dump: DumpProgress = {
      dir: dumpDir,
      onLine: (listener) => listeners.push(listener),
      done: exited.promise.then((ok) => {
        if (!ok) throw new Error('pg_dump failed')
      })
    }
    const say = (line: string) => listeners.forEach((listener) => listener(line))
    const restored = restoreBesideDump(dump, {
      restorer: {
        client,
        tools: new ProcessRunner(scope),
        log,
        endpoint: parseDatabaseUrl('target-url', testbed.targetUrl(target), log),
        passfile,
        dumpDir,
        options: { jobs: 2, privileges: 'skip', superuser: false }
      },
      scope,
      connector: new Connector(scope),
      encoding: 'UTF8',
      targetMajor: 17,
      tables,
      reader: dataFileReader('gzip:1'),
      multiStreamMinBytes: streams ? 0 : undefined,
      prepareTarget: () => Promise.resolve()
    })
    const data = fs.readFileSync(path.join(realDump, 'dump', entry))
    const out = fs.openSync(path.join(dumpDir, entry), 'w')
    say('pg_dump: dumping contents of table "public.t"')
    const pieces = 20
    const last = end === 'finish' ? pieces - 1 : pieces / 2
    let copying = 0
    for (let i = 0; i <= last; i++) {
      const piece = data.subarray(Math.floor((i * data.length) / pieces), Math.floor(((i + 1) * data.length) / pieces))
      // Before the last piece is written: the target takes rows of the pieces written so far. Waited
      // for, not sampled after a delay: under load the schema restore may still be running.
      if (i === last) copying = await rowsCopyingOnceAny(target)
      fs.writeSync(out, piece)
      await sleep(100)
    }
    fs.closeSync(out)
    if (end === 'finish') say(`pg_dump: finished item ${entry.split('.')[0]} TABLE DATA t`)
    exited.resolve(end === 'finish')
    const result = await restored
    passfile.remove()
    const { rows } = await testbed.query(
      'target',
      target,
      'SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS loads FROM t'
    )
    return { result, copying, rows: rows[0].n as number, loads: rows[0].loads as number }
  }

  test('rows reach the target before the file is complete, and all of them by its end', async () => {
    const { result, copying, rows } = await playBack(`${db}_ok`, 'finish')
    expect(copying).toBeGreaterThan(0)
    expect(rows).toBe(200000)
    expect(result?.followed).toEqual(['public.t'])
  })

  test('pg_dump failing part way leaves the table empty, not cut short', async () => {
    const { result, copying, rows } = await playBack(`${db}_fail`, 'fail')
    expect(result).toBeUndefined()
    expect(copying).toBeGreaterThan(0)
    expect(rows).toBe(0)
  })

  test('over two connections: rows reach the target as the file grows, all of them by its end', async () => {
    const { result, copying, rows, loads } = await playBack(`${db}_two`, 'finish', true)
    expect(copying).toBeGreaterThan(0)
    expect(rows).toBe(200000)
    expect(loads).toBe(2)
    expect(result?.followed).toEqual(['public.t'])
  })

  test('over two connections, pg_dump failing part way leaves the table empty', async () => {
    const { result, copying, rows } = await playBack(`${db}_two_fail`, 'fail', true)
    expect(result).toBeUndefined()
    expect(copying).toBeGreaterThan(0)
    expect(rows).toBe(0)
  })
})
