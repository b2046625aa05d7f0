import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import type { Pgoutput } from 'pg-logical-replication'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import { ProgressLog, type ProgressSample, type ProgressTotals } from '../base/progress.js'
import type { RunScope } from '../base/scope.js'
import type { Connector } from '../pg/connection.js'
import type { Endpoint } from '../pg/endpoint.js'
import { writerSessionSettings } from '../tools/copy-load.js'
import { Applier, type AppliedCommit, type ApplyCounts } from './apply.js'
import { independentTables } from './batching.js'
import { LagTracker, type LagSample } from './lag.js'
import { formatLsn, parseLsn, recordBoundary } from './lsn.js'
import type { SyncSlot } from './slot.js'
import { ChangeStream, type StreamItem } from './stream.js'

/** When the sync ends and when it gives up. */
export interface CutoverSettings {
  /** `when-idle`: caught up and no write for cutoverIdleSeconds; `after-catch-up`: the first time the lag is zero. */
  cutover: 'when-idle' | 'after-catch-up'
  cutoverIdleSeconds: number
  /** Seconds the lag may keep from coming down before the run fails. */
  maxLagSeconds: number
}

export interface FollowRequest {
  connector: Connector
  scope: RunScope
  source: Endpoint
  target: Endpoint
  slot: SyncSlot
  settings: CutoverSettings
  /** Apply with session_replication_role = replica: the target's triggers and rules do not fire. */
  replicaRole: boolean
  targetMajor: number
  /** Where the catch-up's progress samples go (the JSON report's timeline). */
  timeline: ProgressSample[]
  /** Sees every decoded message before the apply does (the verify at cutover keeps the keys it touched). */
  onMessage?: (message: Pgoutput.Message) => void
  /** False while the cutover must wait (the bulk verify still reads): the sync goes on meanwhile. */
  readyForCutover?: () => boolean
  /** Given, once the stream runs, a view of how far the target is (the early verify watches it). */
  onFollowing?: (view: FollowView) => void
}

/** How far the sync is, while it runs. */
export interface FollowView {
  /** The position the target has committed up to: the end of a source commit record, or a keepalive's. */
  applied(): bigint
  /** Whether the target has reached a probe of the source taken since the stream started. */
  caughtUp(): boolean
  /** Seconds the source had not written to a migrated table, as of the latest probe the target reached. */
  idleSeconds(): number
}

/** What following the stream came to. */
export interface FollowResult {
  counts: ApplyCounts
  /** The lag over time, every tick. */
  lag: LagSample[]
  /** How long the target took to reach the source's position at the last probe before cutover. */
  lagAtCutoverSeconds: number
  /** The source's last write to a migrated table, on the runner's clock (performance.now()). */
  lastWriteRunnerMs: number
  /** Why the sync ended, in words. */
  reason: string
  seconds: number
}

const TICK_MS = 500
const REPORT_EVERY_MS = 10_000

/**
 * Streams the slot's changes into the target until cutover. Every tick the source is probed (its
 * WAL position and clock) and asked for a keepalive, so the lag is known on the source's clock and
 * "caught up" means: every change committed before a probe is on the target.
 */
export async function followUntilCutover(request: FollowRequest): Promise<FollowResult> {
  const { connector, scope, slot } = request
  const started = performance.now()
  const tracker = new LagTracker(slot.createdAtMs, started)
  const target = await connector.connect(request.target)
  let probe: pg.Client | undefined
  let stream: ChangeStream | undefined
  try {
    await prepareApplySession(target, request.replicaRole, request.targetMajor)
    probe = await connector.connect(request.source)
    const independent = await independentTables(target, slot.tables, request.replicaRole)
    const flow = streamInto(target, slot, tracker, independent, request.onMessage)
    stream = flow.stream
    request.onFollowing?.({
      applied: flow.applied,
      caughtUp: () => tracker.caughtUpSince(started),
      idleSeconds: () => tracker.idleSeconds()
    })
    scope.log.info(`sync: streaming changes from ${formatLsn(slot.consistentPoint)} into the target`)
    return await followTicks(request, { probe, flow, tracker, started })
  } catch (error) {
    // Once cancelled, a closed connection is the cancel's doing, not the stream's.
    scope.cancellation.throwIfCancelled()
    throw error
  } finally {
    await stream?.stop()
    await probe?.end().catch(() => undefined)
    // A transaction cut short is rolled back with the connection.
    await target.end().catch(() => undefined)
  }
}

