import fs from 'node:fs'
import path from 'node:path'
import { PassThrough, pipeline, Readable, type Transform } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import zlib from 'node:zlib'
import type pg from 'pg'
import { deferred, limiter } from '../base/async.js'
import { MigrationError } from '../base/errors.js'
import { formatBytes } from '../base/files.js'
import type { RunScope } from '../base/scope.js'
import { serverVersionNumber, type Connector } from '../pg/connection.js'
import { displayIdent, isUserSchema, quoteIdent } from '../pg/sql.js'
import { copyIntoStreams, prepareLoadSession, type FollowedTable } from './copy-load.js'
import { SlabPool } from './slab-pool.js'
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

export { copyInto, type FollowedTable } from './copy-load.js'

/**
 * A table this big is loaded over as many connections as there are jobs: its rows are then parsed
 * and inserted by several backends, not one, while pg_dump's one COPY reads it from the source.
 */
export const MULTI_STREAM_MIN_BYTES = 64 * 1024 * 1024

/** Reads and decompressed pieces this big: fewer callbacks and socket writes per byte. */
const PIECE_BYTES = 1024 * 1024

/** Reads a data file as this compression writes it; undefined when this Node has no streaming decompressor. */
export interface DataFileReader {
  suffix: string
  decompressor: () => Transform
}

export function dataFileReader(compression: string): DataFileReader | undefined {
  const method = compression.split(':')[0]
  if (method === '0' || method === 'none') return { suffix: '', decompressor: () => new PassThrough() }
  if (method === 'gzip') return { suffix: '.gz', decompressor: () => zlib.createGunzip({ chunkSize: PIECE_BYTES }) }
  // zstd is in node:zlib from Node 23.8 on (the action runs on node24); lz4 is not at all.
  if (method === 'zstd' && typeof zlib.createZstdDecompress === 'function')
    return { suffix: '.zst', decompressor: () => zlib.createZstdDecompress({ chunkSize: PIECE_BYTES }) }
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
  // Names come back raw and are quoted here: the target's COPY text owes nothing to source-side functions.
  const { rows } = await source.query<{
    oid: string
    nspname: string
    relname: string
    columns: string[]
    bytes: string
  }>(
    `SELECT c.oid::pg_catalog.text AS oid, n.nspname, c.relname, pg_catalog.pg_table_size(c.oid) AS bytes,
            ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ${notGenerated}
                   ORDER BY a.attnum)::pg_catalog.text[] AS columns
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' ${notPartition} AND pg_catalog.pg_table_size(c.oid) >= $1 AND ${isUserSchema('n')}`,
    [minBytes]
  )
  return new Map(
    rows
      .filter((row) => row.columns.length > 0)
      .map((row) => [
        row.oid,
        {
          name: `${displayIdent(row.nspname)}.${displayIdent(row.relname)}`,
          qualified: `${quoteIdent(row.nspname)}.${quoteIdent(row.relname)}`,
          columns: row.columns.map(quoteIdent).join(', '),
          bytes: Number(row.bytes)
        }
      ])
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
  /** Tables this big load over `jobs` connections (default MULTI_STREAM_MIN_BYTES). */
  multiStreamMinBytes?: number
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
export const LATE_ACL = /^\d+; \d+ \d+ (?:DEFAULT )?ACL (?!- SCHEMA )/
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
    const multiStream = (table.bytes ?? 0) >= (this.setup.multiStreamMinBytes ?? MULTI_STREAM_MIN_BYTES)
    const streams = multiStream ? restorer.options.jobs : 1
    scope.log.info(`loading ${table.name} as pg_dump writes it${streams > 1 ? `, over ${streams} connections` : ''}`)
    try {
      // A cancelled run closes every connection, these too.
      const targets: pg.Client[] = []
      try {
        for (let i = 0; i < streams; i++) targets.push(await connector.connect(restorer.endpoint))
        await Promise.all(targets.map((target) => prepareLoadSession(target, encoding, targetMajor)))
        // Uncompressed pieces go to the sockets as read: read into slabs given back once sent.
        const pool = reader.suffix === '' ? new SlabPool(PIECE_BYTES) : undefined
        const data = pipeline(
          Readable.from(this.growingFile(id, file, table.name, pool), { objectMode: false }),
          reader.decompressor(),
          noop
        )
        const truncate = (): Promise<unknown> =>
          connector.withConnection(restorer.endpoint, (target) => target.query(`TRUNCATE ONLY ${table.qualified}`))
        await copyIntoStreams({
          targets,
          table,
          data,
          pool,
          freeze: true,
          truncate: async () => void (await truncate())
        })
      } finally {
        await Promise.all(targets.map((target) => target.end().catch(() => undefined)))
      }
      this.loaded.add(id)
      this.followedNames.push(table.name)
      this.tableDone(table.name)
    } catch (error) {
      this.failure ??= new MigrationError('tool-failed', `loading ${table.name}: ${lostConnection(error)}`)
      this.wake()
    }
  }

  /** A data file as pg_dump writes it: read to its end, wait for more, until pg_dump has closed it. */
  private async *growingFile(id: string, file: string, table: string, pool?: SlabPool): AsyncGenerator<Buffer> {
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
        const buffer = pool ? pool.take() : Buffer.allocUnsafe(PIECE_BYTES)
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null).catch((error: unknown) => {
          pool?.release(buffer)
          throw error
        })
        // A short read must not hold a whole piece's memory while it waits downstream.
        const short = bytesRead < PIECE_BYTES / 4
        const piece = short ? Buffer.from(buffer.subarray(0, bytesRead)) : buffer.subarray(0, bytesRead)
        if (short) pool?.release(buffer)
        if (bytesRead > 0) {
          read += bytesRead
          if (Date.now() - reported >= 10_000) {
            reported = Date.now()
            this.setup.scope.log.info(`loading ${table}: ${formatBytes(read)} of its dump file read so far`)
          }
          yield piece
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

const noop = (): void => undefined

/** A dropped connection says so in words, not only as a socket error code. */
function lostConnection(error: unknown): string {
  const message = (error as Error).message
  const lost = /ECONNRESET|EPIPE|Connection terminated|terminating connection|server closed the connection/i
  return lost.test(message) ? `the connection to the target was lost (${message})` : message
}

const entryId = (line: string): string => line.slice(0, line.indexOf(';'))
