// The ways to copy the benchmark database into PostgreSQL 17, by name, and the target's reset
// between them.
import { serverUrl, withClient } from '../test/support/servers.js'
import { viaAction } from './action.js'
import { handTuned, plainPipe, seedGuide } from './baselines.js'
import { DATABASE } from './database.js'
import { jobs } from './options.js'
import { pgcopydbClone } from './pgcopydb.js'

/** What each way's name stands for, in tables and in the JSON. */
export const LABELS = {
  seed: 'seed guide: pg_dump -C -f file.sql, then psql < file.sql',
  pipe: 'pg_dump | psql',
  hand: `hand-tuned: pg_dump -Fd -j${jobs} -Z zstd:1, pg_restore -j${jobs}, no verification`,
  pgcopydb: `pgcopydb 0.18: clone --table-jobs ${jobs} --index-jobs ${jobs}, then compare data`,
  action: 'this action: migrate, verify full, no upload (auto: the rows streamed, never on disk)',
  dump: 'this action through the dump folder: copy-method dump, verify full, no upload'
}

/**
 * An empty target database, or none for a way that creates it; then a checkpoint as the superuser,
 * so the previous way's writes are not flushed on the next one's time.
 * @param {any} target @param {boolean} create
 */
export async function resetTarget(target, create) {
  await withClient(serverUrl(target, 'postgres', target.admin), async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${DATABASE}`)
    if (create) await client.query(`CREATE DATABASE ${DATABASE} TEMPLATE template0 ENCODING 'UTF8'`)
  })
  await withClient(serverUrl(target, 'postgres'), (client) => client.query('CHECKPOINT'))
}

/**
 * @typedef {{ bin: Record<string, string>, env: Record<string, string>, source: any, target: any,
 *   workDir: string, toolCache: string, pgcopydb?: string, clientBin: string, sizeGb: number,
 *   builds: Map<string, { entry: string, digest: string }> }} BenchContext
 */

/**
 * Runs one way on a reset target.
 * @param {import('./options.js').WaySpec} spec @param {BenchContext} ctx
 */
export async function runWay(spec, ctx) {
  await resetTarget(ctx.target, spec.kind !== 'seed')
  switch (spec.kind) {
    case 'seed':
      return seedGuide(ctx)
    case 'pipe':
      return plainPipe(ctx)
    case 'hand':
      return handTuned(ctx)
    case 'pgcopydb':
      return pgcopydbClone({ ...ctx, pgcopydb: /** @type {string} */ (ctx.pgcopydb) })
    default: {
      const build = /** @type {{ entry: string, digest: string }} */ (ctx.builds.get(spec.name))
      const result = await viaAction({ ...ctx, entry: build.entry, inputs: spec.inputs })
      return { ...result, build: build.digest }
    }
  }
}
