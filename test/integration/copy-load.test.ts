import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import type pg from 'pg'
import { copyIntoStreams, prepareLoadSession, type FollowedTable } from '../../src/tools/copy-load.js'
import { followableTables } from '../../src/tools/follow.js'
import { SlabPool } from '../../src/tools/slab-pool.js'
import { loadTestbed, loadTestbedState, tableDigests, uniqueName, withClient } from '../support/testbed.js'

const testbed = loadTestbed()
const { clientBinDir } = loadTestbedState()

/** What a COPY can get wrong, as in follow.test.ts: a dropped and a generated column, escapes, NULLs, bytea, xml, arrays. */
const TABLE = `
CREATE SCHEMA app;
CREATE TABLE app.tricky (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  gone int,
  note text,
  doc jsonb,
  raw bytea,
  x xml,
  tags text[],
  n numeric(12, 3),
  half bigint GENERATED ALWAYS AS (id / 2) STORED
);
ALTER TABLE app.tricky DROP COLUMN gone;`
const ROWS = `
INSERT INTO app.tricky (note, doc, raw, x, tags, n)
SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE E'tab\\there\\nnewline \\\\ backslash ' || repeat(md5(i::text), 1 + i % 40) || ' é€' END,
       jsonb_build_object('i', i, 's', repeat(md5(i::text), 2)),
       decode(md5(i::text), 'hex'),
       xmlparse(content '<a>' || i || '</a>tail'),
       ARRAY['x' || i, NULL, 'q"uote'],
       i / 7.0
  FROM generate_series(1, 20000) i;`

const source = uniqueName('streams')
let dumpDir: string
let dataFile: string
let data: Buffer
let table: FollowedTable

beforeAll(async () => {
  await testbed.createSourceDatabase(source, TABLE + ROWS)
  dumpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-streams-'))
  const url = new URL(testbed.sourceUrl(source))
  execFileSync(
    path.join(clientBinDir, 'pg_dump'),
    ['--format=directory', '--compress=0', '--table=app.tricky', `--file=${dumpDir}/dump`],
    {
      env: {
        ...process.env,
        PGHOST: url.hostname,
        PGPORT: url.port,
        PGUSER: decodeURIComponent(url.username),
        PGPASSWORD: decodeURIComponent(url.password),
        PGDATABASE: source
      }
    }
  )
  const file = fs.readdirSync(path.join(dumpDir, 'dump')).find((f) => f.endsWith('.dat')) as string
  dataFile = path.join(dumpDir, 'dump', file)
  data = fs.readFileSync(dataFile)
  const tables = await withClient(testbed.sourceUrl(source), (client: pg.Client) => followableTables(client, 0))
  table = [...tables.values()].find((t) => t.name === 'app.tricky') as FollowedTable
})

afterAll(() => fs.rmSync(dumpDir, { recursive: true, force: true }))

/** The data in pieces of changing sizes, many shorter than a row, so lines are cut everywhere. */
function pieces(bytes: Buffer, failAfter?: number): Readable {
  const sizes = [1, 3, 17, 250, 4093, 65537, 7, 1000]
  return Readable.from(
    (function* () {
      let at = 0
      for (let i = 0; at < bytes.length; i++) {
        if (failAfter !== undefined && at >= failAfter) throw new Error('the data file was cut short')
        const size = sizes[i % sizes.length]
        yield bytes.subarray(at, at + size)
        at += size
      }
    })(),
    { objectMode: false }
  )
}

/** Runs `work` with `n` connections to a fresh target database holding the empty table. */
async function withStreams<T>(name: string, n: number, work: (targets: pg.Client[], url: string) => Promise<T>) {
  await testbed.createTargetDatabase(name)
  const url = testbed.targetUrl(name)
  await withClient(url, (client: pg.Client) => client.query(TABLE))
  const targets: pg.Client[] = []
  try {
    for (let i = 0; i < n; i++) {
      const { Client } = (await import('pg')).default
      const client = new Client({ connectionString: url })
      await client.connect()
      await prepareLoadSession(client, 'UTF8', 17)
      targets.push(client)
    }
    return await work(targets, url)
  } finally {
    await Promise.all(targets.map((t) => t.end().catch(() => undefined)))
  }
}

const truncateOn = (url: string) => () =>
  withClient(url, (client: pg.Client) => client.query('TRUNCATE ONLY app.tricky')).then(() => undefined)

const count = (url: string) =>
  withClient(url, async (client: pg.Client) => {
    const { rows } = await client.query(
      'SELECT count(*)::int AS n, count(DISTINCT xmin::text)::int AS loads FROM app.tricky'
    )
    return rows[0] as { n: number; loads: number }
  })

