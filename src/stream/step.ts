import fs from 'node:fs'
import { formatBytes } from '../base/files.js'
import type { Log } from '../base/log.js'
import type { Connector } from '../pg/connection.js'
import type { Endpoint } from '../pg/endpoint.js'
import { quoteIdent } from '../pg/sql.js'
import { startDump, type DumpRequest, type DumpRun } from '../tools/pg-dump.js'
import type { Restorer } from '../tools/pg-restore.js'
import { progressReporter } from '../tools/run-tool.js'
import { openSession } from '../verify/fingerprint/session.js'
import type { VerifyLevel } from '../verify/fingerprint/types.js'
import { planPieces, type StreamRequest, type StreamResult } from './engine.js'
import { preparePieceRecord, PIECES_TABLE, resumeStream, type StreamResume } from './pieces.js'
import { restoreAroundStream, type StreamedCopy } from './restore.js'
import { prepareStreamTarget } from './sessions.js'
import { BY_VALUE, type StreamedTable } from './tables.js'

export { BY_VALUE, checksumByValue, streamedTables, type StreamedTable } from './tables.js'
export { chooseCopyMethod, type CopyMethod, type CopyMethodChoice } from './choose.js'
export type { StreamedCopy } from './restore.js'
export type { StreamResult } from './engine.js'

/** What the streamed copy of one database needs; the caller has listed `tables` in the snapshot. */
export interface StreamCopyRequest {
  /** pg_dump as the dump path would run it: it now leaves out the streamed tables' rows. */
  dump: DumpRequest
  tables: StreamedTable[]
  restorer: Restorer
  connector: Connector
  source: Endpoint
  /** The target database as the action's login: it keeps the record of committed pieces. */
  target: Endpoint
  /** if-target-not-empty: resume — keep the pieces an earlier run committed, restore what the target lacks. */
  resume: boolean
  targetMajor: number
  /** Pairs of sessions, one source and one target session each. */
  jobs: number
  /** How the verify will read: `full` hashes the rows in flight. */
  level: VerifyLevel | 'none'
  log: Log
  /** Called once every row is in, before the indexes and the rest: the source's fingerprint can start then. */
  onStreamed?: (streamed: StreamResult) => void
  /**
   * Readies the target database, once the schema's dump is complete; returns who loads it (the restore
   * role). `estimatedRows`: the rows the stream will load, as the source estimates them, for the progress lines.
   */
  prepareTarget: (estimatedRows: Promise<number>) => Promise<Endpoint>
  /** Tests: tables from this size are split (default 64 MiB) in ranges of about pieceBytes, and the window per pair. */
  splitMinBytes?: number
  pieceBytes?: number
  windowBytes?: number
}

export interface StreamCopy {
  /** pg_dump of everything but the streamed rows: schema, sequences, large objects, extensions' rows. */
  dump: DumpRun
  /** The restore around the stream; undefined when the dump failed. */
  copied: Promise<StreamedCopy | undefined>
}

/**
 * migrate's second way to copy: the schema (and the little the stream does not carry) through
 * pg_dump and pg_restore, every table's rows from source to target sessions in the dump's snapshot,
 * never on the runner's disk. Starts at once, as startDump does.
 */
export function startStreamCopy(request: StreamCopyRequest): StreamCopy {
  const { log, tables, connector } = request
  logChecksums(log, tables)
  const excludeTableData = tables.map((table) => `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`)
  const dump = startDump({ ...request.dump, excludeTableData })
  const snapshot = request.dump.snapshot.id
  const copied = restoreAroundStream(dump, {
    restorer: request.restorer,
    ...(request.resume
      ? { resume: (lines: string[], stream: StreamRequest) => resumeFrom(request, lines, stream) }
      : {}),
    onStreamed: (streamed) => {
      logStreamed(log, streamed)
      request.onStreamed?.(streamed)
    },
    prepareTarget: async () => {
      const writer = await request.prepareTarget(dump.estimatedRows)
      const recordFor = writer.user === request.target.user ? {} : { writer: writer.user }
      await connector.withConnection(request.target, (db) =>
        preparePieceRecord(db, { fresh: !request.resume, ...recordFor })
      )
      log.info(
        `streaming ${tables.length} tables (${formatBytes(tables.reduce((sum, t) => sum + t.bytes, 0))} on the source) over ${request.jobs} pairs of sessions`
      )
      return {
        openSource: () => openSession(() => connector.connect(request.source), { snapshot }),
        openTarget: async () => prepareStreamTarget(await connector.connect(writer), request.targetMajor),
        sessions: request.jobs,
        tables,
        level: request.level,
        splitMinBytes: request.splitMinBytes,
        pieceBytes: request.pieceBytes,
        windowBytes: request.windowBytes,
        recordPiecesIn: PIECES_TABLE,
        onTableDone: progressReporter(log, 'tables streamed'),
        onSplit: (table, ranges) => log.info(`${table}: split into ${ranges} block ranges`)
      }
    }
  })
  return { dump, copied }
}

/** A resumed stream: what the target holds of this run's plan, and what it lacks (stream/pieces.ts). */
async function resumeFrom(request: StreamCopyRequest, lines: string[], stream: StreamRequest): Promise<StreamResume> {
  const { log } = request
  const resumed = await request.connector.withConnection(request.target, (db) =>
    resumeStream(db, request.dump.snapshot.client, { lines, pieces: planPieces(stream) }, log)
  )
  log.info(
    `resume: ${resumed.kept.size} pieces the earlier run committed are kept, the rest streams again; ${resumed.created.length} missing items to create`
  )
  return resumed
}

function logStreamed(log: Log, streamed: StreamResult): void {
  log.info(
    `streamed ${streamed.rows} rows (${formatBytes(streamed.bytes)} of COPY text), at most ${formatBytes(streamed.peakHeldBytes)} held at once by a pair of sessions; none of it on disk`
  )
}

/**
 * The schema's dump folder, once the copy is over: it holds no rows, and nothing resumes from it (it
 * has no manifest). Only a folder pg_dump wrote (toc.dat) or left empty: one the dump refused to
 * write into (it held other files) stays as it was.
 */
export function removeSchemaDump(dir: string): void {
  if (!fs.existsSync(dir)) return
  const entries = fs.readdirSync(dir)
  if (entries.length === 0 || entries.includes('toc.dat')) fs.rmSync(dir, { recursive: true, force: true })
}

/** Where each table's checksum comes from: one line per table that cannot be hashed in flight, one for the rest. */
function logChecksums(log: Log, tables: StreamedTable[]): void {
  const byValue = tables.filter((table) => table.hashedServerSide === BY_VALUE).length
  for (const table of tables)
    if (table.hashedServerSide && table.hashedServerSide !== BY_VALUE)
      log.info(`${table.display}: checksummed server-side, as ${table.hashedServerSide}`)
  if (byValue > 0)
    log.info(
      `${byValue} of ${tables.length} tables checksummed by value on each server (${BY_VALUE}); ${tables.filter((table) => !table.hashedServerSide).length} hashed in flight`
    )
}
