// Stress for the source side of sync: logical, without the action: on a PostgreSQL 14 server of its own,
// the sync test's writer (inserts, updates, cascading deletes, upserts, TRUNCATE then INSERT in one
// transaction) runs in each of several databases while rounds of what the action does on the source
// repeat: a publication, a temporary pgoutput slot created with EXPORT_SNAPSHOT on a replication
// connection pinned as the action pins it, the snapshot held with the dump's locks, then the stream
// started on the same connection with the action's status replies and WAL-flush nudges. Optional
// company: a test_decoding slot read in another database (it writes snapshots to disk that a stream
// restarting from its slot's restart_lsn can pick up) and VACUUM of pg_class beside the stream.
// A round fails when the stream ends with an error (the server's decoding error is in the message).
//
//   node scripts/sync-decoding-stress.js [--rounds=20] [--parallel=3] [--truncate-every=6] [--no-companion]
//                                        [--no-vacuum] [--no-locks]
import fs from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { defaultBaseDir, serverUrl, startServer, stopServer } from '../test/support/servers.js'

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value = ''] = arg.split('=')
    return [key, value]
  })
)
const number = (/** @type {string} */ name, /** @type {number} */ fallback) => Number(args.get(`--${name}`) || fallback)
const options = {
  rounds: number('rounds', 20),
  parallel: number('parallel', 3),
  truncateEvery: number('truncate-every', 6),
  companion: !args.has('--no-companion'),
  vacuum: !args.has('--no-vacuum'),
  locks: !args.has('--no-locks')
}

const TABLES = ['app.accounts', 'app.orders', 'app.events', 'app.scratch', 'app.audit']
const SCHEMA = `CREATE SCHEMA app;
  CREATE TABLE app.accounts (id bigserial PRIMARY KEY, owner text NOT NULL, balance numeric(12, 2), updated timestamptz(6), doc jsonb);
  CREATE TABLE app.orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account bigint NOT NULL REFERENCES app.accounts (id) ON DELETE CASCADE, total numeric, note text);
  CREATE TABLE app.events (id int PRIMARY KEY, kind text, at timestamp(6), big text);
  CREATE TABLE app.scratch (k text PRIMARY KEY, v int);
  CREATE TABLE app.audit (id bigserial PRIMARY KEY, op text NOT NULL, account bigint);
  CREATE FUNCTION app.audit_account() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO app.audit (op, account) VALUES (TG_OP, coalesce(NEW.id, OLD.id)); RETURN NULL; END $$;
  CREATE TRIGGER accounts_audit AFTER INSERT OR UPDATE OR DELETE ON app.accounts FOR EACH ROW EXECUTE FUNCTION app.audit_account();
  INSERT INTO app.accounts (owner, balance, updated, doc)
    SELECT 'owner ' || g, g * 1.5, now(), jsonb_build_object('n', g) FROM generate_series(1, 3000) g;
  INSERT INTO app.orders (account, total, note) SELECT 1 + g % 3000, g * 0.01, 'order ' || g FROM generate_series(1, 6000) g;
  INSERT INTO app.events SELECT g, 'k', now(), (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 100) i)
    FROM generate_series(1, 200) g;
  INSERT INTO app.scratch SELECT 'k' || g, g FROM generate_series(1, 100) g;`

const baseDir = defaultBaseDir('pg-migrate-stress')
const server = await startServer({
  major: 14,
  baseDir,
  settings: ['wal_level=logical', 'max_replication_slots=20', 'max_wal_senders=20']
})
const url = (/** @type {string} */ database) => serverUrl(server, database)
let stopping = false

