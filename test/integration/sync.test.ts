// sync: logical against real servers: the test bed's 14 source runs with wal_level = logical, and
// the source login is an owner with REPLICATION (not a superuser); the 17 target's login is the
// managed-style admin, which may not set session_replication_role, so triggers wait for cutover.
// Faults and cancels strike at a line of the log, never after a delay.
import pg from 'pg'
import { runInProcess, type InProcessOptions } from '../support/in-process.js'
import { runAction } from '../support/run-action.js'
import { loadTestbed, tableDigests, withClient } from '../support/testbed.js'
import { scratchFolder } from '../support/scratch.js'
import { syncOwner } from '../support/sync-owner.js'

const testbed = loadTestbed()
const scratch = scratchFolder('sync-')
const { ownerUrl, migrate, ...made } = syncOwner('sync_owner', scratch)
const withClientOnPath: InProcessOptions = { env: { PGBIN: testbed.clientBinDir } }

/** Several tables of several kinds: identity and serial keys, a cascade, TOASTed values, an audit trigger. */
const APP = `CREATE SCHEMA app;
  CREATE TABLE app.accounts (id bigserial PRIMARY KEY, owner text NOT NULL, balance numeric(12, 2), updated timestamptz(6), doc jsonb);
  CREATE TABLE app.orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account bigint NOT NULL REFERENCES app.accounts (id) ON DELETE CASCADE, total numeric, note text);
  CREATE TABLE app.events (id int PRIMARY KEY, kind text, at timestamp(6), big text);
  CREATE TABLE app.scratch (k text PRIMARY KEY, v int);
  CREATE TABLE app.audit (id bigserial PRIMARY KEY, op text NOT NULL, account bigint);
  CREATE FUNCTION app.audit_account() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO app.audit (op, account) VALUES (TG_OP, coalesce(NEW.id, OLD.id)); RETURN NULL; END $$;
  CREATE TRIGGER accounts_audit AFTER INSERT OR UPDATE OR DELETE ON app.accounts FOR EACH ROW EXECUTE FUNCTION app.audit_account();
  COMMENT ON TRIGGER accounts_audit ON app.accounts IS 'every change, once';
  INSERT INTO app.accounts (owner, balance, updated, doc)
    SELECT 'owner ' || g, g * 1.5, timestamptz '2024-01-01 00:00:00.123456+00' + g * interval '1 second', jsonb_build_object('n', g)
    FROM generate_series(1, 3000) g;
  INSERT INTO app.orders (account, total, note) SELECT 1 + g % 3000, g * 0.01, 'order ' || g FROM generate_series(1, 6000) g;
  INSERT INTO app.events SELECT g, 'k', timestamp '2024-01-01 00:00:00.654321' + g * interval '1 minute',
    (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 100) i) FROM generate_series(1, 200) g;
  INSERT INTO app.scratch SELECT 'k' || g, g FROM generate_series(1, 100) g;`

/** A source database owned by the replication login, its tables created by it. */
const sourceDatabase = (prefix: string, sql = APP): Promise<string> => made.sourceDatabase(prefix, sql)

/** What a sync left on the source: slots and publications by the action's prefix. */
async function leftovers(database: string): Promise<string[]> {
  const { rows } = await testbed.query(
    'source',
    database,
    `SELECT 'slot ' || slot_name AS name FROM pg_replication_slots WHERE slot_name LIKE 'pg\\_migrate\\_%' AND database = '${database}'
     UNION ALL SELECT 'publication ' || pubname FROM pg_publication WHERE pubname LIKE 'pg\\_migrate\\_%'`
  )
  return rows.map((row) => row.name as string)
}

/**
 * The application: transactions of inserts, updates, deletes (cascading) and TRUNCATEs on several
 * tables, one after the other, until told to stop after a number of further transactions.
 */
class Writer {
  private client?: pg.Client
  private remaining = Infinity
  private started?: () => void
  readonly running: Promise<void>
  readonly warmedUp: Promise<void>
  transactions = 0
  accountChanges = 0

  constructor(private readonly url: string) {
    this.warmedUp = new Promise((resolve) => (this.started = resolve))
    this.running = this.loop()
  }

  /** Stops after `more` transactions. */
  stopAfter(more: number): void {
    this.remaining = Math.min(this.remaining, more)
  }

