// The version matrix: every supported source major into every supported target major, each moving the
// sample database with the real action (dist/index.js) as the target's managed-style admin, then plan
// and validate on the result. Targets run for the whole file; each source major's server starts and
// stops with its block. Narrow it with MATRIX_SOURCES=13,16 and MATRIX_TARGETS=18 (see `npm run matrix`).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { startClientBundleServer, CLIENT_BUNDLE_DIR } from '../support/client-bundle-server.js'
import { outcome, PASSED, runAction, type ActionRun } from '../support/run-action.js'
import {
  REPO_ROOT,
  SERVER_MAJORS,
  serverUrl,
  startServer,
  stopServer,
  withClient,
  type ServerInfo
} from '../support/servers.js'
import { tableDigests } from '../support/testbed.js'
import { readInventory } from '../../src/verify/fingerprint/inventory.js'
import { closeSession, openSession } from '../../src/verify/fingerprint/session.js'
import type { SchemaObject } from '../../src/verify/fingerprint/types.js'

const SAMPLE = fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sample.sql'), 'utf8')
const TARGET_MAJORS = [17, 18]

/**
 * Beside the sample: SQL function bodies, read deparsed from 14 on (pg_get_function_sqlbody), and a
 * SQL-standard body where the source has them.
 */
function acrossMajors(sourceMajor: number): string {
  const atomic =
    sourceMajor >= 14
      ? `CREATE FUNCTION shop.gross(net numeric) RETURNS numeric LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT net * 1.2; END;`
      : ''
  return `
    CREATE FUNCTION shop.net(gross numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT gross / 1.2';
    ${atomic}
    CREATE VIEW shop.net_prices AS SELECT id, shop.net(price) AS net FROM shop.products;`
}

/**
 * Range types got a multirange in 14, made and named by the server unless multirange_type_name names
 * it: the copy of a 12 or 13 range gets one. The same SQL on both servers stands for the restore
 * (pg_dump writes multirange_type_name only from 14 on). Range types are not in the sample because
 * the plan still counts their constructors as untrusted functions on a managed target.
 */
function rangeTypes(sourceMajor: number): string {
  const named = sourceMajor >= 14 ? ', multirange_type_name = shop.slot_set' : ''
  return `CREATE SCHEMA shop;
    CREATE TYPE shop.weight_range AS RANGE (subtype = float8);
    CREATE TYPE shop.slot AS RANGE (subtype = timestamptz${named});`
}

async function typeInventory(url: string): Promise<SchemaObject[]> {
  const session = await openSession(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    return client
  })
  try {
    return (await readInventory(session)).filter((object) => object.kind === 'type')
  } finally {
    await closeSession(session)
  }
}

/** A comma-separated subset of `all` from the environment, or all of it. */
function chosen(variable: string, all: number[]): number[] {
  const value = process.env[variable]?.trim()
  if (!value) return all
  const picked = value.split(',').map((part) => Number(part.trim()))
  const unknown = picked.filter((major) => !all.includes(major))
  if (unknown.length > 0) throw new Error(`${variable}=${value}: ${unknown.join(', ')} not in ${all.join(', ')}`)
  return picked
}

const targetMajors = chosen('MATRIX_TARGETS', TARGET_MAJORS)
// A source newer than every target is a downgrade, refused by design (client-install tests cover it).
const sourceMajors = chosen('MATRIX_SOURCES', SERVER_MAJORS).filter((major) => major <= Math.max(...targetMajors))
if (sourceMajors.length === 0) throw new Error('no source major at or below the chosen targets: nothing to run')

let baseDir: string
let bundle: Awaited<ReturnType<typeof startClientBundleServer>>
const targets = new Map<number, ServerInfo>()
let runs = 0

