// The ways a person copies a database by hand, each timed with its CPU per side:
//   seed  the seed guide's two steps, pg_dump -C … -f file.sql, then psql … < file.sql;
//   pipe  pg_dump | psql, the same without the file;
//   hand  hand-tuned pg_dump -Fd -j N -Z zstd:1, then pg_restore -j N, no verification.
// The target login is the managed-style admin without superuser: --no-owner --no-acl make the
// plain dumps restorable by it, as a user of a managed target has to.
import fs from 'node:fs'
import path from 'node:path'
import { DATABASE } from './database.js'
import { jobs } from './options.js'
import { finished, now, round, runTool, spawnTracked } from './processes.js'
import { timed } from './timed.js'

/**
 * @typedef {{ bin: Record<string, string>, env: Record<string, string>, source: any, target: any,
 *   workDir: string }} WayContext
 */

/** @param {any} server @param {{ user: string }} login */
const connArgs = (server, login) => ['-h', server.host, '-p', String(server.port), '-U', login.user]

/**
 * The seed guide's way as written: a plain dump with CREATE DATABASE to a file, then psql reads the
 * file on its standard input. The target database must not exist: the script creates it.
 * @param {WayContext} ctx
 */
export function seedGuide({ bin, env, source, target, workDir }) {
  const file = path.join(workDir, 'seed.sql')
  return timed({ source, target }, { main: /pg_dump|psql/ }, async () => {
    const started = now()
    await runTool(
      bin.pg_dump,
      [...connArgs(source, source.superuser), '-C', '--no-owner', '--no-acl', '-f', file, DATABASE],
      env
    )
    const dumped = now()
    const psql = spawnTracked(
      bin.psql,
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...connArgs(target, target.admin), '-d', 'postgres'],
      { env, stdio: [fs.openSync(file, 'r'), 'ignore', 'pipe'] }
    )
    const p = /** @type {{ code: number | null, tail: string }} */ (await finished(psql))
    if (p.code !== 0) throw new Error(`psql exited ${p.code}: ${p.tail.split('\n').slice(-5).join(' | ')}`)
    const fileBytes = fs.statSync(file).size
    fs.rmSync(file, { force: true })
    return { dumpSeconds: round((dumped - started) / 1000), restoreSeconds: round((now() - dumped) / 1000), fileBytes }
  })
}

/**
 * pg_dump (plain) | psql.
 * @param {WayContext} ctx
 */
export function plainPipe({ bin, env, source, target }) {
  return timed({ source, target }, { main: /pg_dump|psql/ }, async () => {
    const dump = spawnTracked(
      bin.pg_dump,
      [...connArgs(source, source.superuser), '--no-owner', '--no-acl', '-d', DATABASE],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    const psql = spawnTracked(
      bin.psql,
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...connArgs(target, target.admin), '-d', DATABASE],
      {
        env,
        stdio: ['pipe', 'ignore', 'pipe']
      }
    )
    psql.stdin?.on('error', () => undefined)
    dump.stdout?.pipe(/** @type {import('node:stream').Writable} */ (psql.stdin))
    const psqlDone = finished(psql).then((result) => {
      // psql stopped on an error: pg_dump would block on a full pipe forever.
      if (/** @type {any} */ (result).code !== 0) dump.kill('SIGTERM')
      return result
    })
    const [d, p] = /** @type {{ code: number | null, tail: string }[]} */ (
      await Promise.all([finished(dump), psqlDone])
    )
    if (p.code !== 0) throw new Error(`psql exited ${p.code}: ${p.tail.split('\n').slice(-5).join(' | ')}`)
    if (d.code !== 0) throw new Error(`pg_dump exited ${d.code}: ${d.tail.split('\n').slice(-5).join(' | ')}`)
    return {}
  })
}

/**
 * pg_dump -Fd -j N -Z zstd:1, then pg_restore -j N --no-owner --no-acl --exit-on-error.
 * @param {WayContext} ctx
 */
export function handTuned({ bin, env, source, target, workDir }) {
  const dumpDir = path.join(workDir, 'hand-dump')
  fs.rmSync(dumpDir, { recursive: true, force: true })
  return timed({ source, target }, { main: 'pg_' }, async () => {
    const started = now()
    await runTool(
      bin.pg_dump,
      [...connArgs(source, source.superuser), '-Fd', '-j', String(jobs), '-Z', 'zstd:1', '-f', dumpDir, '-d', DATABASE],
      env
    )
    const dumped = now()
    // --verbose says when each table's data is in; what comes after is indexes and constraints.
    let lastData = dumped
    await runTool(
      bin.pg_restore,
      [
        ...connArgs(target, target.admin),
        '-j',
        String(jobs),
        '--no-owner',
        '--no-acl',
        '--exit-on-error',
        '--verbose',
        '-d',
        DATABASE,
        dumpDir
      ],
      env,
      (line) => {
        if (/finished item \d+ TABLE DATA /.test(line)) lastData = now()
      }
    )
    const ended = now()
    const dumpBytes = folderBytes(dumpDir)
    fs.rmSync(dumpDir, { recursive: true, force: true })
    return {
      dumpSeconds: round((dumped - started) / 1000),
      restoreSeconds: round((ended - dumped) / 1000),
      restoreAfterDataSeconds: round((ended - lastData) / 1000),
      dumpBytes
    }
  })
}

/** @param {string} dir */
function folderBytes(dir) {
  let bytes = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += fs.statSync(path.join(entry.parentPath ?? dir, entry.name)).size
  }
  return bytes
}
