// The early part of a sync's verify at cutover: while the source is quiet (`when-idle` waits for
// that anyway) or at the first catch-up (`after-catch-up`), what the stream has touched so far is
// compared, so that the cutover compares only what it touches after. The rows touched, by key, and
// whole the tables whose rows have no key (or that touched too many keys), each side read in one
// snapshot: the target's taken once it has committed every source transaction up to a mark, the
// source's checked to see each of them committed. A comparison stands for a key or a table until the
// stream touches it again; docs/zero-downtime.md says why that is exact.
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import type { Log } from '../../base/log.js'
import type { Connector } from '../../pg/connection.js'
import type { Endpoint } from '../../pg/endpoint.js'
import { parseLsn, recordBoundary } from '../../sync/lsn.js'
import type { FollowView } from '../../sync/session.js'
import type { TouchedRows, TouchedTable } from '../../sync/touched.js'
import { readChangedRows, type KeyedTable, type RowPair } from '../../verify/changed-rows.js'
import { displayName, type TableFingerprint, type VerifyLevel } from '../../verify/fingerprint/index.js'
import { closeSession, openSession } from '../../verify/fingerprint/session.js'
import { fingerprintTables } from '../../verify/fingerprint/tables.js'

/** What the early checks found that still stands, per table (its display name). */
export interface EarlyResults {
  /** Each key compared early: its rows on both sides then, and the mark of the check. */
  keys: Map<string, Map<string, { pair: RowPair; mark: number }>>
  /** Tables read whole early: both sides' entries, and the mark of the check. */
  whole: Map<string, { source: TableFingerprint; target: TableFingerprint; mark: number }>
}

/** Where and how the early checks read. */
export interface EarlyVerifyRequest {
  connector: Connector
  log: Log
  source: Endpoint
  target: Endpoint
  touched: TouchedRows
  /** Every table, as read in bulk: how each is hashed, and the entries of those not read. */
  tables: TableFingerprint[]
  level: VerifyLevel
  cutover: 'when-idle' | 'after-catch-up'
  cutoverIdleSeconds: number
}

const POLL_MS = 250
/** Quiet seconds before a check, at most: the application has likely stopped writing. */
const QUIET_SECONDS = 1
/** Decoded commits kept before they are pruned by the source's snapshot, at most every FORGET_EVERY_MS. */
const FORGET_AT = 10_000
const FORGET_EVERY_MS = 5000
const LOCK_TIMEOUT = '500ms'
/** SQLSTATE of a lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03'

/** The report's account of the early checks. */
export interface EarlyRecord {
  checks: number
  /** Checks whose source snapshot did not yet see a transaction the target had: none of it stood. */
  discarded: number
  keys: number
  whole: string[]
  seconds: number
}

export class EarlyVerify {
  readonly results: EarlyResults = { keys: new Map(), whole: new Map() }
  readonly record: EarlyRecord = { checks: 0, discarded: 0, keys: 0, whole: [], seconds: 0 }
  private view?: FollowView
  private running?: Promise<void>
  private stopped = false
  private failed = false
  /** The mark of the last check that stood: what the stream decoded up to it is compared. */
  private lastMark = 0
  /** The source's position once the last check had read: the target must reach it before cutover. */
  private mustReach = 0n
  private loop?: Promise<void>
  /** Ends the wait between polls at once when stopped. */
  private readonly waking = new AbortController()
  private forgotAt = 0
  /**
   * No check before this (runner clock): a source written to now and then, with a second's quiet in
   * between, would otherwise have its keyless tables read whole over and over. At most half the
   * time goes to checks.
   */
  private notBefore = 0

  constructor(private readonly request: EarlyVerifyRequest) {}

  /** Watches the sync from now on, and checks whenever it is due. */
  start(view: FollowView): void {
    this.view = view
    this.loop = this.watch()
  }

