import fs from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { errorLines, runAction, outcome, PASSED } from '../support/run-action.js'
import { REPO_ROOT } from '../support/servers.js'
import { loadTestbed, tableDigests, uniqueName, withClient } from '../support/testbed.js'

const testbed = loadTestbed()
const SAMPLE = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sample.sql'), 'utf8')

async function tableCount(url: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`
    )
    return rows[0].n
  })
}

describe('migrate 14 → 17 as the managed admin', () => {
  const db = uniqueName('shop')

  beforeAll(async () => {
    await testbed.createSourceDatabase(db, SAMPLE)
  })

  test('the sample database moves, verifies, and an independent check agrees', async () => {
    const run = await runAction(
      testbed.actionInputs(db, db, {
        'validation-queries': 'SELECT status, count(*) FROM shop.orders GROUP BY status;'
      })
    )
    expect(outcome(run)).toEqual(PASSED)
    expect(run.outputs).toMatchObject({
      mismatches: '0',
      'source-version': expect.stringMatching(/^14\./),
      'target-version': expect.stringMatching(/^17\./),
      'client-version': expect.stringMatching(/^17\./)
    })
    expect(run.summary).toContain('pg-migrate migrate: passed')
    expect(run.summary).toContain('shop.orders_2026_01')
    expect(run.report.databases[0].comparison.passed).toBe(true)
    // shop.orders is partitioned, with an audit trigger: a parallel restore creates it only once every
    // partition's rows are in, or it fires for the rows loaded after.
    const lines = run.stdout.split('\n')
    const lastData = lines.findLastIndex((line) => /pg_restore: finished item \d+ TABLE DATA /.test(line))
    const firstTrigger = lines.findIndex((line) =>
      /pg_restore: creating TRIGGER "shop\.orders orders_audit"/.test(line)
    )
    expect({ lastData: lastData > 0, triggerAfterData: firstTrigger > lastData }).toEqual({
      lastData: true,
      triggerAfterData: true
    })
    // The runner hides what ::add-mask:: names; everything else must not carry a password.
    const visible = run.stdout
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n')
    expect(visible).not.toContain(testbed.target.admin?.password)
    expect(visible).not.toContain(testbed.source.superuser.password)

    const [source, target] = await Promise.all([
      tableDigests(testbed.sourceUrl(db)),
      tableDigests(testbed.targetSuperUrl(db))
    ])
    expect(Object.keys(source).length).toBeGreaterThanOrEqual(8)
    expect(target).toEqual(source)
    const sequence = await testbed.query('target', db, 'SELECT last_value FROM shop.invoice_number')
    expect(Number(sequence.rows[0].last_value)).toBe(4242)
    const blobs = await testbed.query(
      'target',
      db,
      "SELECT convert_from(lo_get(oid), 'UTF8') AS text FROM pg_largeobject_metadata"
    )
    expect(blobs.rows).toEqual([{ text: 'invoice template v1' }])
  })

  test('validate on the untouched pair passes (no false failure)', async () => {
    const run = await runAction(testbed.actionInputs(db, db, { mode: 'validate' }))
    expect({ exitCode: run.exitCode, result: run.outputs.result, mismatches: run.outputs.mismatches }).toEqual({
      exitCode: 0,
      result: 'passed',
      mismatches: '0'
    })
  })

  test('tampering with the copy makes validate fail and name each difference', async () => {
    await testbed.query(
      'target',
      db,
      `DELETE FROM shop.order_lines WHERE order_id = 17;
       UPDATE shop.customers SET name = 'Mallory' WHERE id = 42;
       SELECT setval('shop.invoice_number', 5000);
       DROP INDEX shop.products_lower_title_idx;`
    )
    const run = await runAction(testbed.actionInputs(db, db, { mode: 'validate' }))
    expect(run.exitCode).not.toBe(0)
    expect(run.outputs.result).toBe('failed')
    const differences = run.report.databases[0].comparison.differences.filter((d: { expected: boolean }) => !d.expected)
    const named = differences.map((d: { kind: string; object: string }) => `${d.kind} ${d.object}`).join('\n')
    expect(named).toMatch(/shop\.order_lines/)
    expect(named).toMatch(/shop\.customers/)
    expect(named).toMatch(/shop\.invoice_number/)
    expect(named).toMatch(/products_lower_title_idx/)
    expect(run.report.databases[0].differingRows['shop.customers']).toContain('42')
    expect(run.summary).toContain('shop.customers')
  })
})

describe('writes during the run', () => {
  const db = uniqueName('busy')

  test('rows written to the source while the migration runs cause no mismatch, and their transactions are counted', async () => {
    await testbed.createSourceDatabase(
      db,
      `${SAMPLE}\nCREATE TABLE public.ticks (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());`
    )
    const writer = new pg.Client({ connectionString: testbed.sourceUrl(db) })
    await writer.connect()
    let writing = true
    let written = 0
    const loop = (async () => {
      while (writing) {
        await writer.query('INSERT INTO public.ticks DEFAULT VALUES')
        await writer.query('UPDATE shop.products SET details = details || \'{"seen": true}\' WHERE id = $1', [
          (written % 300) + 1
        ])
        written++
      }
    })()
    try {
      const run = await runAction(testbed.actionInputs(db, db))
      expect({ exitCode: run.exitCode, result: run.outputs.result }).toEqual({ exitCode: 0, result: 'passed' })
      expect(written).toBeGreaterThan(0)
      expect(run.report.databases[0].writesDuringRun).toBeGreaterThan(0)
      expect(run.summary).toMatch(/\d+ transactions? wrote on the source server during the run/)
    } finally {
      writing = false
      await loop
      await writer.end()
    }
  })
})

describe('plan blockers stop the run before the target is written', () => {
  test('a role the target lacks (a policy names it)', async () => {
    const db = uniqueName('policy')
    const role = uniqueName('app_reader')
    await testbed.query('source', 'postgres', `CREATE ROLE ${role}`)
    await testbed.createSourceDatabase(
      db,
      `CREATE TABLE notes (id int PRIMARY KEY, owner text); ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
       CREATE POLICY own ON notes TO ${role} USING (owner = current_user);`
    )
    await testbed.createTargetDatabase(db)
    const run = await runAction(testbed.actionInputs(db, db))
    expect(run.exitCode).not.toBe(0)
    expect(run.outputs.result).toBe('failed')
    expect(run.stdout).toContain(role)
    expect(await tableCount(testbed.targetSuperUrl(db))).toBe(0)
  })

  test('a non-empty target', async () => {
    const db = uniqueName('occupied')
    await testbed.createSourceDatabase(db, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);')
    await testbed.createTargetDatabase(db)
    await withClient(testbed.targetUrl(db), (client) =>
      client.query('CREATE TABLE existing (id int); INSERT INTO existing VALUES (7)')
    )
    const run = await runAction(testbed.actionInputs(db, db))
    expect(run.exitCode).not.toBe(0)
    // One failure, one error line: what is wrong and the fix.
    expect(errorLines(run.stdout)).toEqual([
      expect.stringMatching(
        new RegExp(`^::error::target database "${db}" is not empty.* — .*if-target-not-empty: clean`)
      )
    ])
    const left = await testbed.query('target', db, 'SELECT id FROM existing')
    expect(left.rows).toEqual([{ id: 7 }])
    expect(await tableCount(testbed.targetSuperUrl(db))).toBe(1)

    const clean = await runAction(testbed.actionInputs(db, db, { 'if-target-not-empty': 'clean' }))
    expect({ exitCode: clean.exitCode, result: clean.outputs.result }).toEqual({ exitCode: 0, result: 'passed' })
    expect(clean.summary).toContain('Cleaned from the target first')
  })

  test('an extension the target does not have', async () => {
    const db = uniqueName('ext')
    // plpgsql_check-like: an extension that exists on the source server only. The 14 package ships
    // contrib modules that 17 dropped or that a non-superuser cannot create (untrusted).
    await testbed.createSourceDatabase(db, 'CREATE EXTENSION IF NOT EXISTS pageinspect;')
    await testbed.createTargetDatabase(db)
    const run = await runAction(testbed.actionInputs(db, db))
    expect(run.exitCode).not.toBe(0)
    expect(run.stdout).toContain('pageinspect')
    expect(await tableCount(testbed.targetSuperUrl(db))).toBe(0)
  })
})
