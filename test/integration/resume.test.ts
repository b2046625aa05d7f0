// Resuming a run that ended early, in-process against real servers: after a failure in post-data
// (an index build the target refused, then allowed), from the same dump; a dump of another run is
// refused with the target untouched; an empty target starts afresh; a target that holds objects but
// no unfinished run is refused.
import fs from 'node:fs'
import path from 'node:path'
import { runInProcess, type InProcessRun } from '../support/in-process.js'
import { loadTestbed, quoteIdent, uniqueName, withClient } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'
import { FOLLOW_MIN_BYTES } from '../../src/tools/follow.js'

const testbed = loadTestbed()
const scratch = scratchFolder('resume-')
const source = uniqueName('resumable')
const env = { PGBIN: testbed.clientBinDir }

// Index builds that sort more than maintenance_work_mem spill to temporary files: notes is big
// enough that its indexes do, and the target can be made to refuse those files. Both tables are
// big enough to be loaded while the dump runs, before pg_restore starts on the rest: a small table's
// data would otherwise be restored beside notes' index builds, and cut short when one fails first.
// customers is big by its stored names (uncompressed, out of line), not by rows: its key's sort fits.
const SOURCE_SQL = `
  CREATE TABLE customers (id int PRIMARY KEY, name text);
  ALTER TABLE customers ALTER name SET STORAGE EXTERNAL;
  CREATE TABLE notes (id int PRIMARY KEY, customer_id int REFERENCES customers, body text);
  INSERT INTO customers
    SELECT g, 'c' || g || (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 320) i)
      FROM generate_series(1, 1000) g;
  INSERT INTO notes SELECT g, 1 + g % 1000, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 120000) g;
  CREATE INDEX notes_body ON notes (body);
  CREATE TABLE empty_one (id int);`

beforeAll(async () => {
  await testbed.createSourceDatabase(source, SOURCE_SQL)
  // The premise above: both tables are followed (loaded while the dump runs).
  const { rows } = await testbed.query(
    'source',
    source,
    `SELECT pg_table_size('customers') AS customers, pg_table_size('notes') AS notes`
  )
  for (const bytes of Object.values(rows[0])) expect(Number(bytes)).toBeGreaterThanOrEqual(FOLLOW_MIN_BYTES)
})

function migrate(target: string, dumpPath: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'source-url': testbed.sourceUrl(source),
    'target-url': testbed.targetUrl(target),
    jobs: '2',
    'upload-artifact': 'false',
    // Resumed from the dump the broken run left: with nothing uploaded, auto would stream and keep none.
    'copy-method': 'dump',
    'dump-path': dumpPath,
    ...extra
  }
}

/** Index builds in `database` fail until `allow` is called: temporary files refused. */
async function refuseSortsOnDisk(database: string): Promise<() => Promise<unknown>> {
  // For every role in the database: the restore logs in as the run's own role, not as the admin.
  const setting = `ALTER DATABASE ${quoteIdent(database)}`
  await testbed.query('target', 'postgres', `${setting} SET maintenance_work_mem = '1MB'`)
  await testbed.query('target', 'postgres', `${setting} SET temp_file_limit = '64kB'`)
  return () => testbed.query('target', 'postgres', `${setting} RESET ALL`)
}

/** The target as the test sees it: relations, indexes, constraints, row counts and the run's mark. */
async function snapshotOf(database: string): Promise<string[]> {
  return withClient(testbed.targetSuperUrl(database), async (client) => {
    const { rows } = await client.query<{ line: string }>(
      `SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text AS line FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
       UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace
       UNION ALL SELECT 'mark ' || run_id FROM _pg_migrate_action.run
       ORDER BY 1`
    )
    const counts = await client.query<{ line: string }>(
      `SELECT 'rows ' || (SELECT count(*) FROM customers) || ' ' || (SELECT count(*) FROM notes) AS line`
    )
    return [...rows.map((r) => r.line), counts.rows[0].line]
  })
}

/** The source's indexes and constraints, named as a resume reports what it created. */
const POST_DATA = [
  'index public.notes_body',
  'table constraint public.customers.customers_pkey',
  'table constraint public.notes.notes_customer_id_fkey',
  'table constraint public.notes.notes_pkey'
]

/** Which of POST_DATA the target holds now. */
async function postDataOn(database: string): Promise<string[]> {
  const { rows } = await testbed.query(
    'target',
    database,
    `SELECT 'index public.' || indexname AS item FROM pg_indexes WHERE schemaname = 'public'
     UNION SELECT 'table constraint public.' || conrelid::regclass::text || '.' || conname FROM pg_constraint
      WHERE connamespace = 'public'::regnamespace`
  )
  return rows.map((row: { item: string }) => row.item).filter((item: string) => POST_DATA.includes(item))
}

const outcome = (run: InProcessRun) => ({
  result: run.report.result,
  errors: run.errors,
  verified: run.report.databases[0]?.comparison?.passed
})

