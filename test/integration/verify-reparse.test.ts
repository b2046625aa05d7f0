import { execFileSync } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import { compareFingerprints, compareOnTarget, type Comparison } from '../../src/verify/compare.js'
import { fingerprintDatabase, type Fingerprint } from '../../src/verify/fingerprint/index.js'
import { withClient } from '../support/servers.js'
import { loadTestbed, loadTestbedState, quoteIdent, uniqueName } from '../support/testbed.js'

// Definitions whose printing is not a fixed point: the target parses the source's text again in a
// rolled-back scratch transaction, and a faithful copy must verify with no difference, 14 → 17 and
// 17 → 17 alike; a real change must still be found.
const testbed = loadTestbed()
const { source, target, clientBinDir } = loadTestbedState()

const SCHEMA = `
  CREATE TABLE orders (id serial PRIMARY KEY, status varchar(20) NOT NULL CHECK (status IN ('new', 'paid', 'shipped')),
    col1 int, kind varchar(10) DEFAULT 'a'::varchar);
  CREATE INDEX orders_open ON orders (id) WHERE status IN ('new', 'paid');
  CREATE DOMAIN answer AS varchar(3) CHECK (VALUE IN ('yes', 'no'));
  CREATE VIEW open_orders WITH (security_barrier, check_option = 'local') AS SELECT t.col1 FROM orders t;
  CREATE VIEW with_null AS SELECT col1 FROM orders UNION SELECT NULL::integer;
  CREATE VIEW null_first AS SELECT NULL::integer UNION SELECT col1 FROM orders;
  CREATE VIEW in_list AS SELECT id FROM orders WHERE status IN ('new', 'paid');
  CREATE VIEW periods AS SELECT ((extract('YEAR' from now()) - 1)::text || '-12-31')::date AS date_to;
  INSERT INTO orders (status, col1) VALUES ('new', 1), ('paid', 2);`

type Side = 'source' | 'target'

const connector = (url: string) => async (): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}

const url = (side: Side, db: string): string => (side === 'source' ? testbed.sourceUrl(db) : testbed.targetSuperUrl(db))

/** Creates the schema on `from` (14, or the 17 target for a same-version move), dumps and restores it into 17. */
async function move(prefix: string, from: Side): Promise<{ sourceDb: string; targetDb: string }> {
  const sourceDb = uniqueName(prefix)
  const targetDb = `${sourceDb}_copy`
  const server = from === 'source' ? source : target
  await withClient(url(from, 'postgres'), (client) => client.query(`CREATE DATABASE ${quoteIdent(sourceDb)}`))
  await withClient(url(from, sourceDb), (client) => client.query(SCHEMA))
  const env = { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.superuser.user }
  const dump = execFileSync(path.join(clientBinDir, 'pg_dump'), ['--format=custom', '-d', sourceDb], {
    env: { ...env, PGPASSWORD: server.superuser.password },
    maxBuffer: 64 * 1024 * 1024
  })
  await withClient(url('target', 'postgres'), (client) => client.query(`CREATE DATABASE ${quoteIdent(targetDb)}`))
  const targetEnv = { PGHOST: target.host, PGPORT: String(target.port), PGUSER: target.superuser.user }
  execFileSync(path.join(clientBinDir, 'pg_restore'), ['--exit-on-error', '-d', targetDb], {
    env: { ...process.env, ...targetEnv, PGPASSWORD: target.superuser.password },
    input: dump,
    stdio: ['pipe', 'ignore', 'pipe']
  })
  return { sourceDb, targetDb }
}

async function fingerprints(from: Side, sourceDb: string, targetDb: string): Promise<[Fingerprint, Fingerprint]> {
  const options = { level: 'full' as const, jobs: 1, validationQueries: [] }
  const before = await fingerprintDatabase(connector(url(from, sourceDb)), options)
  const after = await fingerprintDatabase(connector(url('target', targetDb)), { ...options, like: before.tables })
  return [before, after]
}

const definitions = (comparison: Comparison): string[] =>
  comparison.differences.filter((d) => d.kind === 'definition').map((d) => d.object)

describe.each([
  ['14 → 17', 'source' as Side],
  ['17 → 17', 'target' as Side]
])('a faithful copy %s of definitions printed otherwise once parsed again', (_pair, from) => {
  let sourceDb: string
  let targetDb: string
  let before: Fingerprint
  let after: Fingerprint

  beforeAll(async () => {
    ;({ sourceDb, targetDb } = await move('vr', from))
    ;[before, after] = await fingerprints(from, sourceDb, targetDb)
  })

  test('the printings differ: compared as text, the varchar IN check, its index, its domain and an EXTRACT read as changed', () => {
    const asText = definitions(compareFingerprints(before, after, { privileges: 'keep' }))
    expect(asText).toEqual(
      expect.arrayContaining([
        'constraint public.orders.orders_status_check',
        'index public.orders_open',
        'type public.answer',
        // A field named as a string: printed bare, EXTRACT(YEAR …), and parsed again as an identifier, year.
        'view public.periods'
      ])
    )
  })

  test('parsed again on the target, nothing differs', async () => {
    const comparison = await compareOnTarget(connector(url('target', targetDb)), before, after, { privileges: 'keep' })
    expect(comparison.differences.filter((d) => !d.expected)).toEqual([])
    expect(comparison.passed).toBe(true)
  })

  test('a real change of the check is still found, with what the source text means on the target', async () => {
    await testbed.query(
      'target',
      targetDb,
      `ALTER TABLE orders DROP CONSTRAINT orders_status_check;
       ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('new', 'paid', 'lost'));
       CREATE OR REPLACE VIEW with_null AS SELECT col1 FROM orders UNION SELECT 1`
    )
    const changed = await fingerprintDatabase(connector(url('target', targetDb)), {
      level: 'full',
      jobs: 1,
      validationQueries: [],
      like: before.tables
    })
    const comparison = await compareOnTarget(connector(url('target', targetDb)), before, changed, {
      privileges: 'keep'
    })
    expect(comparison.passed).toBe(false)
    const check = comparison.differences.find((d) => d.object === 'constraint public.orders.orders_status_check')
    expect(check).toMatchObject({ expected: false })
    expect(check?.detail).toContain(`the target parses the source's text into CHECK`)
    expect(check?.detail).toContain(`'shipped'`)
    expect(definitions(comparison)).toEqual(
      expect.arrayContaining(['view public.with_null', 'constraint public.orders.orders_status_check'])
    )
  })
})