  /** Whether the cutover may come: no check under way, the target past what the last one read. */
  ready(): boolean {
    const { view } = this
    if (!view || this.failed) return true
    if (this.running || view.applied() < this.mustReach) return false
    // after-catch-up: the check at the first catch-up comes before the cutover.
    return this.request.cutover === 'when-idle' || this.record.checks + this.record.discarded > 0 || !this.due()
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.waking.abort()
    await this.loop?.catch(() => undefined)
  }

  private async watch(): Promise<void> {
    while (!this.stopped && !this.failed) {
      // Only memory is at stake: a failure leaves the commits to the next try.
      await this.forget().catch(() => undefined)
      if (this.due()) {
        this.running = this.check().catch((error: unknown) => {
          if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) {
            this.record.discarded++
            return
          }
          this.failed = true
          this.request.log.info(
            `sync: early verify failed (${(error as Error).message}): the verify at cutover reads everything the stream touched`
          )
          this.results.keys.clear()
          this.results.whole.clear()
        })
        await this.running
        this.running = undefined
      }
      await sleep(POLL_MS, undefined, { signal: this.waking.signal }).catch(() => undefined)
    }
  }

  /**
   * Between checks, a long busy sync would keep every decoded commit for `seesAllUpTo`: now and then
   * the source's snapshot tells which are visible to every later one, and those go.
   */
  private async forget(): Promise<void> {
    const { touched, connector, source } = this.request
    const view = this.view
    if (!view || touched.kept < FORGET_AT || performance.now() - this.forgotAt < FORGET_EVERY_MS) return
    this.forgotAt = performance.now()
    const mark = touched.markAt(view.applied())
    const snapshot = await connector.withConnection(source, async (client) => {
      const { rows } = await client.query<{ snapshot: string }>(
        'SELECT pg_catalog.txid_current_snapshot()::text AS snapshot'
      )
      return rows[0].snapshot
    })
    touched.forgetBefore(mark, snapshot)
  }

  /** Caught up, quiet (when-idle), and the stream has touched something since the last check's mark. */
  private due(): boolean {
    const { view, request } = this
    if (!view?.caughtUp() || performance.now() < this.notBefore) return false
    const quiet = Math.min(QUIET_SECONDS, request.cutoverIdleSeconds / 2)
    if (request.cutover === 'when-idle' && view.idleSeconds() < quiet) return false
    return request.touched.markAt(view.applied()) > this.lastMark
  }

  private async check(): Promise<void> {
    const started = performance.now()
    const { connector, touched } = this.request
    const opened = await Promise.allSettled([
      openSession(() => connector.connect(this.request.target)),
      openSession(() => connector.connect(this.request.source))
    ])
    const sessions = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
    const failure = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failure) {
      await Promise.all(sessions.map(closeSession))
      throw failure.reason
    }
    const [target, source] = sessions
    try {
      // A lock the application or the apply holds (a TRUNCATE) is not waited for: the check gives
      // up and comes again, and never holds a lock another session waits behind for long.
      await Promise.all([target, source].map((client) => client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`)))
      const mark = touched.markAt(this.view?.applied() ?? 0n)
      // The target's snapshot, taken after its commit of every transaction up to the mark.
      await target.query('SELECT 1')
      const { rows } = await source.query<{ snapshot: string }>(
        'SELECT pg_catalog.txid_current_snapshot()::text AS snapshot'
      )
      const read = await this.read(source, target, mark)
      const { rows: end } = await source.query<{ lsn: string }>(
        'SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn'
      )
      this.mustReach = recordBoundary(parseLsn(end[0].lsn))
      this.notBefore = 2 * performance.now() - started
      const seconds = (performance.now() - started) / 1000
      this.record.seconds = Math.round((this.record.seconds + seconds) * 100) / 100
      if (!touched.seesAllUpTo(mark, rows[0].snapshot)) {
        this.record.discarded++
        this.request.log.info(
          'sync: early verify discarded: the source had not yet shown a transaction the target had; checked again later'
        )
        return
      }
      touched.forgetBefore(mark, rows[0].snapshot)
      this.keep(read, mark)
      this.request.log.info(
        `sync: early verify: ${read.keyed.reduce((sum, t) => sum + t.keys.length, 0)} changed rows compared by key, ${read.whole.length} tables read whole, as of the target's last commit (${seconds.toFixed(1)} s)`
      )
    } finally {
      await Promise.all([closeSession(target), closeSession(source)])
    }
  }

  /** What is due at `mark`: the keys and the whole tables touched up to it and not since compared. */
  private async read(source: pg.Client, target: pg.Client, mark: number): Promise<EarlyRead> {
    const tables = this.request.touched.touched
    const keyed = tables.flatMap((table) => keysDue(table, mark, this.results))
    const wholeNames = tables.filter((table) => wholeDue(table, mark, this.results)).map(nameOf)
    const pairs = await readChangedRows(source, target, keyed)
    const known = this.request.tables.filter((table) => !wholeNames.includes(nameOf(table)))
    const readWhole = (client: pg.Client): Promise<TableFingerprint[]> =>
      wholeNames.length === 0
        ? Promise.resolve([])
        : fingerprintTables([client], this.request.level, undefined, { like: this.request.tables, known }).then(
            (read) => read.filter((table) => wholeNames.includes(nameOf(table)))
          )
    const [sourceWhole, targetWhole] = await Promise.all([readWhole(source), readWhole(target)])
    const whole = sourceWhole.flatMap((entry) => {
      const other = targetWhole.find((table) => nameOf(table) === nameOf(entry))
      return other ? [{ source: entry, target: other }] : []
    })
    return { keyed, pairs, whole }
  }

  private keep(read: EarlyRead, mark: number): void {
    read.keyed.forEach((table, i) => {
      const name = nameOf(table)
      const kept = this.results.keys.get(name) ?? new Map<string, { pair: RowPair; mark: number }>()
      table.keys.forEach((key, k) => kept.set(JSON.stringify(key), { pair: read.pairs[i][k], mark }))
      this.results.keys.set(name, kept)
      this.record.keys += table.keys.length
    })
    for (const pair of read.whole) {
      this.results.whole.set(nameOf(pair.source), { ...pair, mark })
      if (!this.record.whole.includes(nameOf(pair.source))) this.record.whole.push(nameOf(pair.source))
    }
    this.record.checks++
    this.lastMark = mark
  }
}

