// Each mode's flow, run in-process: real servers and real pg_dump/pg_restore, with the runner API
// recorded, the artifact store replaced at its boundary, and faults and cancellations caused at an
// exact point of the flow instead of after a delay.
import fs from 'node:fs'
import path from 'node:path'
import type { ArtifactStore, UploadOptions } from '../../src/artifact/store.js'
import { deferred } from '../../src/base/async.js'
import { MigrationError } from '../../src/base/errors.js'
import type { RunScope } from '../../src/base/scope.js'
import { ProcessRunner, type ToolRun, type ToolRunner } from '../../src/tools/run-tool.js'
import { runInProcess, type InProcessOptions } from '../support/in-process.js'
import { loadTestbed, quoteIdent, uniqueName, withClient } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'

const testbed = loadTestbed()
const scratch = scratchFolder('flows-')
const SHOP = `CREATE SCHEMA shop;
  CREATE TABLE shop.items (id int PRIMARY KEY, label text, price numeric(8, 2));
  INSERT INTO shop.items SELECT g, 'item ' || g, g * 1.25 FROM generate_series(1, 5000) g;
  CREATE SEQUENCE shop.ticket START 100; SELECT nextval('shop.ticket');`

/** The inputs of a migration between two test databases; the client is the one the test bed has (PGBIN). */
function migrate(source: string, target: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'source-url': testbed.sourceUrl(source),
    'target-url': testbed.targetUrl(target),
    jobs: '2',
    'upload-artifact': 'false',
    'dump-path': path.join(scratch, uniqueName('dump')),
    ...extra
  }
}

const withClientOnPath: InProcessOptions = { env: { PGBIN: testbed.clientBinDir } }

async function targetExists(name: string): Promise<boolean> {
  const { rowCount } = await testbed.query('target', 'postgres', `SELECT 1 FROM pg_database WHERE datname = '${name}'`)
  return Boolean(rowCount)
}

/** The real tool runner, with a hook on every line each program logs and on each program's exit. */
function faultyTools(hooks: {
  onLine?: (program: string, line: string) => void
  afterExit?: (program: string, scope: RunScope) => Promise<void>
}): (scope: RunScope) => ToolRunner {
  return (scope) => {
    const real = new ProcessRunner(scope)
    return {
      async run(program: string, args: string[], run: ToolRun) {
        const name = path.basename(program)
        await real.run(program, args, {
          ...run,
          onLine(line) {
            run.onLine?.(line)
            hooks.onLine?.(name, line)
          }
        })
        await hooks.afterExit?.(name, scope)
      }
    }
  }
}

/**
 * pg_dump's exit held until the restore beside it has created the table, then `fault`: what pg_dump
 * does at that point, as far as the flow can tell, whatever the machine's speed.
 */
function onceTheSchemaIsRestored(fault: (scope: RunScope) => void): (scope: RunScope) => ToolRunner {
  const schemaRestored = deferred<void>()
  return faultyTools({
    onLine(program, line) {
      if (program === 'pg_restore' && /creating TABLE "shop.items"/.test(line)) schemaRestored.resolve()
    },
    async afterExit(program, scope) {
      if (program !== 'pg_dump') return
      await schemaRestored.promise
      fault(scope)
    }
  })
}

/** An artifact store that keeps what it is given; `fail` makes every upload fail. */
function keepingStore(fail?: string): ArtifactStore & { uploads: { files: string[]; options: UploadOptions }[] } {
  const uploads: { files: string[]; options: UploadOptions }[] = []
  return {
    uploads,
    async upload(dir, options) {
      if (fail) throw new Error(fail)
      uploads.push({ files: fs.readdirSync(dir).sort(), options })
      return { id: uploads.length, name: options.name, size: 1, digest: 'sha256:00' }
    },
    async download() {
      throw new Error('no downloads here')
    }
  }
}

