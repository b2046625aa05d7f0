// The two-part verify of sync: logical against real servers: the target verified in bulk beside
// the sync, then at cutover only the rows the stream touched (by key on both sides) and, whole, the
// tables it truncated or whose rows have no key. The application's changes start once the slot
// exists, so every one of them is in the stream and the keys they touch are known to the test.
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { runInProcess, type InProcessOptions } from '../support/in-process.js'
import { loadTestbed, tableDigests, withClient } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'
import { syncOwner } from '../support/sync-owner.js'

const testbed = loadTestbed()
const scratch = scratchFolder('sync-verify-')
const { ownerUrl, migrate, ...made } = syncOwner('sync_verify', scratch)
const withClientOnPath: InProcessOptions = { env: { PGBIN: testbed.clientBinDir } }

const APP = `CREATE SCHEMA app;
  CREATE TABLE app.items (id int PRIMARY KEY, name text, qty int);
  CREATE TABLE app.pairs (k1 int, k2 text, v int, PRIMARY KEY (k1, k2));
  CREATE TABLE app.loose (x int, y text);
  ALTER TABLE app.loose REPLICA IDENTITY FULL;
  CREATE TABLE app.scratch (k text PRIMARY KEY, v int);
  CREATE TABLE app.quiet (id int PRIMARY KEY, v text);
  INSERT INTO app.items SELECT g, 'item ' || g, g FROM generate_series(1, 2000) g;
  INSERT INTO app.pairs SELECT g % 10, 'k' || g, g FROM generate_series(1, 100) g;
  INSERT INTO app.loose SELECT g % 5, 'dup' FROM generate_series(1, 50) g;
  INSERT INTO app.scratch SELECT 's' || g, g FROM generate_series(1, 20) g;
  INSERT INTO app.quiet SELECT g, 'quiet ' || g FROM generate_series(1, 500) g;`

/**
 * The application's changes after the slot's snapshot: 50 items updated, 20 inserted, 10 deleted,
 * 5 given new keys (10 keys), 10 pairs updated; the keyless table changed; scratch truncated;
 * quiet left alone.
 */
const CHANGES = [
  'UPDATE app.items SET qty = qty + 1 WHERE id BETWEEN 1 AND 50',
  `INSERT INTO app.items SELECT g, 'new ' || g, 0 FROM generate_series(3001, 3020) g`,
  'DELETE FROM app.items WHERE id BETWEEN 101 AND 110',
  'UPDATE app.items SET id = id + 10000 WHERE id BETWEEN 201 AND 205',
  'UPDATE app.pairs SET v = v + 1 WHERE k1 = 1',
  `DELETE FROM app.loose WHERE x = 1; UPDATE app.loose SET y = 'two' WHERE x = 2`,
  `BEGIN; TRUNCATE app.scratch; INSERT INTO app.scratch VALUES ('after', 1); COMMIT`
]
const ITEM_KEYS = 50 + 20 + 10 + 10

const sourceDatabase = (prefix: string): Promise<string> => made.sourceDatabase(prefix, APP)

/**
 * The application: CHANGES once the slot exists, then a write to an already changed row every 100 ms,
 * so the sync cannot cut over, until the test lets it stop.
 */
class Application {
  private stopped = false
  private begin: () => void = () => undefined
  private readonly begun = new Promise<void>((resolve) => (this.begin = resolve))
  /** Resolves once CHANGES are committed. */
  readonly changed: Promise<void>
  readonly running: Promise<void>

  constructor(url: string) {
    const client = new pg.Client({ connectionString: url })
    let changedNow: () => void = () => undefined
    this.changed = new Promise((resolve) => (changedNow = resolve))
    this.running = (async () => {
      await client.connect()
      try {
        await this.begun
        for (const sql of CHANGES) await client.query(sql)
        changedNow()
        for (let i = 0; !this.stopped; i++) {
          await client.query('UPDATE app.items SET qty = $1 WHERE id = 1', [i])
          await sleep(100)
        }
      } finally {
        await client.end()
      }
    })()
  }

