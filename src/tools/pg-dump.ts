import * as core from '@actions/core'
import fs from 'node:fs'
import path from 'node:path'
import type pg from 'pg'
import type { Client } from './client/install.js'
import { clientEnvironment, connect, type Endpoint, type Passfile } from '../pg/connection.js'
import { StageError } from '../errors.js'
import { Inputs, type Compression } from '../action/inputs.js'
import { isUserSchema } from '../pg/sql.js'
import { progressReporter, runTool, tableDataDone } from './run-tool.js'

/** A REPEATABLE READ transaction that exported its snapshot; pg_dump and the source checksums share it. */
export interface HeldSnapshot {
  id: string
  client: pg.Client
  /** Transaction id horizon at the snapshot, to count writes that happened during the run. */
  takenAt: string
  close(): Promise<void>
}

export async function holdSnapshot(endpoint: Endpoint): Promise<HeldSnapshot> {
  const client = await connect(endpoint)
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  const { rows } = await client.query<{ id: string; taken_at: string }>(
    'SELECT pg_export_snapshot() AS id, now()::text AS taken_at'
  )
  let closed = false
  return {
    id: rows[0].id,
    client,
    takenAt: rows[0].taken_at,
    async close() {
      if (closed) return
      closed = true
      await client.query('ROLLBACK').catch(() => undefined)
      await client.end().catch(() => undefined)
    }
  }
}

/** pg_dump's -Z argument; zstd needs a 16+ client. */
export function compressionArgument(compression: Compression, clientMajor: number): string {
  switch (compression) {
    case 'auto':
      return clientMajor >= 16 ? 'zstd:1' : 'gzip:1'
    case 'zstd':
    case 'lz4':
      if (clientMajor < 16) {
        throw new StageError(
          'Dump',
          `compression ${compression} needs a PostgreSQL 16+ client (this one is ${clientMajor})`,
          `set ${Inputs.Compression}: gzip`
        )
      }
      return `${compression}:1`
    case 'gzip':
      return 'gzip:1'
    case 'none':
      return '0'
  }
}

export interface DumpResult {
  path: string
  bytes: number
  files: number
  snapshot: string
  compression: string
  /** Extensions the dump creates. */
  extensions: string[]
  /** pg_dump arguments, for the manifest: no connection details in them. */
  options: string[]
  seconds: number
}

/** Every table's data entry, counted for the progress line. */
async function countTables(snapshot: HeldSnapshot): Promise<number> {
  const { rows } = await snapshot.client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND ${isUserSchema('n')}`
  )
  return rows[0].n
}

/**
 * Dumps one database in directory format, in parallel, from the held snapshot, so the dump and the
 * source fingerprint describe the same moment.
 */
export async function dumpDatabase(
  client: Client,
  endpoint: Endpoint,
  snapshot: HeldSnapshot,
  options: { dir: string; jobs: number; compression: Compression; onLine?: (line: string) => void },
  passfile: Passfile
): Promise<DumpResult> {
  const started = performance.now()
  prepareDumpFolder(options.dir)
  const compression = compressionArgument(options.compression, client.major)
  const dumpOptions = [
    '--format=directory',
    `--jobs=${options.jobs}`,
    `--compress=${compression}`,
    '--no-subscriptions',
    '--verbose'
  ]
  const total = await countTables(snapshot)
  const { rows: extensions } = await snapshot.client.query<{ name: string }>(
    `SELECT extname AS name FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`
  )
  const report = progressReporter('tables dumped')
  let done = 0
  await runTool(client.programs.pg_dump, [...dumpOptions, `--snapshot=${snapshot.id}`, `--file=${options.dir}`], {
    stage: 'Dump',
    env: clientEnvironment(endpoint, passfile),
    onLine(line) {
      options.onLine?.(line)
      const table = tableDataDone(line, options.jobs)
      if (table) report(++done, total, table)
    }
  }).catch((error: Error) => {
    if (!/No space left on device|Disk quota exceeded/i.test(error.message)) throw error
    // A partial dump is of no use, and removing it gives the disk back to the rest of the job.
    fs.rmSync(options.dir, { recursive: true, force: true })
    throw new StageError(
      'Dump',
      `the disk under ${path.dirname(options.dir)} filled up during the dump (${error.message}); the partial dump was removed`,
      `point ${Inputs.DumpPath} at a disk with room for the compressed database, or free space there`
    )
  })
  const { bytes, files } = folderSize(options.dir)
  core.info(`dump: ${files} files, ${formatBytes(bytes)} (${compression}) in ${options.dir}`)
  return {
    path: options.dir,
    bytes,
    files,
    snapshot: snapshot.id,
    compression,
    extensions: extensions.map((e) => e.name),
    options: dumpOptions,
    seconds: (performance.now() - started) / 1000
  }
}

/** pg_dump -Fd wants a folder that does not exist yet; refuse to overwrite anything but an old dump. */
function prepareDumpFolder(dir: string): void {
  if (fs.existsSync(dir)) {
    const entries = fs.readdirSync(dir)
    if (entries.length > 0 && !entries.includes('toc.dat')) {
      throw new StageError(
        'Dump',
        `dump-path ${dir} exists and is not an earlier dump`,
        `point ${Inputs.DumpPath} at an empty or new folder`
      )
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    fs.mkdirSync(path.dirname(dir), { recursive: true })
    fs.accessSync(path.dirname(dir), fs.constants.W_OK)
  } catch {
    throw new StageError(
      'Dump',
      `cannot write the dump under ${path.dirname(dir)}`,
      `point ${Inputs.DumpPath} at a writable folder`
    )
  }
}

export function folderSize(dir: string): { bytes: number; files: number } {
  let bytes = 0
  let files = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    files++
    bytes += fs.statSync(path.join(entry.parentPath, entry.name)).size
  }
  return { bytes, files }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}
