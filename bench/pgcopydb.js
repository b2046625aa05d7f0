// pgcopydb, the open-source peer: `pgcopydb clone` copies (COPY from source to target, no dump file,
// index builds beside the table copies), then `pgcopydb compare data` checksums both sides per table.
// compare exits 0 even when the data differ, so its output is read: a way whose checksums differ fails.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { REPO_ROOT } from '../test/support/servers.js'
import { DATABASE } from './database.js'
import { jobs } from './options.js'
import { now, round, runTool } from './processes.js'
import { timed } from './timed.js'

export const PGCOPYDB_VERSION = '0.18'

/** The unpacked pgcopydb, built on first use (scripts/build-pgcopydb.sh caches it under .testbed/). */
export function installPgcopydb() {
  const output = execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'build-pgcopydb.sh')], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  return output.toString().trim().split('\n').pop() ?? ''
}

/** A URL without a password: libpq finds it in the passfile. @param {any} server @param {{ user: string }} login */
const urlOf = (server, login) => `postgresql://${login.user}@${server.host}:${server.port}/${DATABASE}`

/**
 * @param {{ pgcopydb: string, clientBin: string, env: Record<string, string>, source: any, target: any, workDir: string }} ctx
 */
export function pgcopydbClone({ pgcopydb, clientBin, env, source, target, workDir }) {
  const dir = path.join(workDir, 'pgcopydb')
  fs.rmSync(dir, { recursive: true, force: true })
  // pgcopydb runs the pg_dump and pg_restore it finds on PATH: the same 17 client as the other ways.
  const toolEnv = { ...env, PATH: `${clientBin}:${env.PATH ?? ''}` }
  const connection = [
    '--source',
    urlOf(source, source.superuser),
    '--target',
    urlOf(target, target.admin),
    '--dir',
    dir
  ]
  return timed({ source, target }, { main: /pgcopydb/ }, async () => {
    const started = now()
    await runTool(
      pgcopydb,
      ['clone', ...connection, '--table-jobs', String(jobs), '--index-jobs', String(jobs), '--no-owner', '--no-acl'],
      toolEnv
    )
    const cloned = now()
    /** @type {string[]} */
    const lines = []
    await runTool(pgcopydb, ['compare', 'data', ...connection, '--json'], toolEnv, undefined, (line) =>
      lines.push(line)
    )
    const compared = now()
    const comparison = readComparison(lines.join('\n'))
    fs.rmSync(dir, { recursive: true, force: true })
    if (comparison.differing.length > 0 || comparison.tables === 0) {
      throw new Error(
        `pgcopydb compare data: ${comparison.tables} tables compared, differing: ${comparison.differing.join(', ') || '–'}`
      )
    }
    return {
      cloneSeconds: round((cloned - started) / 1000),
      compareSeconds: round((compared - cloned) / 1000),
      tablesCompared: comparison.tables
    }
  })
}

/**
 * compare data --json prints an array of tables, each with both sides' row count and checksum.
 * @param {string} text
 */
export function readComparison(text) {
  /** @type {any[]} */
  const tables = JSON.parse(text.slice(text.indexOf('[')))
  const differing = tables
    .filter((t) => t.source?.checksum !== t.target?.checksum || t.source?.rowcount !== t.target?.rowcount)
    .map((t) => `${t.schema}.${t.name}`)
  return { tables: tables.length, differing }
}