test('the data file of pg_dump, cut anywhere, goes whole to three connections: the table equals the source', async () => {
  const target = `${source}_ok`
  await withStreams(target, 3, async (targets, url) => {
    await copyIntoStreams({ targets, table, data: pieces(data), truncate: truncateOn(url) })
    // Three transactions took rows: the load did not fall back to one connection.
    expect(await count(url)).toEqual({ n: 20000, loads: 3 })
  })
  const [sourceDigests, targetDigests] = await Promise.all([
    tableDigests(testbed.sourceUrl(source)),
    tableDigests(testbed.targetSuperUrl(target))
  ])
  expect(targetDigests['app.tricky']).toEqual(sourceDigests['app.tricky'])
})

test.each([1, 3])(
  'pieces read into slabs that are taken again once sent (%i connections): the table equals the source',
  async (streams) => {
    // Small slabs, two kept: each is reused again and again while the load runs (slab-pool.test.ts
    // shows a slab comes back only once its socket has sent it).
    const pool = new SlabPool(4096, 2)
    // Read from the data file as the follower reads it, into slabs of the pool.
    const fromSlabs = Readable.from(
      (async function* () {
        const handle = await fs.promises.open(dataFile)
        try {
          for (let i = 0; ; i++) {
            const slab = pool.take()
            const size = [4096, 1000, 3, 4096, 77][i % 5]
            const { bytesRead } = await handle.read(slab, 0, size, null)
            if (bytesRead === 0) return
            yield slab.subarray(0, bytesRead)
          }
        } finally {
          await handle.close()
        }
      })(),
      { objectMode: false }
    )
    const target = `${source}_slabs${streams}`
    await withStreams(target, streams, async (targets, url) => {
      await copyIntoStreams({ targets, table, data: fromSlabs, pool, truncate: truncateOn(url) })
      expect((await count(url)).loads).toBe(streams)
    })
    expect(pool.reused).toBeGreaterThan(100)
    const [sourceDigests, targetDigests] = await Promise.all([
      tableDigests(testbed.sourceUrl(source)),
      tableDigests(testbed.targetSuperUrl(target))
    ])
    expect(targetDigests['app.tricky']).toEqual(sourceDigests['app.tricky'])
  }
)

test('data that fails part way: every COPY is cancelled and nothing of the table is committed', async () => {
  await withStreams(`${source}_cut`, 3, async (targets, url) => {
    const load = copyIntoStreams({ targets, table, data: pieces(data, data.length / 2), truncate: truncateOn(url) })
    await expect(load).rejects.toThrow('the data file was cut short')
    expect((await count(url)).n).toBe(0)
    // The connections are usable again, outside any transaction.
    const states = await Promise.all(targets.map(async (t) => (await t.query('SELECT 1 AS ok')).rows[0].ok))
    expect(states).toEqual([1, 1, 1])
  })
})

test('a row the target refuses on one connection rolls every connection back', async () => {
  await withStreams(`${source}_bad`, 3, async (targets, url) => {
    // In the middle: the file ends with COPY's end marker (\.), after which the target reads nothing.
    const middle = data.indexOf(10, data.length / 2) + 1
    const bad = Buffer.concat([data.subarray(0, middle), Buffer.from('not a number\there\n'), data.subarray(middle)])
    const load = copyIntoStreams({ targets, table, data: pieces(bad), truncate: truncateOn(url) })
    await expect(load).rejects.toThrow(/invalid input syntax|extra data|missing data/)
    expect((await count(url)).n).toBe(0)
  })
})

test('a commit that fails after another succeeded: the committed rows are removed again', async () => {
  await withStreams(`${source}_commit`, 3, async (targets, url) => {
    // At commit, a transaction fails when it sees rows another transaction has committed: every
    // commit after the first fails, as when the connection drops between the commits.
    await withClient(testbed.targetSuperUrl(`${source}_commit`), (client: pg.Client) =>
      client.query(`
        CREATE FUNCTION app.only_first() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          -- Once per transaction: its first deferred row looks.
          IF current_setting('app.looked', true) = 'yes' THEN RETURN NULL; END IF;
          PERFORM set_config('app.looked', 'yes', true);
          IF EXISTS (SELECT 1 FROM app.tricky WHERE xmin <> pg_current_xact_id()::text::xid) THEN
            RAISE EXCEPTION 'another load committed first';
          END IF;
          RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER only_first AFTER INSERT ON app.tricky
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION app.only_first();`)
    )
    const load = copyIntoStreams({ targets, table, data: pieces(data), truncate: truncateOn(url) })
    await expect(load).rejects.toThrow(
      /another load committed first \(the streams of app\.tricky that had committed were emptied again\)/
    )
    expect((await count(url)).n).toBe(0)
  })
})
