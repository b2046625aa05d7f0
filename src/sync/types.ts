import type { ApplyCounts } from './apply.js'
import type { LagSample } from './lag.js'
import type { WholeReason } from './touched.js'

/** The two parts of a sync's verify (docs/zero-downtime.md). */
export interface SyncVerifyRecord {
  /** The target's tables read in bulk beside the sync, against the source at the slot's snapshot. */
  bulk: { tables: number; rows: number; seconds: number }
  /** At cutover, inside the downtime window: only what the stream changed. */
  atCutover?: {
    /** Tables the stream never touched: verified in bulk only. */
    untouched: number
    /** Tables whose changed rows were compared by key on both sides, and how many keys each. */
    byKey: { table: string; keys: number }[]
    /** Tables read whole on both sides, and why. */
    whole: { table: string; why: WholeReason }[]
    /** Keys compared in all. */
    keys: number
    /** What the early checks compared and the stream did not touch again: their comparison stands. */
    standing?: { keys: number; whole: string[] }
    seconds: number
  }
  /**
   * Before cutover, while the source was quiet (or at the first catch-up): the keys the stream had
   * touched and the tables read whole, compared early (sync-early.ts); `discarded`, the checks
   * whose source snapshot did not yet see a transaction the target had.
   */
  early?: { checks: number; discarded: number; keys: number; whole: string[]; seconds: number }
}

/** One database's sync as the report keeps it. */
export interface SyncRecord {
  /** The replication slot's and the publication's name on the source (both dropped). */
  slot: string
  /**
   * How the target's triggers were kept from firing a second time for changes the source's own
   * triggers already made: `replica-role`, applied with session_replication_role = replica;
   * `created-at-cutover`, the dump's triggers and rules restored only after the last change.
   */
  triggers: 'replica-role' | 'created-at-cutover'
  cutover: 'when-idle' | 'after-catch-up'
  /** Why the sync ended. */
  reason?: string
  applied?: ApplyCounts
  /** Seconds from the start of the stream to cutover. */
  streamSeconds?: number
  /** Seconds the target took to reach the source's position at the last probe before cutover. */
  lagAtCutoverSeconds?: number
  /** The lag over time (seconds since the stream started, seconds behind), at most 60 points. */
  lag?: LagSample[]
  sequences?: number
  /** Triggers and rules created at cutover (created-at-cutover only). */
  triggersCreated?: number
  /**
   * The downtime window: from the source's last write to a migrated table to the end of verify, in
   * seconds, and its parts.
   */
  downtime?: {
    seconds: number
    waitingSeconds: number
    cutoverSeconds: number
    verifySeconds: number
    /** Seconds each part of the cutover and its verify took (several run side by side). */
    parts?: Record<string, number>
  }
  /** What was verified in bulk beside the sync, and what at cutover. */
  verify?: SyncVerifyRecord
}