beforeAll(async () => {
  baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-matrix-'))
  bundle = await startClientBundleServer({ dir: CLIENT_BUNDLE_DIR })
  const started = await Promise.allSettled(
    targetMajors.map((major) => startServer({ major, baseDir, name: `target${major}`, target: true }))
  )
  for (const result of started) if (result.status === 'fulfilled') targets.set(result.value.major, result.value)
  const failed = started.find((result) => result.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
})

afterAll(async () => {
  await Promise.all([...targets.values()].map((target) => stopServer(target, 'immediate')))
  await bundle?.close()
  if (baseDir) fs.rmSync(baseDir, { recursive: true, force: true })
})

/**
 * The action as a workflow step: one tool cache per target major, so each client is downloaded,
 * checked and cached once, then found in the cache. Each run's folder goes with the test bed's.
 */
function run(target: ServerInfo, inputs: Record<string, string>): Promise<ActionRun> {
  return runAction(
    { 'client-download-url': bundle.template, jobs: '2', 'upload-artifact': 'false', ...inputs },
    { toolCache: path.join(baseDir, `tool-cache-${target.major}`), workDir: path.join(baseDir, `run-${++runs}`) }
  )
}

describe.each(sourceMajors)('source PostgreSQL %i', (sourceMajor) => {
  let source: ServerInfo
  const database = `shop_from_${sourceMajor}`

  beforeAll(async () => {
    source = await startServer({ major: sourceMajor, baseDir, name: `source${sourceMajor}` })
    await withClient(serverUrl(source, 'postgres'), (client) => client.query(`CREATE DATABASE ${database}`))
    await withClient(serverUrl(source, database), (client) => client.query(SAMPLE + acrossMajors(sourceMajor)))
  })

  afterAll(async () => {
    if (!source) return
    await stopServer(source, 'immediate')
    fs.rmSync(path.dirname(source.dataDir), { recursive: true, force: true })
  })

  describe.each(targetMajors.filter((major) => major >= sourceMajor))('→ target PostgreSQL %i', (targetMajor) => {
    const target = () => targets.get(targetMajor) as ServerInfo
    const inputs = (extra: Record<string, string> = {}) => ({
      'source-url': serverUrl(source, database),
      'target-url': serverUrl(target(), database, target().admin),
      ...extra
    })

    test('migrate with verify full passes, with the target major’s client, and an independent check agrees', async () => {
      const migrated = await run(target(), inputs({ verify: 'full' }))
      expect(outcome(migrated)).toEqual(PASSED)
      expect(migrated.outputs).toMatchObject({
        mismatches: '0',
        'source-version': expect.stringMatching(new RegExp(`^${sourceMajor}\\.`)),
        'target-version': expect.stringMatching(new RegExp(`^${targetMajor}\\.`)),
        'client-version': expect.stringMatching(new RegExp(`^${targetMajor}\\.`))
      })
      const [sourceDigests, targetDigests] = await Promise.all([
        tableDigests(serverUrl(source, database)),
        tableDigests(serverUrl(target(), database))
      ])
      expect(Object.keys(sourceDigests).length).toBeGreaterThanOrEqual(8)
      expect(targetDigests).toEqual(sourceDigests)
      // Downloaded, checked and cached by the first run into this target major, found in the cache after.
      const tarball = `/postgresql-${targetMajor}-x86_64-unknown-linux-gnu.tar.gz`
      expect(bundle.requests.filter((request) => request === tarball)).toHaveLength(1)
    })

    test('plan on the result finds no blocker', async () => {
      const planned = await run(target(), inputs({ mode: 'plan', 'if-target-not-empty': 'clean' }))
      expect(outcome(planned)).toMatchObject({ exitCode: 0, result: 'planned' })
      const findings = planned.report.databases.flatMap((d: { findings: { id: string; severity: string }[] }) =>
        d.findings.filter((finding) => finding.severity === 'blocker').map((finding) => finding.id)
      )
      expect(findings).toEqual([])
    })

    test('range types read the same on both sides', async () => {
      const ranges = `ranges_${sourceMajor}_to_${targetMajor}`
      for (const server of [source, target()]) {
        await withClient(serverUrl(server, 'postgres'), (client) => client.query(`CREATE DATABASE ${ranges}`))
        await withClient(serverUrl(server, ranges), (client) => client.query(rangeTypes(sourceMajor)))
      }
      const [sourceTypes, targetTypes] = await Promise.all([
        typeInventory(serverUrl(source, ranges)),
        typeInventory(serverUrl(target(), ranges))
      ])
      expect(sourceTypes.map((type) => type.name)).toEqual(['shop.slot', 'shop.weight_range'])
      expect(targetTypes).toEqual(sourceTypes)
      // Only a name the user chose is part of the definition.
      const named = sourceTypes.filter((type) => type.definition.includes('multirange'))
      expect(named.map((type) => type.definition.replace(/^.* multirange /, ''))).toEqual(
        sourceMajor >= 14 ? ['shop.slot_set'] : []
      )
      await withClient(serverUrl(target(), 'postgres'), (client) => client.query(`DROP DATABASE ${ranges}`))
      await withClient(serverUrl(source, 'postgres'), (client) => client.query(`DROP DATABASE ${ranges}`))
    })

    // Filters read the source's catalog in queries of their own (patterns, pg_dump's selection, the
    // dependencies of what moves) and narrow every probe and fingerprint query: each source major runs them.
    test('a migration with filters moves and verifies only what they select', async () => {
      const scoped = `scoped_from_${sourceMajor}`
      const filters = {
        schemas: 'shop, audit',
        'exclude-tables': 'audit.events',
        'exclude-table-data': 'shop.order_lines'
      }
      const migrated = await run(target(), {
        'source-url': serverUrl(source, database),
        'target-url': serverUrl(target(), scoped, target().admin),
        ...filters
      })
      expect(outcome(migrated)).toEqual(PASSED)
      const database_ = migrated.report.databases[0]
      expect(database_.scope.leftOut.map((l: { what: string }) => l.what)).toEqual(
        expect.arrayContaining(['table audit.events', 'the rows of table shop.order_lines'])
      )
      const { rows } = await withClient(serverUrl(target(), scoped), (client) =>
        client.query(
          `SELECT (SELECT count(*) FROM pg_class WHERE relname = 'events')::int AS events,
                  (SELECT count(*) FROM shop.order_lines)::int AS lines,
                  (SELECT count(*) FROM pg_extension WHERE extname IN ('citext', 'hstore'))::int AS extensions,
                  (SELECT count(*) FROM pg_largeobject_metadata)::int AS large_objects,
                  (SELECT count(*) FROM shop.customers)::int AS customers`
        )
      )
      // The extensions the moving tables use are made first; large objects move only with everything.
      expect(rows[0]).toMatchObject({ events: 0, lines: 0, extensions: 2, large_objects: 0 })
      expect(rows[0].customers).toBeGreaterThan(0)
      const validated = await run(target(), {
        mode: 'validate',
        'source-url': serverUrl(source, database),
        'target-url': serverUrl(target(), scoped, target().admin),
        ...filters
      })
      expect(outcome(validated)).toEqual(PASSED)
    })

    test('validate on the result passes', async () => {
      const validated = await run(target(), inputs({ mode: 'validate' }))
      expect(outcome(validated)).toEqual(PASSED)
      expect(validated.outputs.mismatches).toBe('0')
    })
  })
})