describe('migrate', () => {
  const db = uniqueName('flow')
  beforeAll(() => testbed.createSourceDatabase(db, SHOP))

  test('passes and records every stage, the outputs and the summary', async () => {
    const store = keepingStore()
    const run = await runInProcess(migrate(db, `${db}_ok`, { 'upload-artifact': 'true' }), {
      ...withClientOnPath,
      artifacts: store
    })
    expect({ failed: run.failed, result: run.report.result, errors: run.errors }).toEqual({
      failed: undefined,
      result: 'passed',
      errors: []
    })
    // The index builds start inside the restore, beside the checksums and the upload, in no fixed order with them.
    const [indexes, others] = [
      run.report.stages.filter((s) => s.stage === 'Build indexes'),
      run.report.stages.filter((s) => s.stage !== 'Build indexes')
    ]
    expect(others.map((s) => [s.stage, s.status])).toEqual([
      ['Plan', 'ok'],
      ['Install PostgreSQL client', 'ok'],
      ['Dump', 'ok'],
      ['Restore', 'ok'],
      ['Checksum source', 'ok'],
      ['Upload artifact', 'ok'],
      ['Verify', 'ok']
    ])
    expect(indexes.map((s) => [s.stage, s.status])).toEqual([['Build indexes', 'ok']])
    // The log folds the way the stages ran: the dump, the restore beside it and the source checksums in one group.
    const groups = run.lines.filter((l) => l.startsWith('::group::')).map((l) => l.slice('::group::'.length))
    expect(groups).toEqual(['Plan', 'Install PostgreSQL client', `Dump and restore: ${db}`, `Verify: ${db}`])
    const copyGroup = run.lines.slice(run.lines.indexOf(`::group::Dump and restore: ${db}`))
    const copyLines = copyGroup.slice(0, copyGroup.indexOf('::endgroup::'))
    for (const line of ['tables dumped: 1/1', `creating target database ${db}_ok`, 'source checksums: 5,000 rows'])
      expect(copyLines).toContainEqual(expect.stringContaining(line))
    expect(run.outputs).toMatchObject({ result: 'passed', mismatches: '0', 'artifact-name': `pg-dump-${db}` })
    expect(store.uploads[0].files).toEqual(expect.arrayContaining(['manifest.json', 'toc.dat']))
    expect(run.summary).toContain('**Verification: no differences** — compared 1 table (5,000 rows), 1 sequence')
  })

  test('pg_dump failing after the restore began: the target database it created is dropped again', async () => {
    const target = `${db}_dumpfail`
    // The dump's copy step: its restore begins beside pg_dump (the stream's waits for the dump to end).
    const run = await runInProcess(migrate(db, target, { 'copy-method': 'dump' }), {
      ...withClientOnPath,
      tools: onceTheSchemaIsRestored(() => {
        throw new MigrationError('tool-failed', 'pg_dump failed: server closed the connection unexpectedly')
      })
    })
    expect(run.report.error).toEqual({
      stage: 'Dump',
      message: expect.stringContaining('pg_dump failed'),
      hint: undefined
    })
    expect(run.lines).toContain(
      `dropped the target database ${target}: this run had created it, and stopped before it held a copy`
    )
    expect(run.report.databases[0].targetTouched).toBe(false)
    expect(await targetExists(target)).toBe(false)
  })

  test('cancelled while pg_dump runs and the restore has begun: nothing is left on the target', async () => {
    const target = `${db}_cancelled`
    // The dump's copy step: its restore begins beside pg_dump (the stream's waits for the dump to end).
    const run = await runInProcess(migrate(db, target, { 'copy-method': 'dump' }), {
      ...withClientOnPath,
      // As if pg_dump were still writing when the runner cancelled: stopped, not finished.
      tools: onceTheSchemaIsRestored((scope) => {
        scope.cancellation.cancel('SIGINT')
        scope.cancellation.throwIfCancelled()
      })
    })
    expect(run.report.cancelled).toBe('SIGINT')
    expect(run.report.error).toEqual({
      stage: 'Dump',
      message: 'the run was cancelled (SIGINT) during Dump: child processes stopped, connections closed',
      hint: 'nothing was written to the target: run the step again'
    })
    expect(await targetExists(target)).toBe(false)
  })

  /** Runs a migrate into `target`, cancelled (SIGTERM) once the second pg_restore, after pg_dump exited, begins. */
  function cancelledOnceDumped(target: string) {
    let restores = 0
    return runInProcess(migrate(db, target), {
      ...withClientOnPath,
      // The second pg_restore restores what is left once pg_dump has exited.
      onLine(line, cancellation) {
        if (/^\[command\]\S*pg_restore --dbname=/.test(line) && ++restores === 2) cancellation.cancel('SIGTERM')
      }
    })
  }

  test('cancelled once the dump is done, into a database that existed: the report names Restore and a partial copy', async () => {
    const target = `${db}_late`
    await testbed.createTargetDatabase(target)
    const run = await cancelledOnceDumped(target)
    expect(run.report.error).toEqual({
      stage: 'Restore',
      message: 'the run was cancelled (SIGTERM) during Restore: child processes stopped, connections closed',
      hint: 'the target may hold a partial copy: run again with if-target-not-empty: resume to keep what is complete, or if-target-not-empty: clean to start over'
    })
    expect(run.failed).toBe(`${run.report.error?.message} — ${run.report.error?.hint}`)
    expect(run.errors).toEqual([run.failed])
    expect(await targetExists(target)).toBe(true)
  })

  test('cancelled once the dump is done, into the database the run created: dropped again, nothing was written', async () => {
    const target = `${db}_late_created`
    const run = await cancelledOnceDumped(target)
    // What the target holds decides, not when the signal came: it is as before the run.
    expect(run.report.error).toEqual({
      stage: 'Dump',
      message: 'the run was cancelled (SIGTERM) during Dump: child processes stopped, connections closed',
      hint: 'nothing was written to the target: run the step again'
    })
    expect(run.report.databases[0].targetTouched).toBe(false)
    expect(await targetExists(target)).toBe(false)
  })

  test('a failed upload is a warning, unless artifact-required makes it fail the run', async () => {
    const relaxed = await runInProcess(migrate(db, `${db}_upload_warn`, { 'upload-artifact': 'true' }), {
      ...withClientOnPath,
      artifacts: keepingStore('the artifact service said no')
    })
    expect(relaxed.report.result).toBe('passed')
    expect(relaxed.lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^::warning::artifact upload failed .*the artifact service said no/)
      ])
    )
    expect(relaxed.report.artifact).toEqual({ failed: 'the artifact service said no' })

    const strict = await runInProcess(
      migrate(db, `${db}_upload_fail`, { 'upload-artifact': 'true', 'artifact-required': 'true' }),
      { ...withClientOnPath, artifacts: keepingStore('the artifact service said no') }
    )
    expect(strict.report.result).toBe('failed')
    expect(strict.failed).toBe(
      `${db}: Upload artifact failed: the artifact service said no — artifact-required is true; fix the upload or set it to false`
    )
  })
})