test('after a failed index build, fixed on the target, resume keeps every table and creates only what is missing', async () => {
  const target = uniqueName('postdata')
  const dumpPath = path.join(scratch, uniqueName('dump'))
  await testbed.createTargetDatabase(target)
  const allow = await refuseSortsOnDisk(target)
  const broken = await runInProcess(migrate(target, dumpPath), { env })
  expect(broken.report.result).toBe('failed')
  expect(broken.report.databases[0].error).toMatchObject({
    stage: 'Restore',
    message: expect.stringMatching(/temporary file size exceeds temp_file_limit/)
  })
  // The hint now points at resume, since the target carries the run's mark.
  expect(broken.errors.at(-1)).toMatch(/temporary file size exceeds temp_file_limit/)
  const leftByBroken = await postDataOn(target)
  await allow()

  const resumed = await runInProcess(migrate(target, dumpPath, { 'if-target-not-empty': 'resume' }), { env })
  expect(outcome(resumed)).toEqual({ result: 'passed', errors: [], verified: true })
  const resume = resumed.report.databases[0].resume
  expect(resume).toMatchObject({
    dump: 'earlier',
    kept: ['public.customers', 'public.empty_one', 'public.notes'],
    reloaded: []
  })
  // Both big sorts were refused. Which other items pg_restore finished before it stopped depends on
  // its workers' timing, so the resume must create exactly the post-data items the broken run left out.
  expect(resume?.created).toEqual(
    expect.arrayContaining(['index public.notes_body', 'table constraint public.notes.notes_pkey'])
  )
  expect([...(resume?.created ?? [])].sort()).toEqual(POST_DATA.filter((item) => !leftByBroken.includes(item)))
  expect(resumed.summary).toMatch(
    /\*\*Resumed\*\* from the dump of run \S+ in [\d.]+s: kept 3 tables whose rows were complete/
  )
  // A run that passes leaves no mark.
  const { rowCount } = await testbed.query(
    'target',
    target,
    `SELECT 1 FROM pg_namespace WHERE nspname = '_pg_migrate_action'`
  )
  expect(rowCount).toBe(0)
})

test('the stream, stopped after its rows were in: its hint to resume is followed by the stream, which keeps every table it committed', async () => {
  const target = uniqueName('streamed')
  const dumpPath = path.join(scratch, uniqueName('dump'))
  await testbed.createTargetDatabase(target)
  const allow = await refuseSortsOnDisk(target)
  const streamed = { 'copy-method': 'stream' }
  const broken = await runInProcess(migrate(target, dumpPath, streamed), { env })
  expect(broken.report.databases[0].error).toMatchObject({ stage: 'Restore' })
  expect(broken.errors.at(-1)).toMatch(/if-target-not-empty: resume/)
  await allow()

  const resumed = await runInProcess(migrate(target, dumpPath, { ...streamed, 'if-target-not-empty': 'resume' }), {
    env
  })
  expect(outcome(resumed)).toEqual({ result: 'passed', errors: [], verified: true })
  expect(resumed.report.databases[0].resume).toMatchObject({
    dump: 'new',
    kept: ['public.customers', 'public.empty_one', 'public.notes'],
    reloaded: [],
    pieces: { streamed: 0 }
  })
})

describe('restore from a dump made by mode: dump', () => {
  const dumps: Record<'a' | 'b', string> = { a: path.join(scratch, 'dump-a'), b: path.join(scratch, 'dump-b') }
  beforeAll(async () => {
    for (const dumpPath of Object.values(dumps)) {
      const run = await runInProcess(
        {
          mode: 'dump',
          'source-url': testbed.sourceUrl(source),
          'dump-path': dumpPath,
          'upload-artifact': 'false',
          'postgres-version': '17'
        },
        { env }
      )
      expect(run.report.result).toBe('passed')
    }
  })
  const restore = (target: string, dumpPath: string, extra: Record<string, string> = {}) => ({
    mode: 'restore',
    'target-url': testbed.targetUrl(target),
    'dump-path': dumpPath,
    jobs: '2',
    ...extra
  })

  test('a different dump is refused in one line, the target untouched; the same dump resumes', async () => {
    const target = uniqueName('twodumps')
    await testbed.createTargetDatabase(target)
    const allow = await refuseSortsOnDisk(target)
    expect((await runInProcess(restore(target, dumps.a), { env })).report.result).toBe('failed')
    await allow()
    const before = await snapshotOf(target)
    const runA = JSON.parse(fs.readFileSync(path.join(dumps.a, 'manifest.json'), 'utf8')).runId
    const runB = JSON.parse(fs.readFileSync(path.join(dumps.b, 'manifest.json'), 'utf8')).runId

    const refused = await runInProcess(restore(target, dumps.b, { 'if-target-not-empty': 'resume' }), { env })
    expect(refused.failed).toMatch(
      new RegExp(
        `^this dump \\(run ${runB}\\) is not the one target database "${target}" was being loaded from \\(run ${runA}, started .+\\); the target was not touched — give this job that run's dump`
      )
    )
    expect(await snapshotOf(target)).toEqual(before)

    const resumed = await runInProcess(restore(target, dumps.a, { 'if-target-not-empty': 'resume' }), { env })
    expect(outcome(resumed)).toEqual({ result: 'passed', errors: [], verified: true })
    const resume = resumed.report.databases[0].resume
    expect(resume).toMatchObject({ runId: runA, dump: 'earlier' })
    // pg_restore loads the tables beside the index build that failed: one may have been cut short, and is
    // reloaded; every table is one or the other.
    expect([...(resume?.kept ?? []), ...(resume?.reloaded ?? [])].sort()).toEqual([
      'public.customers',
      'public.empty_one',
      'public.notes'
    ])
  })

  test('resume on an empty target is a whole restore; on a target holding objects but no unfinished run, a blocker', async () => {
    const target = uniqueName('fresh')
    const fresh = await runInProcess(restore(target, dumps.a, { 'if-target-not-empty': 'resume' }), { env })
    expect(outcome(fresh)).toEqual({ result: 'passed', errors: [], verified: true })
    expect(fresh.report.databases[0].resume).toBeUndefined()

    const again = await runInProcess(restore(target, dumps.a, { 'if-target-not-empty': 'resume' }), { env })
    expect(again.failed).toMatch(
      new RegExp(
        `^target database "${target}" holds \\d+ objects but no run of this action that ended early: there is nothing to resume — a run that passes removes its mark`
      )
    )
  })
})