  start(): void {
    this.begin()
  }

  stop(): void {
    this.stopped = true
    this.begin()
  }
}

/** Waits until the target holds the row the source holds (the apply has reached it). */
async function applied(database: string, sql: string): Promise<void> {
  const read = async (url: string) => withClient(url, async (client) => JSON.stringify((await client.query(sql)).rows))
  const want = await read(ownerUrl(database))
  for (let i = 0; i < 600 && (await read(testbed.targetSuperUrl(database))) !== want; i++) await sleep(100)
}

test('at cutover only the rows the stream touched are compared, by key; truncated and keyless tables whole', async () => {
  const database = await sourceDatabase('sync_verify_ok')
  const app = new Application(ownerUrl(database))
  const run = await runInProcess(migrate(database), {
    ...withClientOnPath,
    onLine(line) {
      if (line.startsWith('sync: slot ')) app.start()
      if (line.startsWith('sync: caught up with the source')) void app.changed.then(() => app.stop())
    }
  })
  app.stop()
  await app.running
  const sync = run.report.databases[0].sync
  expect({ result: run.report.result, errors: run.errors, mismatches: run.report.mismatches }).toEqual({
    result: 'passed',
    errors: [],
    mismatches: 0
  })
  // TRUNCATE is not MVCC-safe: a snapshot taken before it sees the table empty once it commits, so the
  // bulk verify counts scratch's 20 rows or none. That is why a truncated table is read whole at cutover.
  expect(sync?.verify?.bulk.tables).toBe(5)
  expect([2000 + 100 + 50 + 500, 2000 + 100 + 50 + 20 + 500]).toContain(sync?.verify?.bulk.rows)
  const atCutover = sync?.verify?.atCutover
  // Each changed row is compared once: before cutover while the source is quiet (and it stands, not
  // changed since), or at cutover. A truncated table is read whole at cutover, the keyless one at
  // either.
  expect(atCutover?.untouched).toBe(1)
  expect((atCutover?.keys ?? 0) + (atCutover?.standing?.keys ?? 0)).toBe(ITEM_KEYS + 10)
  expect(atCutover?.whole).toEqual(expect.arrayContaining([{ table: 'app.scratch', why: 'truncated' }]))
  const readWhole = [...(atCutover?.whole ?? []).map((t) => t.table), ...(atCutover?.standing?.whole ?? [])]
  expect(readWhole.sort()).toEqual(['app.loose', 'app.scratch'])
  // The row counts verify shows are those of now, carried forward from the bulk verify by the keys.
  const items = run.report.databases[0].targetFingerprint?.tables.find((t) => t.name === 'items')
  expect(items?.rows).toBe(2000 + 20 - 10)
  expect(run.summary).toContain('Verified in bulk beside the sync: 5 tables')
  expect(run.summary).toMatch(/Verified at cutover in [\d.]+ s: \d+ changed rows by key on both sides/)
  expect(await tableDigests(testbed.targetSuperUrl(database))).toEqual(await tableDigests(ownerUrl(database)))
})

