import * as core from '@actions/core'
import fs from 'node:fs'
import path from 'node:path'
import { PassThrough, pipeline, Readable, type Transform } from 'node:stream'
import { pipeline as pipelinePromise } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import zlib from 'node:zlib'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { throwIfCancelled } from '../cancel.js'
import type { Client } from './client/install.js'
import {
  clientEnvironment,
  serverVersionNumber,
  withConnection,
  type Endpoint,
  type Passfile
} from '../pg/connection.js'
import { formatBytes } from './pg-dump.js'
import { StageError } from '../errors.js'
import {
  partialCopy,
  restoreEntries,
  restoreList,
  type RestoreList,
  type RestoreOptions,
  type RestoreResult
} from './pg-restore.js'
import { progressReporter } from './run-tool.js'
import { isUserSchema, quoteLiteral } from '../pg/sql.js'

/**
 * Restoring while pg_dump runs. A directory-format dump writes toc.dat before any table data, so the
 * schema can be restored as soon as the first table starts, and a big table's data file can be read
 * as pg_dump writes it and fed to COPY on the target: the copy of the largest table then takes about
 * as long as dumping it, instead of dumping it and then loading it. What is left (small tables,
 * sequences, large objects, indexes, constraints, privileges) is restored by pg_restore once the dump
 * is complete, as usual.
 */

/** Smaller tables wait for pg_restore: a connection per table would cost more than the overlap saves. */
export const FOLLOW_MIN_BYTES = 8 * 1024 * 1024

/** A source table big enough to load while it is dumped, with pg_dump's COPY column list. */
export interface FollowedTable {
  name: string
  columns: string
}

/** Reads a data file as this compression writes it; undefined when this Node has no streaming decompressor. */
export interface DataFileReader {
  suffix: string
  decompressor: () => Transform
}

export function dataFileReader(compression: string): DataFileReader | undefined {
  const method = compression.split(':')[0]
  if (method === '0' || method === 'none') return { suffix: '', decompressor: () => new PassThrough() }
  if (method === 'gzip') return { suffix: '.gz', decompressor: () => zlib.createGunzip() }
  // zstd is in node:zlib from Node 23.8 on (the action runs on node24); lz4 is not at all.
  if (method === 'zstd' && typeof zlib.createZstdDecompress === 'function')
    return { suffix: '.zst', decompressor: () => zlib.createZstdDecompress() }
  return undefined
}

/**
 * Tables to load while they are dumped, by OID, read in the dump's snapshot. Partitions are left to
 * pg_restore: pg_dump may load them through their root (hash partitioning on an enum).
 */
export async function followableTables(
  source: pg.Client,
  minBytes = FOLLOW_MIN_BYTES
): Promise<Map<string, FollowedTable>> {
  const version = await serverVersionNumber(source)
  // pg_dump's column list: neither dropped columns nor, from 12 on, generated ones.
  const notGenerated = version >= 120000 ? `AND a.attgenerated = ''` : ''
  const notPartition = version >= 100000 ? 'AND NOT c.relispartition' : ''
  const { rows } = await source.query<{ oid: string; name: string; columns: string | null }>(
    `SELECT c.oid::text AS oid, format('%I.%I', n.nspname, c.relname) AS name,
            (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ${notGenerated}) AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' ${notPartition} AND pg_table_size(c.oid) >= $1 AND ${isUserSchema('n')}`,
    [minBytes]
  )
  return new Map(
    rows.filter((row) => row.columns).map((row) => [row.oid, { name: row.name, columns: row.columns as string }])
  )
}

export interface FollowSetup {
  client: Client
  endpoint: Endpoint
  dumpDir: string
  options: RestoreOptions
  passfile: Passfile
  /** The source database's encoding: pg_dump writes the data in it. */
  encoding: string
  targetMajor: number
  tables: Map<string, FollowedTable>
  reader: DataFileReader
  /**
   * Called once, when toc.dat is written and the restore begins: readies the target database
   * (created, cleaned, roles granted). Nothing touches the target before, so a dump that fails
   * early leaves it as it was.
   */
  prepareTarget: () => Promise<void>
}

export interface DumpFollower {
  /** pg_dump's --verbose lines, as they come. */
  onDumpLine(line: string): void
  /**
   * pg_dump has exited. When it succeeded, restores what is left and resolves with the result;
   * when it failed, stops the loads and resolves undefined (or rejects with the restore's own error).
   */
  dumpDone(succeeded: boolean): Promise<RestoreResult | undefined>
}

