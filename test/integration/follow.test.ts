import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { clientEnvironment, parseDatabaseUrl, Passfile } from '../../src/connection.js'
import { conninfoValue } from '../../src/restore.js'
import { runTool } from '../../src/run-tool.js'
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
    // The load began while pg_dump ran: before the line the dump logs once it has exited.
    expect(run.stdout.indexOf('loading app.big as pg_dump writes it')).toBeLessThan(run.stdout.indexOf('dump: '))
    expect(run.report.stages.find((s: { stage: string }) => s.stage === 'Restore')?.status).toBe('ok')
  })

  test.each(['gzip', 'none'])('compression %s is followed too', async (compression) => {
    const run = await migrate(db, `${db}_${compression}`, { compression })
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

test('input that fails part way kills psql before its COPY ends, so nothing is committed', async () => {
  const db = uniqueName('cut')
  await testbed.createTargetDatabase(db)
  await withClient(testbed.targetUrl(db), (client) => client.query('CREATE TABLE t (id int)'))
  const passfile = new Passfile(fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-test-')))
  const env = clientEnvironment(parseDatabaseUrl('target-url', testbed.targetUrl(db)), passfile)
  const copy = (cutShort: boolean) =>
    runTool(
      path.join(clientBinDir, 'psql'),
      ['--no-psqlrc', '--set=ON_ERROR_STOP=1', `--dbname=dbname=${conninfoValue(db)}`, '--command=COPY t FROM STDIN'],
      {
        stage: 'Restore',
        env,
        input: Readable.from(
          (async function* () {
            for (let i = 1; i <= 1000; i++) yield `${i}\n`
            if (cutShort) throw new Error('the data file was cut short')
          })()
        )
      }
    )
  const count = async () => (await testbed.query('target', db, 'SELECT count(*)::int AS n FROM t')).rows[0].n as number
  try {
    await expect(copy(true)).rejects.toThrow('psql input failed: the data file was cut short')
    expect(await count()).toBe(0)
    // The same rows, whole: they are committed, so the zero above was the kill's doing.
    await copy(false)
    expect(await count()).toBe(1000)
  } finally {
    passfile.remove()
  }
})