test('a row the stream touched, changed on the target behind the apply, fails verify at cutover and is named', async () => {
  const database = await sourceDatabase('sync_verify_touched')
  const app = new Application(ownerUrl(database))
  let tampered: Promise<unknown> = Promise.resolve()
  const run = await runInProcess(migrate(database), {
    ...withClientOnPath,
    onLine(line) {
      if (line.startsWith('sync: slot ')) app.start()
      if (!line.startsWith('sync: caught up with the source')) return
      // Once the apply has written item 7's change, someone else changes it on the target; the
      // application writes on meanwhile, so the cutover comes after.
      tampered = app.changed
        .then(() => applied(database, 'SELECT * FROM app.items WHERE id = 7'))
        .then(() => testbed.query('target', database, `UPDATE app.items SET name = 'behind the apply' WHERE id = 7`))
        .finally(() => app.stop())
    }
  })
  app.stop()
  await app.running
  await tampered
  expect(run.report.result).toBe('failed')
  const atCutover = run.report.databases[0].sync?.verify?.atCutover
  expect((atCutover?.keys ?? 0) + (atCutover?.standing?.keys ?? 0)).toBe(ITEM_KEYS + 10)
  const differences = run.report.databases[0].comparison?.differences ?? []
  // The row's hash differs. The target's statistics may also count one update more than the stream
  // made, but not always: the apply folds repeated updates of a row into one, which leaves them room.
  const unexpected = differences.filter((d) => !d.expected)
  expect(unexpected).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        kind: 'checksum',
        object: 'app.items',
        detail: `1 of the ${ITEM_KEYS} rows the sync changed hold other values on the target`
      })
    ])
  )
  expect(unexpected.map((d) => d.object)).toEqual(unexpected.map(() => 'app.items'))
  expect(run.report.databases[0].differingRows).toEqual({ 'app.items': ['7'] })
})

test('a row the stream never touched, changed on the target after the bulk verify, is caught by the target statistics', async () => {
  const database = await sourceDatabase('sync_verify_untouched')
  const app = new Application(ownerUrl(database))
  let tampered: Promise<unknown> = Promise.resolve()
  const run = await runInProcess(migrate(database), {
    ...withClientOnPath,
    onLine(line) {
      if (line.startsWith('sync: slot ')) app.start()
      if (!line.startsWith('sync: bulk verify:')) return
      // After the bulk verify read the target, someone else changes a row no change of the stream
      // touches; the application writes on meanwhile, so the cutover comes after.
      tampered = app.changed
        .then(() => testbed.query('target', database, `UPDATE app.quiet SET v = 'behind the apply' WHERE id = 3`))
        .finally(() => app.stop())
    }
  })
  app.stop()
  await app.running
  await tampered
  expect(run.report.result).toBe('failed')
  expect(run.report.databases[0].sync?.verify?.atCutover?.untouched).toBe(1)
  const differences = run.report.databases[0].comparison?.differences ?? []
  expect(differences.filter((d) => !d.expected)).toEqual([
    expect.objectContaining({
      kind: 'checksum',
      object: 'app.quiet',
      detail: expect.stringMatching(
        /^written on the target behind the sync: its statistics count 0 inserted, 1 updated/
      )
    })
  ])
  // Located as verify locates any differing row: by bisecting the key ranges of both sides.
  expect(run.report.databases[0].differingRows).toEqual({ 'app.quiet': ['3'] })
})

/** The rows of a table on one side, in order, to compare source and target. */
const rowsOf = (url: string, sql: string): Promise<unknown[]> =>
  withClient(url, async (client) => (await client.query(sql)).rows)

