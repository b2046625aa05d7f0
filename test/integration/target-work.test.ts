// What the load asks of the target besides the rows: the planner statistics carried from the source
// onto an 18 target (pg_dump 18 --statistics) so ANALYZE takes only what they lack, ANALYZE beside
// the rest of the load, and COPY FREEZE on the dump path.
import fs from 'node:fs'
import path from 'node:path'
import { outcome, PASSED } from '../support/run-action.js'
import { scratchFolder } from '../support/scratch.js'
import { defaultBaseDir, serverUrl, startServer, stopServer, withClient } from '../support/servers.js'
import { loadTestbed, uniqueName } from '../support/testbed.js'

const testbed = loadTestbed()
const scratch = scratchFolder('target-work-')
const toolCache = path.join(scratch, 'tool-cache')
const run = testbed.runner(toolCache)
const baseDir = defaultBaseDir('pg-migrate-target-work')
let target18: Awaited<ReturnType<typeof startServer>>

afterAll(async () => {
  if (target18) await stopServer(target18, 'immediate')
  fs.rmSync(baseDir, { recursive: true, force: true })
  fs.rmSync(scratch, { recursive: true, force: true })
})

/**
 * `kept` is analyzed on the source, then grows by rows the analysis never saw (autovacuum off): the
 * statistics carried say k is always 1, a fresh ANALYZE would see 2 too. `extended` has extended
 * statistics, which pg_dump does not carry; `unanalyzed` was never analyzed.
 */
const STATISTICS_SQL = `
CREATE SCHEMA app;
CREATE TABLE app.kept (id int PRIMARY KEY, k int, v text) WITH (autovacuum_enabled = false);
CREATE INDEX kept_lower ON app.kept (lower(v));
INSERT INTO app.kept SELECT g, 1, 'v' || g FROM generate_series(1, 1000) g;
ANALYZE app.kept;
INSERT INTO app.kept SELECT g, 2, 'w' || g FROM generate_series(1001, 4000) g;
CREATE TABLE app.extended (a int, b int) WITH (autovacuum_enabled = false);
INSERT INTO app.extended SELECT g % 10, g % 10 FROM generate_series(1, 1000) g;
CREATE STATISTICS app.extended_ab (dependencies) ON a, b FROM app.extended;
ANALYZE app.extended;
CREATE TABLE app.unanalyzed (id int) WITH (autovacuum_enabled = false);
INSERT INTO app.unanalyzed SELECT generate_series(1, 500);
`

describe('onto an 18 target', () => {
  const db = uniqueName('stats')

  beforeAll(async () => {
    ;[target18] = await Promise.all([
      startServer({ major: 18, baseDir, target: true }),
      testbed.createSourceDatabase(db, STATISTICS_SQL)
    ])
  }, 120_000)

  test('the statistics come from the source, ANALYZE takes only what they lack', async () => {
    const migrated = await run({
      'source-url': testbed.sourceUrl(db),
      'target-url': serverUrl(target18, db, target18.admin),
      'copy-method': 'stream'
    })
    expect(outcome(migrated)).toEqual(PASSED)
    const work = migrated.report.databases[0].targetWork
    expect(work.statisticsCarried).toBe(true)
    const targetUrl = serverUrl(target18, db)
    const stats = await withClient(targetUrl, async (client) => {
      const { rows } = await client.query(
        `SELECT tablename, attname, most_common_vals::text AS common FROM pg_stats WHERE schemaname = 'app' ORDER BY 1, 2`
      )
      return rows
    })
    // Carried, not analyzed again: the source's figures, from before the last 3000 rows.
    expect(stats).toContainEqual({ tablename: 'kept', attname: 'k', common: '{1}' })
    expect(stats).toContainEqual(expect.objectContaining({ tablename: 'kept_lower', attname: 'lower' }))
    // What pg_dump does not carry is analyzed on the target.
    expect(stats).toContainEqual(expect.objectContaining({ tablename: 'unanalyzed', attname: 'id' }))
    const extended = await withClient(targetUrl, (client) =>
      client.query(`SELECT statistics_name FROM pg_stats_ext WHERE statistics_schemaname = 'app'`)
    )
    expect(extended.rows).toEqual([{ statistics_name: 'extended_ab' }])
    expect(work.analyze).toEqual({ analyzed: 2, alreadyComplete: 1 })
    expect(migrated.summary).toContain('Planner statistics carried from the source')
  })
})

describe('onto a 17 target, through the dump', () => {
  const db = uniqueName('ahead')

  beforeAll(async () => {
    // `mid` (about 10 MB) is loaded as pg_dump writes it, over one connection; the others by pg_restore.
    // Autovacuum stays off (the option moves with the tables): only the run analyzes them.
    await testbed.createSourceDatabase(
      db,
      `CREATE TABLE mid (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false);
       INSERT INTO mid SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 90000) g;
       CREATE TABLE parent (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
       INSERT INTO parent SELECT generate_series(1, 100);
       CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, note text) WITH (autovacuum_enabled = false);
       CREATE INDEX child_note ON child (upper(note));
       INSERT INTO child SELECT g, 1 + g % 100, 'n' || g FROM generate_series(1, 2000) g;
       CREATE TABLE bare (v text) WITH (autovacuum_enabled = false);
       INSERT INTO bare SELECT 'b' || g FROM generate_series(1, 300) g;`
    )
  }, 60_000)

  test('every table is analyzed once, beside the load or after it, and the followed table is written frozen', async () => {
    const migrated = await run(testbed.actionInputs(db, db))
    expect(outcome(migrated)).toEqual(PASSED)
    expect(migrated.report.databases[0].restore.followed).toEqual(['public.mid'])
    const ahead = Number(/analyzed (\d+) tables beside the rest of the load/.exec(migrated.stdout)?.[1] ?? 0)
    const after = migrated.report.databases[0].targetWork.analyze
    expect(ahead + after.analyzed).toBe(4)
    expect(migrated.summary).toContain(`ANALYZE ran on ${after.analyzed} table`)
    const { rows } = await testbed.query(
      'target',
      db,
      `SELECT c.relname, EXISTS (SELECT FROM pg_stats s WHERE s.schemaname = 'public' AND s.tablename = c.relname) AS analyzed,
              c.relpages, c.relallvisible
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1`
    )
    expect(rows.map((row) => [row.relname, row.analyzed])).toEqual([
      ['bare', true],
      ['child', true],
      ['mid', true],
      ['parent', true]
    ])
    // COPY FREEZE marks the pages it fills all-visible (a page a later batch tops up stays unmarked);
    // ANALYZE reads that count from the map. A plain COPY marks none, and autovacuum is off.
    const mid = rows.find((row) => row.relname === 'mid')
    expect(mid.relpages).toBeGreaterThan(1000)
    expect(mid.relallvisible).toBeGreaterThan(0.95 * mid.relpages)
    const expression = await testbed.query(
      'target',
      db,
      `SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = 'public' AND tablename = 'child_note'`
    )
    expect(expression.rows).toEqual([{ n: 1 }])
  })
})