interface EarlyRead {
  keyed: KeyedTable[]
  pairs: RowPair[][]
  whole: { source: TableFingerprint; target: TableFingerprint }[]
}

const nameOf = (table: { schema: string; name: string }): string => displayName(table.schema, table.name)

/**
 * The keys of a table touched up to `mark` and not compared since their last change: none of a
 * table read whole.
 */
function keysDue(table: TouchedTable, mark: number, results: EarlyResults): KeyedTable[] {
  if (table.whole) return []
  const compared = results.keys.get(nameOf(table))
  const keys = [...table.keys]
    .filter(([key, touched]) => touched.transaction <= mark && !stands(compared?.get(key)?.mark, touched.transaction))
    .map(([key]) => JSON.parse(key) as string[])
  return keys.length === 0 ? [] : [{ schema: table.schema, name: table.name, keyColumns: table.keyColumns, keys }]
}

/**
 * A table read whole, touched last up to `mark` and not read since. A truncated one is left to the
 * cutover: the target's statistics cannot vouch for it after an early read (written-behind.ts).
 */
function wholeDue(table: TouchedTable, mark: number, results: EarlyResults): boolean {
  if (!table.whole || table.whole === 'truncated' || table.lastTransaction > mark) return false
  return !stands(results.whole.get(nameOf(table))?.mark, table.lastTransaction)
}

/** A comparison at `mark` stands for what the stream last touched in transaction `last`. */
export const stands = (mark: number | undefined, last: number): boolean => mark !== undefined && last <= mark