test('rows compared before cutover and changed on the target behind the apply after it are still caught', async () => {
  const database = await sourceDatabase('sync_verify_early_behind')
  const app = new Application(ownerUrl(database))
  let tampered: Promise<unknown> = Promise.resolve()
  let earlyChecks = 0
  // Quiet for 4 s before cutover: the early verify comes at the first second of quiet.
  const run = await runInProcess(migrate(database, { 'cutover-idle-seconds': '4' }), {
    ...withClientOnPath,
    onLine(line) {
      if (line.startsWith('sync: slot ')) app.start()
      if (line.startsWith('sync: caught up with the source')) void app.changed.then(() => app.stop())
      if (!line.startsWith('sync: early verify: ') || earlyChecks++ > 0) return
      // After the early verify compared them, a changed row of pairs and the keyless table are
      // written on the target by someone else; nothing the stream sends touches them again.
      tampered = testbed.query(
        'target',
        database,
        `UPDATE app.pairs SET v = -1 WHERE k1 = 1 AND k2 = 'k1'; INSERT INTO app.loose VALUES (7, 'behind the apply')`
      )
    }
  })
  app.stop()
  await app.running
  await tampered
  expect(run.report.result).toBe('failed')
  const verify = run.report.databases[0].sync?.verify
  expect(verify?.early?.checks).toBeGreaterThanOrEqual(1)
  expect(verify?.atCutover?.standing?.whole).toContain('app.loose')
  // Neither is compared again at cutover: the target's statistics count the writes no change made.
  const unexpected = (run.report.databases[0].comparison?.differences ?? []).filter((d) => !d.expected)
  expect(unexpected).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        object: 'app.pairs',
        detail: expect.stringMatching(
          /^written on the target behind the sync: its statistics count 0 inserted, 1 updated/
        )
      }),
      expect.objectContaining({
        object: 'app.loose',
        detail: expect.stringMatching(
          /^written on the target behind the sync: its statistics count 1 inserted, 0 updated/
        )
      })
    ])
  )
  expect(run.report.databases[0].differingRows?.['app.pairs']).toEqual(['(1, k1)'])
})

test('a keyless table changed on the source during the quiet wait is compared again, after its change', async () => {
  const database = await sourceDatabase('sync_verify_early_loose')
  const app = new Application(ownerUrl(database))
  let written: Promise<unknown> = Promise.resolve()
  let earlyChecks = 0
  const run = await runInProcess(migrate(database, { 'cutover-idle-seconds': '4' }), {
    ...withClientOnPath,
    onLine(line) {
      if (line.startsWith('sync: slot ')) app.start()
      if (line.startsWith('sync: caught up with the source')) void app.changed.then(() => app.stop())
      if (!line.startsWith('sync: early verify: ') || earlyChecks++ > 0) return
      // The keyless table was read whole early; the application writes it once more while the
      // action waits for the quiet period, which starts again.
      written = withClient(ownerUrl(database), (client) =>
        client.query(`INSERT INTO app.loose VALUES (8, 'late'); UPDATE app.loose SET y = 'later' WHERE x = 3`)
      )
    }
  })
  app.stop()
  await app.running
  await written
  expect({ result: run.report.result, errors: run.errors, mismatches: run.report.mismatches }).toEqual({
    result: 'passed',
    errors: [],
    mismatches: 0
  })
  const verify = run.report.databases[0].sync?.verify
  // Read whole a second time, before cutover or at it: never taken as read from before its change.
  const readAgain =
    (verify?.early?.checks ?? 0) >= 2 || (verify?.atCutover?.whole ?? []).some((t) => t.table === 'app.loose')
  expect(readAgain).toBe(true)
  const loose = run.report.databases[0].targetFingerprint?.tables.find((t) => t.name === 'loose')
  expect(loose?.rows).toBe(50 - 10 + 1)
  const sql = 'SELECT x, y, count(*) FROM app.loose GROUP BY x, y ORDER BY x, y'
  expect(await rowsOf(testbed.targetSuperUrl(database), sql)).toEqual(await rowsOf(ownerUrl(database), sql))
})

test('the plan of a sync of several databases says each is cut over in a window of its own', async () => {
  const [first, second] = [await sourceDatabase('sync_verify_one'), await sourceDatabase('sync_verify_two')]
  const plan = await runInProcess(
    { ...migrate(first), 'target-url': testbed.targetUrl('postgres'), databases: `${first}, ${second}`, mode: 'plan' },
    withClientOnPath
  )
  const found = plan.report.databases.flatMap((database) => database.findings)
  expect(found.filter((finding) => finding.id === 'sync-window-per-database')).toEqual([
    expect.objectContaining({
      severity: 'warning',
      message: expect.stringMatching(/^sync: logical with 2 databases: each is copied, synced and cut over in turn/),
      hint: expect.stringContaining('2 × (cutover-idle-seconds + a few seconds)')
    })
  ])
})