/** The stream under way: the connection that probes the source, the flow into the target, the lag. */
interface Following {
  probe: pg.Client
  flow: ReturnType<typeof streamInto>
  tracker: LagTracker
  /** When following began, on the runner's clock. */
  started: number
}

/** One tick every TICK_MS (or sooner, when the stream ends or a batch fails) until cutover or too much lag. */
async function followTicks(request: FollowRequest, following: Following): Promise<FollowResult> {
  const { scope, slot, settings } = request
  const { log, cancellation } = scope
  const { probe, flow, tracker, started } = following
  const { applier, stream } = flow
  let nudge = true
  const progress = catchUpProgress(log, slot, request.timeline)
  const statusLines = followStatusLines(log, tracker, started)
  for (;;) {
    cancellation.throwIfCancelled()
    const unreached = tracker.oldestUnreachedRunnerMs()
    const waiting = unreached !== undefined && performance.now() - unreached >= TICK_MS
    if (nudge && waiting && stream.drained && applier.idle) nudge = await flushSourceWal(probe, log)
    const now = await probeSource(probe)
    const lag = tracker.probed(now)
    stream.sendStatus(flow.applied(), true)
    progress(now.lsn, flow.applied(), applier.counts)
    statusLines(now.runnerMs, lag, flow.applied(), applier.counts)
    const reason = (request.readyForCutover?.() ?? true) ? cutoverReason(tracker, settings, started) : undefined
    if (reason) {
      log.info(`sync: cutover: ${reason}`)
      await stream.stop()
      // With after-catch-up the source may still write: what was sent is let finish, and counted.
      await applier.flush()
      return {
        counts: applier.counts,
        lag: tracker.samples,
        lagAtCutoverSeconds: tracker.delaySeconds(),
        lastWriteRunnerMs: tracker.lastWriteRunnerMs(),
        reason,
        seconds: (performance.now() - started) / 1000
      }
    }
    if (tracker.notShrinkingSeconds(now.runnerMs) > settings.maxLagSeconds)
      throw new MigrationError(
        'sync-lag',
        `the target is ${lag.toFixed(0)} s behind the source and has not come closer for ${settings.maxLagSeconds} s (max-lag-seconds)`
      )
    await Promise.race([sleep(TICK_MS), stream.ended, applier.failed])
  }
}

/** The log's account of the sync: the moment it first catches up, and the lag every REPORT_EVERY_MS. */
function followStatusLines(
  log: Log,
  tracker: LagTracker,
  started: number
): (runnerMs: number, lag: number, applied: bigint, counts: ApplyCounts) => void {
  let reported = started
  let caughtUp = false
  return (runnerMs, lag, applied, counts) => {
    if (!caughtUp && tracker.caughtUpSince(started)) {
      caughtUp = true
      log.info(`sync: caught up with the source (${counts.transactions} transactions applied)`)
    }
    if (runnerMs - reported >= REPORT_EVERY_MS) {
      reported = runnerMs
      log.info(
        `sync: ${lag.toFixed(1)} s behind the source, ${counts.transactions} transactions applied, applied up to ${formatLsn(applied)}`
      )
    }
  }
}

/**
 * The stream into the target: changes batched by the applier; the position confirmed to the source
 * and the lag move on only as batches return.
 */
function streamInto(
  target: pg.Client,
  slot: SyncSlot,
  tracker: LagTracker,
  independent: Set<number>,
  onMessage: (message: Pgoutput.Message) => void = () => undefined
): { applier: Applier; stream: ChangeStream; applied: () => bigint } {
  let applied = slot.consistentPoint
  const settle = (commits: AppliedCommit[]): void => {
    for (const commit of commits) {
      applied = commit.endLsn > applied ? commit.endLsn : applied
      tracker.committed(commit.commitMs, commit.changed)
    }
    tracker.reached(applied, performance.now())
  }
  const applier = new Applier(target, slot.tables, independent, settle)
  // A keepalive: the source has sent everything before it, and all of it is to be on the target.
  const keepalive = async (lsn: bigint): Promise<void> => {
    await applier.flush()
    if (!applier.inTransaction && lsn > applied) applied = lsn
    tracker.reached(applied, performance.now())
  }
  // Nothing to wait for after most changes: no promise for them.
  const consume = (item: StreamItem): Promise<void> | undefined => {
    if (item.kind === 'position') return keepalive(item.lsn)
    onMessage(item.message)
    applier.add(item.message, item.lsn, item.size)
    return applier.full ? applier.send() : undefined
  }
  const stream = new ChangeStream(slot.connection, slot.name, slot.name, slot.consistentPoint, consume, () =>
    applier.send()
  )
  return { applier, stream, applied: () => applied }
}

