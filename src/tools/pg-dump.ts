import fs from 'node:fs'
import path from 'node:path'
import type pg from 'pg'
import { MigrationError } from '../base/errors.js'
import { folderSize, formatBytes, freeBytesUnder } from '../base/files.js'
import type { Log } from '../base/log.js'
import type { ProgressSample } from '../base/progress.js'
import { logCopyProgress } from '../pg/copy-progress.js'
import type { Endpoint } from '../pg/endpoint.js'
import { clientEnvironment, type Passfile } from '../pg/passfile.js'
import type { HeldSnapshot } from '../pg/snapshot.js'
import { isUserSchema } from '../pg/sql.js'
import { scopeSql, type ScopeSql } from '../scope/sql.js'
import { pgDumpFilters, type ResolvedScope } from '../scope/types.js'
import type { Client } from './client/install.js'
import { progressReporter, tableDataDone, type ToolRunner } from './run-tool.js'
import { listToc } from './toc.js'

/** `auto`: zstd when the client supports it (PostgreSQL 16+), else gzip; see chooseCompression. */
export type Compression = 'auto' | 'zstd' | 'lz4' | 'gzip' | 'none'

/** COPY text may be this many times the size the table takes on disk (TOAST compresses, text widens). */
export const TEXT_OVER_DISK = 3

export interface CompressionChoice {
  requested: Compression
  /** Whether the dump leaves the runner (uploaded as an artifact). */
  uploads: boolean
  /** The folder the dump goes to. */
  dir: string
  /** A connection to the source, in the dump's snapshot. */
  source: pg.Client
  log: Log
}

/**
 * Compression only where it pays. A dump that is uploaded travels, and one kept for a later
 * restore is stored: both are compressed. A dump only read back by the restore beside it, on this
 * runner, is not, when the disk has room for it: compressing and decompressing it would cost the
 * runner more CPU than the whole restore's reading, and save nothing that is used.
 */
export async function chooseCompression(choice: CompressionChoice): Promise<Compression> {
  if (choice.requested !== 'auto' || choice.uploads) return choice.requested
  const { rows } = await choice.source.query<{ bytes: string }>(
    `SELECT coalesce(sum(pg_table_size(c.oid)), 0)::bigint AS bytes FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND ${isUserSchema('n')}`
  )
  const decision = compressionFor(choice.requested, choice.uploads, freeBytesUnder(choice.dir), Number(rows[0].bytes))
  choice.log.info(`compression: ${decision.compression} (${decision.why})`)
  return decision.compression
}

/** The rule of chooseCompression, on its facts: free bytes under the dump folder and the tables' size on disk. */
export function compressionFor(
  requested: Compression,
  uploads: boolean,
  freeBytes: number | undefined,
  tableBytes: number
): { compression: Compression; why: string } {
  if (requested !== 'auto') return { compression: requested, why: 'as requested' }
  if (uploads) return { compression: 'auto', why: 'the dump is uploaded' }
  const needed = TEXT_OVER_DISK * tableBytes
  if (freeBytes === undefined) return { compression: 'auto', why: 'the free space for the dump is unknown' }
  if (freeBytes < needed)
    return {
      compression: 'auto',
      why: `${formatBytes(freeBytes)} free would not surely hold the dump uncompressed (up to ${formatBytes(needed)})`
    }
  return {
    compression: 'none',
    why: `the dump is not uploaded, and ${formatBytes(freeBytes)} free holds it uncompressed`
  }
}

