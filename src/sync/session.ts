import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { MigrationError } from '../base/errors.js'
import { ProgressLog, type ProgressSample, type ProgressTotals } from '../base/progress.js'
import type { RunScope } from '../base/scope.js'
import type { Connector } from '../pg/connection.js'
import type { Endpoint } from '../pg/endpoint.js'
import { writerSessionSettings } from '../tools/copy-load.js'
import { Applier, type ApplyCounts } from './apply.js'
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
  timeline?: ProgressSample[]
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
  const { connector, scope, slot, settings } = request
  const { log, cancellation } = scope
  const started = performance.now()
  const tracker = new LagTracker(slot.createdAtMs, started)
  const target = await connector.connect(request.target)
  let probe: pg.Client | undefined
  let stream: ChangeStream | undefined
  try {
    await prepareApplySession(target, request.replicaRole, request.targetMajor)
    probe = await connector.connect(request.source)
    const applier = new Applier(target, slot.tables)
    let applied = slot.consistentPoint
    const consume = async (item: StreamItem): Promise<void> => {
      if (item.kind === 'change') {
        const commit = await applier.apply(item.message).catch((error: unknown) => {
          throw applyFailure(error, item)
        })
        if (!commit) return
        applied = commit.endLsn > applied ? commit.endLsn : applied
        tracker.committed(commit.commitMs)
      } else if (!applier.inTransaction && item.lsn > applied) applied = item.lsn
      tracker.reached(applied, performance.now())
    }
    stream = new ChangeStream(slot.connection, slot.name, slot.name, slot.consistentPoint, consume)
    log.info(`sync: streaming changes from ${formatLsn(slot.consistentPoint)} into the target`)
    let reported = started
    let caughtUp = false
    // The WAL to replay runs from the slot's start to the source's position now: it grows as the source writes.
    const total: ProgressTotals = {}
    const progress = new ProgressLog(log, 'catch-up', request.timeline ?? [], total)
    for (;;) {
      cancellation.throwIfCancelled()
      const now = await probeSource(probe)
      const lag = tracker.probed(now)
      stream.sendStatus(applied, true)
      total.bytes = Number(now.lsn - slot.consistentPoint)
      progress.update({ rows: changedRows(applier.counts), bytes: Number(applied - slot.consistentPoint) })
      if (!caughtUp && tracker.caughtUpSince(started)) {
        caughtUp = true
        log.info(`sync: caught up with the source (${applier.counts.transactions} transactions applied)`)
      }
      if (now.runnerMs - reported >= REPORT_EVERY_MS) {
        reported = now.runnerMs
        log.info(
          `sync: ${lag.toFixed(1)} s behind the source, ${applier.counts.transactions} transactions applied, applied up to ${formatLsn(applied)}`
        )
      }
      const reason = cutoverReason(tracker, settings, started)
      if (reason) {
        log.info(`sync: cutover: ${reason}`)
        await stream.stop()
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
      await Promise.race([sleep(TICK_MS), stream.ended])
    }
  } catch (error) {
    // Once cancelled, a closed connection is the cancel's doing, not the stream's.
    cancellation.throwIfCancelled()
    throw error
  } finally {
    await stream?.stop()
    await probe?.end().catch(() => undefined)
    // A transaction cut short is rolled back with the connection.
    await target.end().catch(() => undefined)
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

/** The apply session: names qualified, no timeouts, and the triggers' role when the login may set it. */
async function prepareApplySession(target: pg.Client, replicaRole: boolean, targetMajor: number): Promise<void> {
  await target.query(
    [...writerSessionSettings(targetMajor), ...(replicaRole ? ['SET session_replication_role = replica'] : [])].join(
      '; '
    )
  )
}

function applyFailure(error: unknown, item: StreamItem & { kind: 'change' }): unknown {
  if (error instanceof MigrationError) return error
  const message = item.message
  const table =
    'relation' in message && message.relation
      ? ` to ${message.relation.schema}.${message.relation.name}`
      : message.tag === 'truncate'
        ? ` (TRUNCATE)`
        : ''
  return new MigrationError(
    'sync-apply',
    `applying a source change${table} at ${formatLsn(item.lsn)} to the target failed: ${(error as Error).message}`
  )
}