  private async loop(): Promise<void> {
    this.client = new pg.Client({ connectionString: this.url })
    this.client.on('error', () => undefined)
    await this.client.connect()
    try {
      for (let i = 0; this.remaining-- > 0; i++) {
        await this.step(this.client, i)
        this.transactions++
        if (this.transactions === 20) this.started?.()
      }
    } finally {
      await this.client.end()
    }
  }

  private async step(client: pg.Client, i: number): Promise<void> {
    const pick = '(SELECT id FROM app.accounts ORDER BY id DESC LIMIT 1 OFFSET 5)'
    switch (i % 6) {
      case 0: {
        const { rows } = await client.query(
          `INSERT INTO app.accounts (owner, balance, updated, doc) VALUES ($1, $2, clock_timestamp(), $3) RETURNING id`,
          [`writer ${i}`, i * 0.25, { i, tags: ['a', 'b'] }]
        )
        await client.query(`INSERT INTO app.orders (account, total, note) VALUES ($1, $2, 'new')`, [rows[0].id, i])
        this.accountChanges++
        return
      }
      case 1:
        await client.query(
          `UPDATE app.accounts SET balance = balance + 1, updated = clock_timestamp() WHERE id = ${pick}`
        )
        this.accountChanges++
        return
      case 2: {
        // The cascade deletes the account's orders on the source; the target must end the same.
        const { rowCount } = await client.query(`DELETE FROM app.accounts WHERE id = ${pick}`)
        this.accountChanges += rowCount ?? 0
        return
      }
      case 3:
        // The TOASTed column is unchanged: pgoutput does not send it.
        await client.query(`UPDATE app.events SET kind = $1, at = clock_timestamp() WHERE id = $2`, [
          `k${i}`,
          1 + (i % 200)
        ])
        return
      case 4:
        await client.query('BEGIN')
        await client.query(`INSERT INTO app.scratch VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, [
          `w${i % 40}`,
          i
        ])
        await client.query(
          `UPDATE app.orders SET total = total + 1, note = NULL WHERE id = (SELECT min(id) FROM app.orders)`
        )
        await client.query('COMMIT')
        return
      case 5:
        if (i % 30 === 5) {
          await client.query('BEGIN')
          await client.query('TRUNCATE app.scratch')
          await client.query(`INSERT INTO app.scratch SELECT 't' || g, g FROM generate_series(1, 20) g`)
          await client.query('COMMIT')
        } else await client.query(`DELETE FROM app.scratch WHERE k = (SELECT min(k) FROM app.scratch)`)
        return
    }
  }
}

// auto streams the initial copy under a sync (nothing is uploaded); the dump path stays for artifacts.
test.each(['auto', 'dump'])(
  'copy-method %s: a source written to all along is caught up, cut over when idle, and verified with no difference',
  async (copyMethod) => {
    const database = await sourceDatabase('sync_writer')
    const writer = new Writer(ownerUrl(database))
    await writer.warmedUp
    const dumpStartedAt = writer.transactions
    let streamingAt = 0
    const run = await runInProcess(migrate(database, { 'copy-method': copyMethod }), {
      ...withClientOnPath,
      onLine(line) {
        if (line.startsWith('sync: streaming changes')) streamingAt = writer.transactions
        // The application goes on past the first catch-up, then stops: the cutover waits for that.
        if (line.startsWith('sync: caught up with the source')) writer.stopAfter(40)
      }
    })
    writer.stopAfter(0)
    await writer.running
    const sync = run.report.databases[0].sync
    expect({ result: run.report.result, errors: run.errors, mismatches: run.report.mismatches }).toEqual({
      result: 'passed',
      errors: [],
      mismatches: 0
    })
    const { copyMethod: chosen, stream } = run.report.databases[0]
    expect(chosen?.method).toBe(copyMethod === 'auto' ? 'stream' : 'dump')
    // The initial copy ran over both of the jobs' pairs of sessions in the slot's snapshot, all five tables.
    if (copyMethod === 'auto') expect(stream).toMatchObject({ sessions: 2, tables: 5, changesFollowed: true })
    else expect(stream).toBeUndefined()
    // The writer wrote during the copy and during the stream, and every kind of change was replayed.
    expect(streamingAt).toBeGreaterThan(dumpStartedAt)
    expect(writer.transactions).toBeGreaterThan(streamingAt + 40)
    expect(sync?.applied).toEqual(
      expect.objectContaining({
        inserts: expect.any(Number),
        updates: expect.any(Number),
        deletes: expect.any(Number),
        truncates: expect.any(Number)
      })
    )
    for (const kind of ['inserts', 'updates', 'deletes', 'truncates'] as const)
      expect(sync?.applied?.[kind]).toBeGreaterThan(0)
    expect(sync?.triggers).toBe('created-at-cutover')
    expect(sync?.triggersCreated).toBe(1)
    expect(sync?.downtime?.seconds).toBeGreaterThan(0)
    expect(sync?.lag?.length).toBeGreaterThan(0)
    expect(Number(run.outputs['downtime-seconds'])).toBe(sync?.downtime?.seconds)
    expect(JSON.parse(run.outputs['sync-lag-json'])[database].length).toBe(sync?.lag?.length)
    expect(run.summary).toContain('Downtime window')

    // The test's own digests of every table agree, independent of the action's fingerprint.
    expect(await tableDigests(testbed.targetSuperUrl(database))).toEqual(await tableDigests(ownerUrl(database)))
    // The audit trigger fired once per change: on the source only, its rows replayed, never re-fired.
    const audit = async (url: string) =>
      withClient(url, async (client) => (await client.query('SELECT count(*)::int AS n FROM app.audit')).rows[0].n)
    expect(await audit(testbed.targetSuperUrl(database))).toBe(3000 + writer.accountChanges)
    expect(await audit(ownerUrl(database))).toBe(3000 + writer.accountChanges)
    // Created at cutover, the trigger fires for the application's writes on the target from now on.
    await testbed.query('target', database, `UPDATE app.accounts SET balance = 0 WHERE id = 1`)
    expect(await audit(testbed.targetSuperUrl(database))).toBe(3001 + writer.accountChanges)
    expect(await leftovers(database)).toEqual([])
  }
)

test('a target login that may set session_replication_role applies as a replica: triggers restored as usual, none fires twice', async () => {
  const database = await sourceDatabase('sync_replica')
  const writer = new Writer(ownerUrl(database))
  await writer.warmedUp
  const run = await runInProcess(
    // The target's superuser stands for a login granted SET on session_replication_role. The run's
    // restore role may not set it: only a run that applies as the login itself can.
    {
      ...migrate(database),
      'target-url': testbed.targetSuperUrl(database),
      'accept-source-code': 'true',
      'copy-method': 'stream'
    },
    {
      ...withClientOnPath,
      onLine(line) {
        if (line.startsWith('sync: caught up with the source')) writer.stopAfter(20)
      }
    }
  )
  writer.stopAfter(0)
  await writer.running
  expect({ result: run.report.result, errors: run.errors }).toEqual({ result: 'passed', errors: [] })
  expect(run.report.databases[0].sync?.triggers).toBe('replica-role')
  expect(run.report.databases[0].stream?.sessions).toBe(2)
  expect(run.summary).toContain('session_replication_role = replica')
  const audit = async (url: string) =>
    withClient(url, async (client) => (await client.query('SELECT count(*)::int AS n FROM app.audit')).rows[0].n)
  expect(await audit(testbed.targetSuperUrl(database))).toBe(3000 + writer.accountChanges)
  expect(await audit(ownerUrl(database))).toBe(3000 + writer.accountChanges)
  expect(await tableDigests(testbed.targetSuperUrl(database))).toEqual(await tableDigests(ownerUrl(database)))
  expect(await leftovers(database)).toEqual([])
})

test('a source that goes quiet is cut over after cutover-idle-seconds, though its WAL and its ANALYZEs go on', async () => {
  const database = await sourceDatabase('sync_quiet')
  const writer = new Writer(ownerUrl(database))
  await writer.warmedUp
  const idleSeconds = 2
  let writerDoneAt = 0
  let cutoverAt = 0
  // What a quiet production source still does: autovacuum's ANALYZE (a transaction of its own that
  // the stream carries, empty, before 15) and WAL that no commit flushes (here a non-transactional
  // message; autovacuum's pruning does the same), which the source sends only once the background
  // writer's next snapshot (every 15 s) flushes it. Neither is a write to a table.
  const maintenance = writer.running.then(async () => {
    writerDoneAt = performance.now()
    await withClient(ownerUrl(database), async (client) => {
      for (let i = 0; i < 120 && !cutoverAt; i++) {
        await client.query(`SELECT pg_catalog.pg_logical_emit_message(false, 'test', 'quiet')`)
        if (i === 1 || i === 5) await client.query('ANALYZE app.accounts')
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    })
  })
  const run = await runInProcess(migrate(database, { 'cutover-idle-seconds': String(idleSeconds) }), {
    ...withClientOnPath,
    onLine(line) {
      if (line.startsWith('sync: caught up with the source')) writer.stopAfter(20)
      if (line.startsWith('sync: cutover:')) cutoverAt = performance.now()
    }
  })
  writer.stopAfter(0)
  await maintenance
  const sync = run.report.databases[0].sync
  expect({ result: run.report.result, errors: run.errors, mismatches: run.report.mismatches }).toEqual({
    result: 'passed',
    errors: [],
    mismatches: 0
  })
  // The run's own window starts at the writer's last commit, not at an ANALYZE after it...
  const sinceWriterStopped = (cutoverAt - writerDoneAt) / 1000
  expect(sync?.downtime?.waitingSeconds).toBeGreaterThan(sinceWriterStopped - 1)
  // ...and the wait is the setting plus the probes' half-second ticks, not the next flush of the WAL.
  expect(sync?.downtime?.waitingSeconds).toBeGreaterThanOrEqual(idleSeconds)
  expect(sync?.downtime?.waitingSeconds).toBeLessThan(idleSeconds + 4)
  expect(await tableDigests(testbed.targetSuperUrl(database))).toEqual(await tableDigests(ownerUrl(database)))
  expect(await leftovers(database)).toEqual([])
})

test('a table without a primary key or replica identity is a blocker before anything is written', async () => {
  const database = await sourceDatabase(
    'sync_nokey',
    `CREATE TABLE log (at timestamptz, line text); CREATE TABLE ok (id int PRIMARY KEY)`
  )
  const run = await runInProcess(migrate(database), withClientOnPath)
  expect(run.report.result).toBe('failed')
  expect(run.failed).toMatch(/without a primary key or replica identity .*public\.log/)
  expect(run.report.databases[0].findings.find((finding) => finding.id === 'sync-no-replica-identity')).toEqual(
    expect.objectContaining({ severity: 'blocker', objects: ['public.log'] })
  )
  const { rowCount } = await testbed.query(
    'target',
    'postgres',
    `SELECT 1 FROM pg_database WHERE datname = '${database}'`
  )
  expect(rowCount).toBe(0)
  expect(await leftovers(database)).toEqual([])
})

test('an apply failure mid-sync drops the slot and reports the target as partial', async () => {
  const database = await sourceDatabase('sync_conflict')
  // The clash must reach the apply before any cutover: after-catch-up could cut over first on a busy
  // machine (the catch-up point may come before the source's write). A cutover that waits for ten
  // minutes of quiet after that write cannot.
  const run = await runInProcess(migrate(database, { cutover: 'when-idle', 'cutover-idle-seconds': '600' }), {
    ...withClientOnPath,
    onLine(line) {
      if (!line.startsWith('sync: streaming changes')) return
      // A row written on the target directly, then the same key on the source: the replay must refuse.
      void testbed
        .query('target', database, `INSERT INTO app.scratch VALUES ('clash', 1)`)
        .then(() =>
          withClient(ownerUrl(database), (client) => client.query(`INSERT INTO app.scratch VALUES ('clash', 2)`))
        )
    }
  })
  expect(run.report.result).toBe('failed')
  expect(run.report.databases[0].error?.stage).toBe('Sync')
  expect(run.failed).toMatch(
    /applying a source change to app\.scratch .*duplicate key.* — the target holds a partial copy/
  )
  expect(run.report.databases[0].targetTouched).toBe(true)
  expect(await leftovers(database)).toEqual([])
})

test('a lag that keeps growing for max-lag-seconds fails the run instead of running on', async () => {
  const database = await sourceDatabase('sync_lag')
  const writer = new Writer(ownerUrl(database))
  await writer.warmedUp
  // The target stops taking changes to one table: a lock held open, as a long report query might.
  const lock = new pg.Client({ connectionString: testbed.targetSuperUrl(database) })
  let locked: Promise<unknown> | undefined
  const run = await runInProcess(migrate(database, { 'max-lag-seconds': '2' }), {
    ...withClientOnPath,
    onLine(line) {
      if (line.startsWith('sync: streaming changes'))
        locked = lock.connect().then(() => lock.query('BEGIN; LOCK TABLE app.scratch IN ACCESS EXCLUSIVE MODE'))
    }
  })
  writer.stopAfter(0)
  await writer.running
  await locked
  await lock.query('ROLLBACK')
  await lock.end()
  expect(run.report.result).toBe('failed')
  expect(run.report.databases[0].error?.stage).toBe('Sync')
  expect(run.failed).toMatch(
    /the target is \d+ s behind the source and has not come closer for 2 s \(max-lag-seconds\) — the target holds a partial copy/
  )
  expect(await leftovers(database)).toEqual([])
})

test('a cancel mid-sync drops the slot and the publication', async () => {
  const database = await sourceDatabase('sync_cancel')
  const run = await runInProcess(migrate(database), {
    ...withClientOnPath,
    onLine(line, cancellation) {
      if (line.startsWith('sync: streaming changes')) cancellation.cancel('SIGINT')
    }
  })
  expect(run.report.cancelled).toBe('SIGINT')
  expect(run.report.error?.hint).toMatch(/partial copy/)
  expect(await leftovers(database)).toEqual([])
})

test('a column added on the source mid-sync fails the run naming the table', async () => {
  const database = await sourceDatabase('sync_ddl')
  const run = await runInProcess(migrate(database), {
    ...withClientOnPath,
    onLine(line) {
      if (line.startsWith('sync: streaming changes'))
        void withClient(ownerUrl(database), async (client) => {
          await client.query('ALTER TABLE app.scratch ADD COLUMN extra int')
          await client.query(`INSERT INTO app.scratch VALUES ('after', 1, 2)`)
        })
    }
  })
  expect(run.report.result).toBe('failed')
  expect(run.failed).toMatch(/the source changed its schema during the sync: table app\.scratch: column extra added/)
  expect(await leftovers(database)).toEqual([])
})

test('an index created on the source mid-sync is found at cutover and named', async () => {
  const database = await sourceDatabase('sync_ddl_index')
  let created: Promise<unknown> | undefined
  const run = await runInProcess(migrate(database, { cutover: 'after-catch-up' }), {
    ...withClientOnPath,
    onLine(line) {
      if (line.startsWith('sync: streaming changes'))
        created = withClient(ownerUrl(database), (client) => client.query('CREATE INDEX scratch_v ON app.scratch (v)'))
    }
  })
  await created
  expect(run.report.result).toBe('failed')
  expect(run.report.databases[0].error?.stage).toBe('Cutover')
  expect(run.failed).toMatch(/the source changed its schema during the sync: index app\.scratch_v.*\(created\)/)
  expect(await leftovers(database)).toEqual([])
})

test('a runner killed mid-sync leaves nothing the next plan does not name', async () => {
  const database = await sourceDatabase('sync_kill')
  let killed = false
  const run = await runAction(
    { ...migrate(database), 'client-download-url': testbed.clientTemplate },
    {
      onChild(child) {
        let pending = ''
        child.stdout?.on('data', (chunk) => {
          pending += chunk
          if (!killed && /^sync: streaming changes/m.test(pending)) {
            killed = true
            child.kill('SIGKILL')
          }
        })
      }
    }
  )
  expect({ killed, exitCode: run.exitCode }).toEqual({ killed: true, exitCode: null })
  const plan = await runInProcess({ ...migrate(database), mode: 'plan' }, withClientOnPath)
  const found = plan.report.databases[0].findings.find((finding) => finding.id === 'sync-leftovers')
  // Read after the plan: whatever is still there now was there when the plan looked.
  const left = await leftovers(database)
  // The publication stays; the temporary slot goes once the server sees the connection closed, and
  // until then the plan names it too, with the statements that drop them.
  expect(left).toContainEqual(expect.stringMatching(/^publication pg_migrate_/))
  for (const object of left) expect(found?.message).toContain(object.split(' ')[1])
  expect(found?.hint).toMatch(/DROP PUBLICATION pg_migrate_\w+;/)
  for (const object of left.filter((o) => o.startsWith('publication ')))
    await testbed.query('source', database, `DROP PUBLICATION ${object.split(' ')[1]}`)
})