describe('plan, validate, dump and restore', () => {
  const db = uniqueName('modes')
  beforeAll(() => testbed.createSourceDatabase(db, SHOP))

  test('plan writes nothing and says planned', async () => {
    const run = await runInProcess({ ...migrate(db, `${db}_plan`), mode: 'plan' }, withClientOnPath)
    expect({ result: run.report.result, failed: run.failed }).toEqual({ result: 'planned', failed: undefined })
    expect(run.report.stages.map((s) => s.stage)).toEqual(['Plan'])
    expect(await targetExists(`${db}_plan`)).toBe(false)
  })

  test('validate fails on a difference, and passes with a warning when fail-on-mismatch is false', async () => {
    const target = `${db}_copy`
    expect((await runInProcess(migrate(db, target), withClientOnPath)).report.result).toBe('passed')
    await withClient(testbed.targetSuperUrl(target), (c) =>
      c.query(`UPDATE shop.items SET label = 'changed' WHERE id = 7`)
    )
    const strict = await runInProcess({ ...migrate(db, target), mode: 'validate' }, withClientOnPath)
    expect({ result: strict.report.result, mismatches: strict.outputs.mismatches }).toEqual({
      result: 'failed',
      mismatches: '1'
    })
    expect(strict.report.databases[0].differingRows).toEqual({ 'shop.items': ['7'] })
    expect(strict.failed).toMatch(/^1 differences between source and target/)

    const lenient = await runInProcess(
      { ...migrate(db, target), mode: 'validate', 'fail-on-mismatch': 'false' },
      withClientOnPath
    )
    expect({ result: lenient.report.result, failed: lenient.failed }).toEqual({ result: 'failed', failed: undefined })
    expect(lenient.lines).toContain('::warning::1 differences found; fail-on-mismatch is false, so the step passes')
  })

  test('dump then restore: the manifest carries the fingerprint, a damaged dump is refused untouched', async () => {
    const dumpPath = path.join(scratch, uniqueName('split'))
    const store = keepingStore()
    const dumped = await runInProcess(
      { 'source-url': testbed.sourceUrl(db), mode: 'dump', 'dump-path': dumpPath, jobs: '2', 'postgres-version': '17' },
      { ...withClientOnPath, artifacts: store }
    )
    expect(dumped.report.result).toBe('passed')
    expect(store.uploads).toHaveLength(1)
    const manifest = JSON.parse(fs.readFileSync(path.join(dumpPath, 'manifest.json'), 'utf8'))
    expect(manifest.sourceFingerprint.tables).toEqual([expect.objectContaining({ name: 'items', rows: 5000 })])

    const target = `${db}_restored`
    const restoreInputs = { 'target-url': testbed.targetUrl(target), mode: 'restore', 'dump-path': dumpPath, jobs: '2' }
    const damaged = path.join(dumpPath, fs.readdirSync(dumpPath).find((f) => /^\d+\.dat/.test(f)) as string)
    const original = fs.readFileSync(damaged)
    fs.writeFileSync(damaged, Buffer.concat([original, Buffer.from('x')]))
    const refused = await runInProcess(restoreInputs, withClientOnPath)
    expect(refused.report.error?.stage).toBe('Check dump')
    expect(refused.failed).toMatch(/does not match its sha256 in the manifest — the dump is corrupted/)
    expect(await targetExists(target)).toBe(false)

    fs.writeFileSync(damaged, original)
    const restored = await runInProcess(restoreInputs, withClientOnPath)
    expect({ result: restored.report.result, errors: restored.errors }).toEqual({ result: 'passed', errors: [] })
    expect(restored.report.stages.map((s) => s.stage)).toEqual([
      'Check dump',
      'Plan',
      'Install PostgreSQL client',
      'Restore',
      'Build indexes',
      'Verify'
    ])
    const { rows } = await testbed.query('target', target, `SELECT count(*)::int AS n FROM ${quoteIdent('shop')}.items`)
    expect(rows[0].n).toBe(5000)
  })
})