/**
 * The catch-up's progress lines: the WAL replayed since the slot's start against the WAL up to the
 * source's position now (a total that grows as the source writes), and the rows the changes wrote.
 */
function catchUpProgress(
  log: Log,
  slot: SyncSlot,
  timeline: ProgressSample[]
): (sourceLsn: bigint, applied: bigint, counts: ApplyCounts) => void {
  const total: ProgressTotals = {}
  const lines = new ProgressLog(log, 'catch-up', timeline, total)
  return (sourceLsn, applied, counts) => {
    total.bytes = Number(sourceLsn - slot.consistentPoint)
    lines.update({ rows: changedRows(counts), bytes: Number(applied - slot.consistentPoint) })
  }
}

/** Rows the replayed changes wrote: inserted, updated, deleted (a TRUNCATE counts none). */
function changedRows(counts: ApplyCounts): number {
  return counts.inserts + counts.updates + counts.deletes
}

function cutoverReason(tracker: LagTracker, settings: CutoverSettings, started: number): string | undefined {
  if (!tracker.caughtUpSince(started)) return undefined
  if (settings.cutover === 'after-catch-up') return 'the target has caught up with the source (cutover: after-catch-up)'
  const idle = tracker.idleSeconds()
  if (idle < settings.cutoverIdleSeconds) return undefined
  return `the target has caught up and the source has not written to the migrated tables for ${idle.toFixed(1)} s`
}

async function probeSource(source: pg.Client): Promise<{ lsn: bigint; sourceMs: number; runnerMs: number }> {
  const { rows } = await source.query<{ lsn: string; now_ms: string }>(
    `SELECT pg_catalog.pg_current_wal_insert_lsn()::text AS lsn,
            (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS now_ms`
  )
  return { lsn: recordBoundary(parseLsn(rows[0].lsn)), sourceMs: Number(rows[0].now_ms), runnerMs: performance.now() }
}

/**
 * A probe holds the source's WAL insert position, and the source sends its changes only once they
 * are flushed. WAL that no commit flushes (autovacuum's, a checkpoint's, a non-transactional
 * message) stays in the source's buffers until the WAL writer fills a page or the background writer
 * logs its next snapshot (every 15 s): a probe taken after it cannot be reached meanwhile, and a
 * quiet source looked busy for up to half a minute. When the target has applied all the source sent
 * and still lacks a probe, a transaction that only takes an ID commits with a local flush, which
 * flushes all WAL before it. Decoding skips such a transaction: nothing of it reaches the target.
 */
async function flushSourceWal(source: pg.Client, log: Log): Promise<boolean> {
  try {
    await source.query('BEGIN; SET LOCAL synchronous_commit = local; SELECT pg_catalog.txid_current(); COMMIT')
    return true
  } catch (error) {
    // A login whose transactions are read only, say: the wait then ends at the source's next flush.
    await source.query('ROLLBACK').catch(() => undefined)
    log.info(
      `sync: the source refused the transaction that flushes its WAL (${(error as Error).message}): a quiet period may be seen up to 15 s late`
    )
    return false
  }
}

/** The apply session: names qualified, no timeouts, and the triggers' role when the login may set it. */
async function prepareApplySession(target: pg.Client, replicaRole: boolean, targetMajor: number): Promise<void> {
  await target.query(
    [
      ...writerSessionSettings(targetMajor),
      // Values go in as literals: a backslash is a backslash.
      'SET standard_conforming_strings = on',
      // A sync cut short starts again from scratch, never from what the target kept: its commits need
      // not wait for the disk. The cutover's own commits flush all of them before verify reads them.
      'SET synchronous_commit = off',
      ...(replicaRole ? ['SET session_replication_role = replica'] : [])
    ].join('; ')
  )
}