/** pg_dump's -Z argument; zstd and lz4 need a 16+ client. */
export function compressionArgument(compression: Compression, clientMajor: number): string {
  switch (compression) {
    case 'auto':
      return clientMajor >= 16 ? 'zstd:1' : 'gzip:1'
    case 'zstd':
    case 'lz4':
      if (clientMajor < 16) {
        throw new MigrationError(
          'compression-unsupported',
          `compression ${compression} needs a PostgreSQL 16+ client (this one is ${clientMajor})`
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
  /** The dump's table of contents, as `pg_restore --list` prints it. */
  toc: string[]
}

/** What a restore running beside pg_dump sees of it: its --verbose lines as they come, and its end. */
export interface DumpProgress {
  /** The folder pg_dump writes. */
  dir: string
  /** Subscribes to pg_dump's --verbose lines; lines before the subscription are not replayed. */
  onLine(listener: (line: string) => void): void
  /** Resolves when pg_dump has exited 0, rejects when it failed. */
  done: Promise<unknown>
}

/** A running pg_dump. */
export interface DumpRun extends DumpProgress {
  done: Promise<DumpResult>
  /** The rows of the tables it dumps, as the source estimates them (0 when it cannot say). */
  estimatedRows: Promise<number>
}

export interface DumpRequest {
  client: Client
  tools: ToolRunner
  log: Log
  passfile: Passfile
  endpoint: Endpoint
  /** The held snapshot pg_dump dumps from; the source checksums run in it too. */
  snapshot: HeldSnapshot
  dir: string
  jobs: number
  compression: Compression
  /** What moves, when filters are given: pg_dump gets their patterns as they are. */
  scope?: ResolvedScope
  /**
   * Tables whose rows the dump leaves out (another step copies them), as pg_dump patterns: each
   * name quoted, so a name is matched as it is spelled.
   */
  excludeTableData?: string[]
  /**
   * The source's planner statistics too (pg_dump 18 --statistics), so the target's ANALYZE shrinks to
   * what they lack: only for a target of 18 or later.
   */
  statistics?: boolean
  /** Progress lines from the source's COPY figures, on a connection of their own; each line into `timeline`. */
  progress?: { connect: () => Promise<pg.Client>; timeline: ProgressSample[] }
}

/**
 * Starts dumping one database in directory format, in parallel, from the held snapshot, so the dump
 * and the source fingerprint describe the same moment. Returns at once: a restore subscribes to its
 * lines before the first one comes, and `done` also rejects when the dump could not start.
 */
export function startDump(request: DumpRequest): DumpRun {
  const listeners: ((line: string) => void)[] = []
  let estimate: (rows: number) => void = () => undefined
  const estimatedRows = new Promise<number>((resolve) => (estimate = resolve))
  const done = dump(request, (line) => listeners.forEach((listener) => listener(line)), estimate)
  // A dump that fails before counting has no estimate: nothing waits for it then.
  done.catch(() => estimate(0))
  return { dir: request.dir, done, estimatedRows, onLine: (listener) => listeners.push(listener) }
}

async function dump(
  request: DumpRequest,
  onLine: (line: string) => void,
  onEstimate: (rows: number) => void
): Promise<DumpResult> {
  const { client, tools, log, passfile, endpoint, snapshot, dir, jobs } = request
  const started = performance.now()
  prepareDumpFolder(dir)
  const compression = compressionArgument(request.compression, client.major)
  const options = [
    '--format=directory',
    `--jobs=${jobs}`,
    `--compress=${compression}`,
    '--no-subscriptions',
    // The source server prints definitions (function arguments, views…) quoted by its own keyword
    // list: an argument named json or system_user, bare from 14, is a syntax error to 16+. With
    // this the source quotes every name, which any later parser reads alike.
    '--quote-all-identifiers',
    '--verbose',
    ...pgDumpFilters(request.scope?.patterns),
    ...(request.excludeTableData ?? []).map((pattern) => `--exclude-table-data=${pattern}`),
    ...(request.statistics ? ['--statistics'] : [])
  ]
  const scope = scopeSql(request.scope)
  const { tables: total, rows } = await countTables(snapshot, scope)
  const extensions = await extensionsOf(snapshot, scope)
  const report = progressReporter(log, 'tables dumped')
  let dumped = 0
  onEstimate(rows)
  const progress =
    request.progress &&
    logCopyProgress({ ...request.progress, command: 'COPY TO', stage: 'dump', estimatedRows: rows, log })
  await tools
    .run(client.programs.pg_dump, [...options, `--snapshot=${snapshot.id}`, `--file=${dir}`], {
      env: clientEnvironment(endpoint, passfile),
      onLine(line) {
        onLine(line)
        const table = tableDataDone(line, jobs)
        if (table) report(++dumped, total, table)
      }
    })
    .catch((error: Error) => {
      if (!/No space left on device|Disk quota exceeded/i.test(error.message)) throw error
      // A partial dump is of no use, and removing it gives the disk back to the rest of the job.
      fs.rmSync(dir, { recursive: true, force: true })
      throw new MigrationError(
        'disk-full',
        `the disk under ${path.dirname(dir)} filled up during the dump (${error.message}); the partial dump was removed`
      )
    })
    .finally(() => progress?.stop())
  const { bytes, files } = folderSize(dir)
  log.info(`dump: ${files} files, ${formatBytes(bytes)} (${compression}) in ${dir}`)
  const toc = await listToc(tools, client, dir)
  const seconds = (performance.now() - started) / 1000
  return { path: dir, bytes, files, snapshot: snapshot.id, compression, extensions, options, seconds, toc }
}

/** Every table's data entry, counted for the progress lines, and their rows as the source estimates them. */
async function countTables(snapshot: HeldSnapshot, scope: ScopeSql): Promise<{ tables: number; rows: number }> {
  const { rows } = await snapshot.client.query<{ n: number; rows: number }>(
    `SELECT count(*)::int AS n, coalesce(sum(greatest(c.reltuples, 0)), 0)::float8 AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND ${isUserSchema('n')} AND ${scope.data('c.oid')}`
  )
  return { tables: rows[0].n, rows: rows[0].rows }
}

/** Extensions the restore creates: the dump's (a whole database) and those the filters need made. */
async function extensionsOf(snapshot: HeldSnapshot, scope: ScopeSql): Promise<string[]> {
  const { rows } = await snapshot.client.query<{ name: string }>(
    `SELECT e.extname AS name FROM pg_extension e WHERE e.extname <> 'plpgsql' AND ${scope.extension('e.oid')} ORDER BY 1`
  )
  return rows.map((row) => row.name)
}

/** pg_dump -Fd wants a folder that does not exist yet; refuse to overwrite anything but an old dump. */
function prepareDumpFolder(dir: string): void {
  if (fs.existsSync(dir)) {
    const entries = fs.readdirSync(dir)
    if (entries.length > 0 && !entries.includes('toc.dat')) {
      throw new MigrationError('dump-path-occupied', `the dump folder ${dir} exists and is not an earlier dump`)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    fs.mkdirSync(path.dirname(dir), { recursive: true })
    fs.accessSync(path.dirname(dir), fs.constants.W_OK)
  } catch {
    throw new MigrationError('dump-path-unwritable', `cannot write the dump under ${path.dirname(dir)}`)
  }
}