/** TOC entries for privileges: restored last, as pg_restore does, so the loads run as before them. */
const LATE_ACL = /^\d+; \d+ \d+ (?:DEFAULT )?ACL (?!- SCHEMA )/
const TABLE_DATA = /^(\d+); 0 (\d+) TABLE DATA /

export function followDump(setup: FollowSetup): DumpFollower {
  return new Follower(setup)
}

class Follower implements DumpFollower {
  private readonly env: Record<string, string>
  private readonly tocWritten = deferred<boolean>()
  private readonly dumpExit = deferred<boolean>()
  /** Data entries pg_dump reported done: their files are complete. */
  private readonly closedEntries = new Set<string>()
  /** Woken whenever an entry closes or pg_dump exits, so readers waiting at the end of a file look again. */
  private tick = deferred<void>()
  private dumpExited?: boolean
  /** TABLE DATA entries of tables to follow whose load has not begun: entry id → source table OID. */
  private readonly notStarted = new Map<string, string>()
  private readonly loaded = new Set<string>()
  private readonly followedNames: string[] = []
  private readonly loads: Promise<void>[] = []
  private readonly slot: <T>(work: () => Promise<T>) => Promise<T>
  private schemaRestored = false
  private failure?: unknown
  private list?: RestoreList
  private readonly report = progressReporter('tables restored')
  private tablesDone = 0
  private readonly restored: Promise<RestoreResult | undefined>

  constructor(private readonly setup: FollowSetup) {
    this.env = clientEnvironment(setup.endpoint, setup.passfile)
    this.slot = limiter(setup.options.jobs)
    this.restored = this.run()
    this.restored.catch(() => undefined)
  }

  onDumpLine(line: string): void {
    if (/dumping contents of table/.test(line)) {
      // Workers start on data only after the leader has written and closed toc.dat.
      this.tocWritten.resolve(true)
      this.queueStartedFiles()
    }
    const closed = /finished item (\d+) TABLE DATA/.exec(line)
    if (closed) {
      this.closedEntries.add(closed[1])
      this.wake()
    }
  }

  dumpDone(succeeded: boolean): Promise<RestoreResult | undefined> {
    this.dumpExited = succeeded
    this.dumpExit.resolve(succeeded)
    // A database without table data never logs a table: toc.dat is there once pg_dump succeeded.
    this.tocWritten.resolve(succeeded)
    this.wake()
    return this.restored
  }

  private async run(): Promise<RestoreResult | undefined> {
    const { client, endpoint, dumpDir, options } = this.setup
    if (!(await this.tocWritten.promise)) return undefined
    const started = performance.now()
    await this.setup.prepareTarget()
    const list = await restoreList(client, dumpDir, options, this.env)
    const preData = await restoreList(client, dumpDir, options, this.env, 'pre-data')
    this.list = list
    const preDataIds = new Set(preData.kept.map(entryId))
    const schema = list.kept.filter((line) => preDataIds.has(entryId(line)) && !LATE_ACL.test(line))
    for (const line of list.kept) {
      const match = TABLE_DATA.exec(line)
      if (match && this.setup.tables.has(match[2])) this.notStarted.set(match[1], match[2])
    }
    await restoreEntries(client, endpoint, dumpDir, schema, { ...options, jobs: 1 }, this.env)
    this.schemaRestored = true
    this.queueStartedFiles()
    const dumped = await this.dumpExit.promise
    // Every data file pg_dump will write exists once it has exited.
    this.queueStartedFiles()
    await Promise.allSettled(this.loads)
    // pg_dump's own error explains more than the loads it cut short.
    if (!dumped) return undefined
    if (this.failure) throw partialCopy(this.failure)
    const done = new Set([...schema.map(entryId), ...this.loaded])
    const rest = list.kept.filter((line) => !done.has(entryId(line)))
    await restoreEntries(client, endpoint, dumpDir, rest, options, this.env, (table) => this.tableDone(table))
    return {
      items: list.kept.length,
      skipped: list.skipped,
      seconds: (performance.now() - started) / 1000,
      followed: this.followedNames
    }
  }

  /** Starts a load for each followed table whose data file pg_dump has begun. */
  private queueStartedFiles(): void {
    if (!this.schemaRestored || this.failure) return
    // Only followed entries not started yet: pg_dump starts the biggest tables first, so after the
    // first few lines there are none left to look for, however many tables follow.
    for (const [id, oid] of this.notStarted) {
      const file = path.join(this.setup.dumpDir, `${id}.dat${this.setup.reader.suffix}`)
      if (!fs.existsSync(file)) continue
      this.notStarted.delete(id)
      this.loads.push(this.slot(() => this.load(id, oid, file)))
    }
  }

