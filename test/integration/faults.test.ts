// Faults caused on purpose while the action runs: the target restarts mid-restore, the run is
// cancelled mid-dump, the source refuses connections for the first seconds. The target here is a
// dedicated server, so restarting it cannot disturb other test files.
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import type pg from 'pg'
import { onLine, processesWith, startHoldingProxy, startLateProxy } from '../support/faults.js'
import { errorLines, outcome, PASSED } from '../support/run-action.js'
import { defaultBaseDir, restartServer, serverUrl, startServer, stopServer, withClient } from '../support/servers.js'
import { loadTestbed, uniqueName } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'

const testbed = loadTestbed()
const scratch = scratchFolder('faults-')
const toolCache = path.join(scratch, 'tool-cache')
// Big enough that dump and restore each take a few seconds: time to strike while they run.
const big = uniqueName('big')
const BIG_SQL = `CREATE TABLE a (id int PRIMARY KEY, v text, n numeric);
  INSERT INTO a SELECT g, md5(g::text), g * 1.5 FROM generate_series(1, 1000000) g;
  CREATE TABLE b (id int PRIMARY KEY, v text);
  INSERT INTO b SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 600000) g;
  CREATE INDEX ON a (v); CREATE INDEX ON b (v);`
let target: Awaited<ReturnType<typeof startServer>>
const baseDir = defaultBaseDir('pg-migrate-faults')

beforeAll(async () => {
  ;[target] = await Promise.all([
    startServer({ major: 17, baseDir, target: true }),
    testbed.createSourceDatabase(big, BIG_SQL)
  ])
}, 120_000)

afterAll(async () => {
  if (target) await stopServer(target, 'immediate')
  fs.rmSync(baseDir, { recursive: true, force: true })
  fs.rmSync(scratch, { recursive: true, force: true })
})

const run = testbed.runner(toolCache)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function rowCounts(url: string): Promise<{ a: number; b: number }> {
  return withClient(url, async (client) => {
    const { rows } = await client.query('SELECT (SELECT count(*) FROM a)::int AS a, (SELECT count(*) FROM b)::int AS b')
    return rows[0]
  })
}

/**
 * Resolves once the action has no session left on one database (other test files may run the action
 * on other databases). Called after the run exited: its sockets are closed, and the server ends the
 * sessions when it reads that; one that never ends times the test out.
 */
async function actionSessionsGone(url: string, database: string): Promise<void> {
  for (;;) {
    const { rows } = await withClient(url, (client: pg.Client) =>
      client.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg-migrate-action' AND datname = $1`,
        [database]
      )
    )
    if (rows[0].n === 0) return
    await sleep(100)
  }
}

describe('the target restarts in the middle of the restore', () => {
  test('the run fails naming the Restore stage; a rerun with if-target-not-empty: clean succeeds and verifies', async () => {
    const inputs = { 'source-url': testbed.sourceUrl(big), 'target-url': serverUrl(target, big, target.admin) }
    let restart: Promise<unknown> | undefined
    const broken = await run(inputs, {
      // Strike while rows are on their way in: a restart at a fixed delay sometimes came before the
      // loads began, and the crash (synchronous_commit off) took the just-created tables with it.
      onStdout: onLine(/^loading \S+ as pg_dump writes it(, over \d+ connections)?$/, () => {
        restart = rowsCopying(serverUrl(target, 'postgres')).then(() => restartServer(target))
      })
    })
    await restart
    expect(restart).toBeDefined()
    const lines = errorLines(broken.stdout)
    expect({
      exitCode: broken.exitCode,
      result: broken.outputs.result,
      stage: broken.report.error?.stage,
      lines
    }).toEqual({
      exitCode: 1,
      result: 'failed',
      stage: 'Restore',
      lines: [
        expect.stringMatching(
          new RegExp(
            `^::error::${big}: Restore failed: (pg_restore failed|loading \\S+): .*(server closed the connection|terminating connection|connection to server|connection to the target was lost).* — .*if-target-not-empty: clean`
          )
        )
      ]
    })
    expect(broken.summary).toContain('Restore failed')

    const rerun = await run({ ...inputs, 'if-target-not-empty': 'clean' })
    expect(outcome(rerun)).toEqual(PASSED)
    expect(rerun.report.databases[0].comparison.passed).toBe(true)
    expect(await rowCounts(serverUrl(target, big))).toEqual({ a: 1_000_000, b: 600_000 })
  })
})

/** Resolves once a COPY on the server has taken rows. */
async function rowsCopying(url: string): Promise<void> {
  for (;;) {
    const { rows } = await withClient(url, (client: pg.Client) =>
      client.query('SELECT coalesce(max(tuples_processed), 0)::int AS n FROM pg_stat_progress_copy')
    )
    if (rows[0].n > 0) return
    await sleep(20)
  }
}