/** @param {string} database @param {(client: pg.Client) => Promise<void>} work */
async function session(database, work, replication = false) {
  const client = new pg.Client({ connectionString: url(database), ...(replication ? { replication: 'database' } : {}) })
  client.on('error', () => undefined)
  await client.connect()
  try {
    await work(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** One of the sync test's writer's transactions, by its number. @param {pg.Client} client @param {number} i */
async function writeOnce(client, i) {
  const pick = '(SELECT id FROM app.accounts ORDER BY id DESC LIMIT 1 OFFSET 5)'
  const kinds = [
    async () => {
      const { rows } = await client.query(
        `INSERT INTO app.accounts (owner, balance, doc) VALUES ($1, $2, $3) RETURNING id`,
        [`w ${i}`, i, { i }]
      )
      await client.query(`INSERT INTO app.orders (account, total, note) VALUES ($1, $2, 'new')`, [rows[0].id, i])
    },
    () => client.query(`UPDATE app.accounts SET balance = balance + 1, updated = clock_timestamp() WHERE id = ${pick}`),
    () => client.query(`DELETE FROM app.accounts WHERE id = ${pick}`),
    () =>
      client.query(`UPDATE app.events SET kind = $1, at = clock_timestamp() WHERE id = $2`, [`k${i}`, 1 + (i % 200)]),
    () =>
      client.query(`BEGIN; INSERT INTO app.scratch VALUES ('w${i % 40}', ${i}) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
        UPDATE app.orders SET total = total + 1, note = NULL WHERE id = (SELECT min(id) FROM app.orders); COMMIT`),
    () =>
      i % options.truncateEvery === 5 % options.truncateEvery
        ? client.query(
            `BEGIN; TRUNCATE app.scratch; INSERT INTO app.scratch SELECT 't' || g, g FROM generate_series(1, 20) g; COMMIT`
          )
        : client.query(`DELETE FROM app.scratch WHERE k = (SELECT min(k) FROM app.scratch)`)
  ]
  await kinds[i % kinds.length]()
}

/** A logical stream's status reply: written, flushed and applied up to `lsn`. @param {bigint} lsn */
function statusReply(lsn) {
  const message = Buffer.alloc(34)
  message.write('r', 0)
  for (const at of [1, 9, 17]) message.writeBigUInt64BE(lsn, at)
  message.writeBigUInt64BE(BigInt(Date.now() - 946_684_800_000) * 1000n, 25)
  return message
}

/**
 * Streams from the slot on `connection` for a few seconds, confirming each commit and keepalive as the
 * action does, nudging the source's WAL flush as the action does. Resolves 'ok' or the stream's error.
 * @param {pg.Client} connection @param {string} database @param {string} slot @param {string} start
 */
async function follow(connection, database, slot, start) {
  const wire = /** @type {any} */ (connection).connection
  let confirmed = 0n
  wire.on('copyData', (/** @type {{ chunk: Buffer }} */ { chunk }) => {
    const keepalive = chunk[0] === 0x6b
    const commit = chunk[0] === 0x77 && chunk[25] === 0x43
    const lsn = chunk.readBigUInt64BE(keepalive ? 1 : 9)
    if ((keepalive || commit) && lsn > confirmed) wire.sendCopyFromChunk(statusReply((confirmed = lsn)))
  })
  const streamed = connection
    .query(`START_REPLICATION SLOT ${slot} LOGICAL ${start} (proto_version '1', publication_names '${slot}')`)
    .then(
      () => 'the source ended the stream',
      (/** @type {Error} */ error) => `ERROR ${error.message}`
    )
  let result
  await session(database, async (probe) => {
    const until = Date.now() + 3000 + Math.random() * 3000
    while (!result && Date.now() < until) {
      await probe.query('BEGIN; SET LOCAL synchronous_commit = local; SELECT pg_catalog.txid_current(); COMMIT')
      result = await Promise.race([streamed, sleep(250)])
    }
  })
  return result ?? 'ok'
}

/** One sync's life on the source, as the action lives it. @param {string} database @param {string} slot */
async function round(database, slot) {
  await session(database, (client) => client.query(`CREATE PUBLICATION ${slot} FOR TABLE ${TABLES.join(', ')}`))
  let result = 'ok'
  await session(
    database,
    async (connection) => {
      await connection.query(`SELECT pg_catalog.set_config('search_path', '', false)`)
      const created = await connection.query(
        `CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`
      )
      const { consistent_point: start, snapshot_name: snapshot } = created.rows[0]
      await session(database, async (holder) => {
        await holder.query(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${snapshot}'`)
        if (options.locks) await holder.query(`LOCK TABLE ${TABLES.join(', ')} IN ACCESS SHARE MODE`)
        await sleep(300 + Math.random() * 2500)
      })
      result = await follow(connection, database, slot, start)
    },
    true
  )
  await session(database, async (client) => {
    // The temporary slot goes with its walsender, which takes a moment to exit.
    for (let i = 0; i < 50; i++) {
      const { rowCount } = await client.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot])
      if (rowCount === 0) break
      await sleep(100)
    }
    await client.query(`DROP PUBLICATION ${slot}`)
  })
  return result
}

/**
 * Until stopped, in the background: `work` over and over on one session.
 * @param {string} database @param {(client: pg.Client, i: number) => Promise<unknown>} work
 */
function loop(database, work) {
  return session(database, async (client) => {
    for (let i = 0; !stopping; i++) await work(client, i)
  })
}

/** @param {pg.Client} client */
async function vacuumCatalog(client) {
  await client.query('VACUUM pg_catalog.pg_class')
  await sleep(100)
}

async function companion() {
  await session('postgres', (client) => client.query('CREATE DATABASE companion'))
  await session('companion', async (client) => {
    await client.query('CREATE TABLE t (id serial PRIMARY KEY)')
    // A slot cannot be created in a transaction that wrote.
    await client.query(`SELECT pg_create_logical_replication_slot('companion', 'test_decoding')`)
  })
  return loop('companion', async (client) => {
    await client.query(
      `INSERT INTO t DEFAULT VALUES; SELECT count(*) FROM pg_logical_slot_get_changes('companion', NULL, NULL)`
    )
    await sleep(30)
  })
}

const databases = Array.from({ length: options.parallel }, (_, i) => `app${i}`)
let failures = 0
try {
  for (const database of databases) {
    await session('postgres', (client) => client.query(`CREATE DATABASE ${database}`))
    await session(database, (client) => client.query(SCHEMA))
  }
  const background = [
    ...databases.map((database) => loop(database, writeOnce)),
    // The catalog rows old snapshots need are removed as soon as the horizons allow.
    ...(options.vacuum ? databases.map((database) => loop(database, vacuumCatalog)) : []),
    ...(options.companion ? [companion()] : [])
  ]
  // A background failure (a writer's, say) ends the run at once, as a failed round would.
  const backgroundFailed = Promise.all(background).then(() => new Promise(() => undefined))
  await sleep(1000)
  const rounds = Promise.all(
    databases.map(async (database) => {
      for (let n = 0; n < options.rounds; n++) {
        const result = await round(database, `stress_${database}_${n}`)
        if (result !== 'ok') failures++
        console.log(`${database} round ${n}: ${result}`)
      }
    })
  )
  await Promise.race([rounds, backgroundFailed])
  stopping = true
  await Promise.all(background)
} finally {
  stopping = true
  console.log(`${failures} of ${options.rounds * options.parallel} rounds failed`)
  await stopServer(server, 'immediate')
  fs.rmSync(baseDir, { recursive: true, force: true })
}
process.exitCode = failures > 0 ? 1 : 0