  private async load(id: string, oid: string, file: string): Promise<void> {
    if (this.failure || this.dumpExited === false) return
    const { endpoint, reader, targetMajor, encoding } = this.setup
    const table = this.setup.tables.get(oid) as FollowedTable
    core.info(`loading ${table.name} as pg_dump writes it`)
    try {
      // A cancelled run closes every connection, this one too (connection.ts).
      await withConnection(endpoint, async (target) => {
        await prepareLoadSession(target, encoding, targetMajor)
        const data = pipeline(
          Readable.from(this.growingFile(id, file, table.name), { objectMode: false }),
          reader.decompressor(),
          noop
        )
        await copyInto(target, table, data)
      })
      this.loaded.add(id)
      this.followedNames.push(table.name)
      this.tableDone(table.name)
    } catch (error) {
      this.failure ??= new StageError('Restore', `loading ${table.name}: ${lostConnection(error)}`)
      this.wake()
    }
  }

  /** A data file as pg_dump writes it: read to its end, wait for more, until pg_dump has closed it. */
  private async *growingFile(id: string, file: string, table: string): AsyncGenerator<Buffer> {
    const handle = await fs.promises.open(file)
    // A big table takes minutes: say how far it is, every ten seconds.
    let read = 0
    let reported = Date.now()
    try {
      for (;;) {
        throwIfCancelled()
        if (this.failure) throw new Error('stopped: another table failed to load')
        if (this.dumpExited === false) throw new Error('stopped: pg_dump failed')
        // Checked before the read: whatever was written before the close is read by it or after it.
        const closed = this.closedEntries.has(id) || this.dumpExited === true
        const buffer = Buffer.allocUnsafe(64 * 1024)
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
        if (bytesRead > 0) {
          read += bytesRead
          if (Date.now() - reported >= 10_000) {
            reported = Date.now()
            core.info(`loading ${table}: ${formatBytes(read)} of its dump file read so far`)
          }
          yield buffer.subarray(0, bytesRead)
        } else if (closed) return
        else await Promise.race([this.tick.promise, sleep(50)])
      }
    } finally {
      await handle.close()
    }
  }

  private tableDone(table: string): void {
    this.report(++this.tablesDone, this.list?.dataItems ?? 0, table)
  }

  private wake(): void {
    this.tick.resolve()
    this.tick = deferred<void>()
  }
}

/** What pg_restore sets before it loads data, so the rows go in alike; the data is in the source's encoding. */
async function prepareLoadSession(target: pg.Client, encoding: string, targetMajor: number): Promise<void> {
  await target.query(
    [
      `SET client_encoding = ${quoteLiteral(encoding)}`,
      `SET search_path = ''`,
      'SET statement_timeout = 0',
      'SET lock_timeout = 0',
      'SET idle_in_transaction_session_timeout = 0',
      ...(targetMajor >= 17 ? ['SET transaction_timeout = 0'] : []),
      'SET row_security = off',
      'SET xmloption = content'
    ].join('; ')
  )
}

/**
 * Streams COPY text into a table. Node passes the bytes on and never parses a row. If `data` fails,
 * the COPY is cancelled (CopyFail) and nothing of it is committed.
 */
export async function copyInto(target: pg.Client, table: FollowedTable, data: Readable): Promise<void> {
  await pipelinePromise(data, target.query(copyFrom(`COPY ${table.name} (${table.columns}) FROM STDIN`)))
}

const noop = (): void => undefined

/** A dropped connection says so in words, not only as a socket error code. */
function lostConnection(error: unknown): string {
  const message = (error as Error).message
  const lost = /ECONNRESET|EPIPE|Connection terminated|terminating connection|server closed the connection/i
  return lost.test(message) ? `the connection to the target was lost (${message})` : message
}

const entryId = (line: string): string => line.slice(0, line.indexOf(';'))

interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/** Runs at most `slots` pieces of work at once, the rest in the order they came. */
function limiter(slots: number): <T>(work: () => Promise<T>) => Promise<T> {
  let active = 0
  const waiting: (() => void)[] = []
  return async (work) => {
    if (active < slots) active++
    else await new Promise<void>((resolve) => waiting.push(resolve))
    try {
      return await work()
    } finally {
      // The slot passes straight to the next in line, so nobody can take it in between.
      const next = waiting.shift()
      if (next) next()
      else active--
    }
  }
}