describe('the action is cancelled in the middle of the dump', () => {
  test('children are stopped, the snapshot is closed, the process exits and the report says cancelled', async () => {
    const workDir = fs.mkdtempSync(path.join(scratch, 'cancel-'))
    const marker = path.join(workDir, 'temp')
    const never = uniqueName('never')
    const { held, before, cancelled } = await terminateWhileDumping(workDir, never)
    expect(held.map((statement) => statement.split(' ')[1]).sort()).toEqual(['"public"."a"', '"public"."b"'])
    // pg_dump's leader and its two workers (jobs: 2) ran when the signal came.
    expect(before.filter((p) => /pg_dump/.test(p))).toHaveLength(3)
    // The action exited by itself (exit code 1; the harness's kill would leave none) and left nothing
    // running. How fast is not asserted: on a busy machine undoing the run took over 5 s.
    expect(processesWith(marker)).toEqual([])
    expectCancelledDuringDump(cancelled)
    // "Nothing was written": the database the run created is gone again.
    const { rows } = await withClient(serverUrl(target, 'postgres'), (client: pg.Client) =>
      client.query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [never])
    )
    expect(rows[0].n).toBe(0)
    // The exported snapshot's transaction and every checksum session leave the source.
    await actionSessionsGone(testbed.sourceUrl('postgres'), big)
  })

  /**
   * Runs the action on `big` into `database`, which it creates, with the source behind a proxy that
   * holds pg_dump's data COPYs: the dump cannot end, so pg_dump and its workers are alive when the
   * test looks and signals, whatever the machine's load (the dump's log line, seen late on a busy
   * machine, came after pg_dump had exited). Sends SIGTERM once both workers are held, each past its
   * snapshot import (a worker that is not could die of the snapshot's end and stop the dump by
   * itself), and the load beside the dump has begun. Returns the held statements (none when the run
   * ended first), the run's processes then, and the run.
   */
  async function terminateWhileDumping(workDir: string, database: string) {
    const proxy = await startHoldingProxy(testbed.source, /COPY \S+ \([^)]*\) TO stdout/i)
    try {
      let action: ChildProcess | undefined
      let loadBegun: () => void = () => undefined
      const loading = new Promise<void>((resolve) => (loadBegun = resolve))
      const running = run(
        {
          'source-url': serverUrl({ ...testbed.source, host: '127.0.0.1', port: proxy.port }, big),
          'target-url': serverUrl(target, database, target.admin)
        },
        {
          workDir,
          onChild: (child) => (action = child),
          onStdout: onLine(/^loading \S+ as pg_dump writes it/, () => loadBegun())
        }
      )
      const held = await Promise.race([
        Promise.all([proxy.holding(2), loading]).then(([statements]) => statements),
        running.then((): string[] => [])
      ])
      const before = processesWith(path.join(workDir, 'temp'))
      action?.kill('SIGTERM')
      return { held, before, cancelled: await running }
    } finally {
      await proxy.close()
    }
  }

  /** A run cancelled by SIGTERM while it dumped, into a database it created: what the user is told. */
  function expectCancelledDuringDump(cancelled: Awaited<ReturnType<typeof run>>) {
    expect({
      exitCode: cancelled.exitCode,
      result: cancelled.outputs.result,
      cancelled: cancelled.report?.cancelled,
      error: cancelled.report?.error
    }).toEqual({
      exitCode: 1,
      result: 'failed',
      cancelled: 'SIGTERM',
      error: {
        stage: 'Dump',
        message: 'the run was cancelled (SIGTERM) during Dump: child processes stopped, connections closed',
        hint: 'nothing was written to the target: run the step again'
      }
    })
    expect(errorLines(cancelled.stdout)).toEqual([
      '::error::the run was cancelled (SIGTERM) during Dump: child processes stopped, connections closed — nothing was written to the target: run the step again'
    ])
    expect(cancelled.summary).toContain('cancelled (SIGTERM)')
  }

  /**
   * Runs the action on `big` into `database` through a proxy that holds the first statement on the
   * target that matches `statement` (by default the load's first COPY … FROM STDIN): the run cannot
   * get past it, so the signal lands there, whatever the machine's load. Sends SIGINT then; returns
   * the run and the held statement.
   */
  async function interruptWhileLoading(database: string, statement = /COPY \S+ \([^)]*\) FROM stdin/i) {
    const workDir = fs.mkdtempSync(path.join(scratch, 'interrupt-'))
    const marker = path.join(workDir, 'temp')
    const proxy = await startHoldingProxy(target, statement)
    try {
      let action: ChildProcess | undefined
      const running = run(
        {
          'source-url': testbed.sourceUrl(big),
          'target-url': serverUrl({ ...target, host: '127.0.0.1', port: proxy.port }, database, target.admin)
        },
        { workDir, onChild: (child) => (action = child) }
      )
      // A run that ends without loading a row fails the test below: nothing was held.
      const held = await Promise.race([proxy.held, running.then(() => '')])
      action?.kill('SIGINT')
      const interrupted = await running
      expect(processesWith(marker)).toEqual([])
      await actionSessionsGone(serverUrl(target, 'postgres'), database)
      return { interrupted, held }
    } finally {
      await proxy.close()
    }
  }

  /** The database the run created is gone again, and the log says the run dropped it. */
  async function expectDropped(stdout: string, database: string) {
    expect(stdout).toContain(`dropped the target database ${database}`)
    const { rows } = await withClient(serverUrl(target, 'postgres'), (client: pg.Client) =>
      client.query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [database])
    )
    expect(rows[0].n).toBe(0)
  }

  test('SIGINT (what the runner sends first) while rows are loaded into a database that existed: the report says the target may hold a partial copy', async () => {
    const partial = uniqueName('partial')
    await withClient(serverUrl(target, 'postgres', target.admin), (client: pg.Client) =>
      client.query(`CREATE DATABASE ${partial}`)
    )
    const { interrupted, held } = await interruptWhileLoading(partial)
    expect(held).toMatch(/^COPY /)
    expect({
      exitCode: interrupted.exitCode,
      cancelled: interrupted.report.cancelled,
      error: interrupted.report.error
    }).toEqual({
      exitCode: 1,
      cancelled: 'SIGINT',
      error: {
        stage: 'Restore',
        message: 'the run was cancelled (SIGINT) during Restore: child processes stopped, connections closed',
        hint: 'the target may hold a partial copy: run again with if-target-not-empty: resume to keep what is complete, or if-target-not-empty: clean to start over'
      }
    })
    // The database was there before the run: it stays, with what was loaded and the run's mark.
    const { rows } = await withClient(serverUrl(target, partial), (client: pg.Client) =>
      client.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = '_pg_migrate_action'`)
    )
    expect(rows[0].n).toBe(1)
  })

  test('SIGINT while rows are loaded into the database the run created: it is dropped again, and nothing was written', async () => {
    const created = uniqueName('created')
    const { interrupted, held } = await interruptWhileLoading(created)
    expect(held).toMatch(/^COPY /)
    // The target is as it was before the run, so the stage is the one that wrote nothing there.
    expect(interrupted.report.error).toEqual({
      stage: 'Dump',
      message: 'the run was cancelled (SIGINT) during Dump: child processes stopped, connections closed',
      hint: 'nothing was written to the target: run the step again'
    })
    await expectDropped(interrupted.stdout, created)
  })

  test('SIGINT while the database the run created is readied (its run mark made): it is dropped again', async () => {
    const created = uniqueName('readied')
    const { interrupted, held } = await interruptWhileLoading(
      created,
      /CREATE SCHEMA IF NOT EXISTS "_pg_migrate_action"/
    )
    expect(held).toBe('CREATE SCHEMA IF NOT EXISTS "_pg_migrate_action"')
    expect({ cancelled: interrupted.report.cancelled, hint: interrupted.report.error?.hint }).toEqual({
      cancelled: 'SIGINT',
      hint: 'nothing was written to the target: run the step again'
    })
    await expectDropped(interrupted.stdout, created)
  })
})

describe('transient refusals at start', () => {
  test('a source that refuses connections at first is retried with backoff, then migrated', async () => {
    const db = uniqueName('late')
    await testbed.createSourceDatabase(
      db,
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, g::text FROM generate_series(1, 1000) g;'
    )
    // The port opens once the run has been refused and said it retries: not after a delay, which a
    // busy machine's slow start outlasted.
    const proxy = await startLateProxy({ host: testbed.source.host, port: testbed.source.port })
    try {
      const late = { ...testbed.source, port: proxy.port }
      let refusedFirst = false
      const result = await run(
        { 'source-url': serverUrl(late, db), 'target-url': serverUrl(target, db, target.admin) },
        {
          onStdout: onLine(/^source-url: .*ECONNREFUSED.*; retrying in \d+s/, () => {
            refusedFirst = proxy.openedAt() === 0
            proxy.open()
          })
        }
      )
      expect(outcome(result)).toEqual(PASSED)
      const retries = result.stdout
        .split('\n')
        .filter((line) => /^source-url: .*ECONNREFUSED.*; retrying in \d+s/.test(line))
      expect(retries.length).toBeGreaterThanOrEqual(1)
      expect(retries[0]).toMatch(/retrying in 1s \(1\/2\)/)
      if (retries.length > 1) expect(retries[1]).toMatch(/retrying in 2s \(2\/2\)/)
      expect(refusedFirst).toBe(true)
      expect(proxy.forwarded()).toBeGreaterThan(0)
    } finally {
      await proxy.close()
    }
  })
})
