// The figures progress lines are made of, read from a real server's pg_stat_progress_copy while
// a COPY runs: they only grow, and a COPY that ends keeps counting.
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { indexedTableBytes, watchCopies, watchIndexBuilds, type CopyFigures } from '../../src/pg/copy-progress.js'
import { recordingLog } from '../support/in-process.js'
import { loadTestbed, uniqueName, withClient } from '../support/testbed.js'

const testbed = loadTestbed()
const db = uniqueName('copyprogress')
beforeAll(() => testbed.createSourceDatabase(db, 'CREATE TABLE t (id int, v text);'))

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 50) {
    if (waited > 20_000) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Rows for COPY t FROM STDIN, numbered from `first`. */
function rows(first: number, n: number): string {
  return Array.from({ length: n }, (_, i) => `${first + i}\t${'x'.repeat(100)}\n`).join('')
}

test('rows and bytes of running and finished COPYs, summed, never going back', async () => {
  const loader = new pg.Client({ connectionString: testbed.sourceUrl(db) })
  const watcher = new pg.Client({ connectionString: testbed.sourceUrl(db) })
  await Promise.all([loader.connect(), watcher.connect()])
  const seen: CopyFigures[] = []
  const { log } = recordingLog()
  const watch = watchCopies(watcher, 'COPY FROM', (figures) => seen.push(figures), log, 50)
  try {
    const first = loader.query(copyFrom('COPY t FROM STDIN'))
    first.write(rows(1, 50_000))
    await until(() => (seen.at(-1)?.rows ?? 0) > 0, 'the running COPY to show')
    const running = seen.at(-1) as CopyFigures
    expect(running.bytes).toBeGreaterThan(running.rows * 100)
    await new Promise<void>((resolve, reject) => first.end(() => resolve()).on('error', reject))
    const samplesBefore = seen.length
    await until(() => seen.length > samplesBefore + 1, 'a sample taken after the COPY ended')
    const afterFirst = (seen.at(-1) as CopyFigures).rows
    expect(afterFirst).toBeGreaterThanOrEqual(running.rows)

    const second = loader.query(copyFrom('COPY t FROM STDIN'))
    second.write(rows(50_001, 50_000))
    await until(() => (seen.at(-1)?.rows ?? 0) > afterFirst, 'the second COPY to add to the first')
    await new Promise<void>((resolve, reject) => second.end(() => resolve()).on('error', reject))
  } finally {
    await watch.stop()
    await Promise.all([loader.end(), watcher.end()])
  }
  const counted = seen.map((figures) => figures.rows)
  expect(counted).toEqual([...counted].sort((a, b) => a - b))
  expect(counted.at(-1)).toBeLessThanOrEqual(100_000)
})

test('an index build: the table bytes it scanned, growing while it runs and kept once it ends', async () => {
  // Each row's key takes a few milliseconds to compute, so the scan lasts long enough to be seen.
  await testbed.query(
    'source',
    db,
    `CREATE TABLE wide (id int, pad text);
     INSERT INTO wide SELECT g, repeat('x', 1000) FROM generate_series(1, 300) g;
     CREATE FUNCTION slow_key(int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS
       $$ BEGIN PERFORM pg_sleep(0.005); RETURN $1; END $$;`
  )
  const builder = new pg.Client({ connectionString: testbed.sourceUrl(db) })
  const watcher = new pg.Client({ connectionString: testbed.sourceUrl(db) })
  await Promise.all([builder.connect(), watcher.connect()])
  const seen: CopyFigures[] = []
  const { log } = recordingLog()
  const watch = watchIndexBuilds(watcher, (figures) => seen.push(figures), log, 50)
  let tableBytes = 0
  try {
    const build = builder.query('CREATE INDEX wide_slow ON wide (slow_key(id))')
    await until(() => (seen.at(-1)?.bytes ?? 0) > 0, 'the running build to show')
    await build
    const samplesBefore = seen.length
    await until(() => seen.length > samplesBefore + 1, 'a sample taken after the build ended')
    const { rows } = await builder.query<{ bytes: number }>(`SELECT pg_relation_size('wide')::float8 AS bytes`)
    tableBytes = rows[0].bytes
  } finally {
    await watch.stop()
    await Promise.all([builder.end(), watcher.end()])
  }
  const scanned = seen.map((figures) => figures.bytes)
  expect(scanned).toEqual([...scanned].sort((a, b) => a - b))
  expect(scanned.at(-1)).toBeGreaterThan(0)
  expect(scanned.at(-1)).toBeLessThanOrEqual(tableBytes)
  // The total the lines measure against: the table once for its one index (the database's only one).
  const total = await withClient(testbed.sourceUrl(db), indexedTableBytes)
  expect(total).toBe(tableBytes)
})
