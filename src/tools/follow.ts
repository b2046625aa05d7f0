import fs from 'node:fs'
import path from 'node:path'
import { PassThrough, pipeline, Readable, type Transform } from 'node:stream'
import { pipeline as pipelinePromise } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import zlib from 'node:zlib'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { deferred, limiter } from '../base/async.js'
import { MigrationError } from '../base/errors.js'
import { formatBytes } from '../base/files.js'
import type { RunScope } from '../base/scope.js'
import type { Connector } from '../pg/connection.js'
import { isUserSchema, quoteLiteral } from '../pg/sql.js'
import type { DumpProgress } from './pg-dump.js'
import {
  partialCopy,
  restoreDatabase,
  restoreEntries,
  restoreList,
  type RestoreList,
  type Restorer,
  type RestoreResult
} from './pg-restore.js'
import { progressReporter } from './run-tool.js'

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
  const { rows: version } = await source.query<{ num: number }>(
    `SELECT current_setting('server_version_num')::int AS num`
  )
  // pg_dump's column list: neither dropped columns nor, from 12 on, generated ones.
  const notGenerated = version[0].num >= 120000 ? `AND a.attgenerated = ''` : ''
  const notPartition = version[0].num >= 100000 ? 'AND NOT c.relispartition' : ''
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

export interface RestoreBesideDump {
  restorer: Restorer
  scope: RunScope
  connector: Connector
  /** The source database's encoding: pg_dump writes the data in it. */
  encoding: string
  targetMajor: number
  /** Tables to load as they are dumped (empty: none). */
  tables: Map<string, FollowedTable>
  /** How to read the data files as they grow; undefined: restore once the dump is complete. */
  reader?: DataFileReader
  /**
   * Called once, when the restore begins (toc.dat written, or the dump complete): readies the target
   * database. Nothing touches the target before, so a dump that fails early leaves it as it was.
   */
  prepareTarget: () => Promise<void>
}

/**
 * The restore of a dump that is being written: follows it when the data files can be read as they
 * grow, else waits for it. Resolves with the result; undefined when the dump failed (pg_dump's own
 * error explains more than what it cut short), once nothing of the restore is running any more.
 */
export function restoreBesideDump(dump: DumpProgress, setup: RestoreBesideDump): Promise<RestoreResult | undefined> {
  if (!setup.reader || setup.restorer.options.jobs < 2) return restoreAfterDump(dump, setup)
  return new Follower(dump, { ...setup, reader: setup.reader }).restored
}

async function restoreAfterDump(dump: DumpProgress, setup: RestoreBesideDump): Promise<RestoreResult | undefined> {
  const dumped = await dump.done.then(
    () => true,
    () => false
  )
  if (!dumped) return undefined
  await setup.prepareTarget()
  return restoreDatabase(setup.restorer)
}

/** TOC entries for privileges: restored last, as pg_restore does, so the loads run as before them. */
const LATE_ACL = /^\d+; \d+ \d+ (?:DEFAULT )?ACL (?!- SCHEMA )/
const TABLE_DATA = /^(\d+); 0 (\d+) TABLE DATA /

class Follower {
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
  private readonly report: ReturnType<typeof progressReporter>
  private tablesDone = 0
  readonly restored: Promise<RestoreResult | undefined>

  constructor(
    private readonly dump: DumpProgress,
    private readonly setup: RestoreBesideDump & { reader: DataFileReader }
  ) {
    this.slot = limiter(setup.restorer.options.jobs)
    this.report = progressReporter(setup.scope.log, 'tables restored')
    dump.onLine((line) => this.onDumpLine(line))
    dump.done.then(
      () => this.dumpDone(true),
      () => this.dumpDone(false)
    )
    this.restored = this.run()
  }

  private onDumpLine(line: string): void {
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

  private dumpDone(succeeded: boolean): void {
    this.dumpExited = succeeded
    this.dumpExit.resolve(succeeded)
    // A database without table data never logs a table: toc.dat is there once pg_dump succeeded.
    this.tocWritten.resolve(succeeded)
    this.wake()
  }

  private async run(): Promise<RestoreResult | undefined> {
    const { restorer } = this.setup
    if (!(await this.tocWritten.promise)) return undefined
    const started = performance.now()
    await this.setup.prepareTarget()
    const list = await restoreList(restorer)
    const preData = await restoreList(restorer, 'pre-data')
    this.list = list
    const preDataIds = new Set(preData.kept.map(entryId))
    const schema = list.kept.filter((line) => preDataIds.has(entryId(line)) && !LATE_ACL.test(line))
    for (const line of list.kept) {
      const match = TABLE_DATA.exec(line)
      if (match && this.setup.tables.has(match[2])) this.notStarted.set(match[1], match[2])
    }
    await restoreEntries(restorer, schema, undefined, 1)
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
    await restoreEntries(restorer, rest, (table) => this.tableDone(table))
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
      const file = path.join(this.dump.dir, `${id}.dat${this.setup.reader.suffix}`)
      if (!fs.existsSync(file)) continue
      this.notStarted.delete(id)
      this.loads.push(this.slot(() => this.load(id, oid, file)))
    }
  }

  private async load(id: string, oid: string, file: string): Promise<void> {
    if (this.failure || this.dumpExited === false) return
    const { restorer, reader, targetMajor, encoding, connector, scope } = this.setup
    const table = this.setup.tables.get(oid) as FollowedTable
    scope.log.info(`loading ${table.name} as pg_dump writes it`)
    try {
      // A cancelled run closes every connection, this one too.
      await connector.withConnection(restorer.endpoint, async (target) => {
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
      this.failure ??= new MigrationError('tool-failed', `loading ${table.name}: ${lostConnection(error)}`)
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
        this.setup.scope.cancellation.throwIfCancelled()
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
            this.setup.scope.log.info(`loading ${table}: ${formatBytes(read)} of its dump file read so far`)
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
