// sync: logical, as the migrate flow sees it: the hold of a source that keeps being written to. Before
// the copy, a slot whose snapshot the copy reads in; after it, the target verified in bulk beside
// the source's changes replayed until cutover, then the cutover steps, the rows the changes touched
// compared by key, and the rest of the source (schema, sequences, tables read whole) fingerprinted
// as it is then for verify (sync-verify.ts). `close` drops the slot and the publication on every exit.
import type { DatabaseRecorder } from '../../action/report.js'
import type { Log } from '../../base/log.js'
import { Stage, within } from '../../action/stages.js'
import { settledLater } from '../../base/async.js'
import type { Connector } from '../../pg/connection.js'
import { maySetReplicationRole } from '../../pg/target-catalog.js'
import { checkSchemaUnchanged, copySequences } from '../../sync/cutover.js'
import { thinSamples } from '../../sync/lag.js'
import { syncObjectName } from '../../sync/names.js'
import { followUntilCutover } from '../../sync/session.js'
import { createSyncSlot, dropSyncObjects, type SyncSlot } from '../../sync/slot.js'
import { TouchedRows } from '../../sync/touched.js'
import type { SyncRecord } from '../../sync/types.js'
import { restoreEntries, restoreList, TRIGGERS_AND_RULES, type Restorer } from '../../tools/pg-restore.js'
import { fingerprintDatabase, type Fingerprint, type TableFingerprint } from '../../verify/fingerprint/index.js'
import type { MigrateJob, RunMeans } from '../job.js'
import type { Copied, HeldSource } from './copy-step.js'
import type { SourceHold, VerifiedAlready } from './source-hold.js'
import { startBulkVerify, verifyAtCutover, type BulkVerify, type VerifiedAtCutover } from './sync-verify.js'
import { analyzeTarget } from './target.js'
import { fingerprintOptions } from './verify.js'

export async function holdWithSync(job: MigrateJob, means: RunMeans, record: DatabaseRecorder): Promise<SourceHold> {
  const { connector, log } = means
  // The restore role applies the changes (pg/restore-role.ts): it may not set session_replication_role.
  const replicaRole = job.settings.acceptSourceCode && (await mayApplyAsReplica(connector, job))
  const name = syncObjectName(job.workflowRunId || undefined)
  const slot = await within(Stage.Dump, createSyncSlot(connector, job.source.endpoint, name, log))
  const sync: SyncRecord = {
    slot: name,
    triggers: replicaRole ? 'replica-role' : 'created-at-cutover',
    cutover: job.settings.cutover
  }
  record.synced(sync)
  log.info(
    replicaRole
      ? 'sync: changes are applied with session_replication_role = replica, so the target fires no trigger for them'
      : `sync: the target login may not set session_replication_role, so the dump's triggers and rules are created at cutover`
  )
  return new SyncHold(job, means, record, slot, sync, replicaRole)
}

class SyncHold implements SourceHold {
  readonly held: HeldSource
  /** The sync's own publication is in the dump too; it never goes to the target. */
  private readonly ownPublication: RegExp
  private closed = false
  private lastWrite = 0
  private cutoverStarted = 0
  private cutoverEnded = 0
  /** The keys the stream touched, for the verify at cutover. */
  private readonly touched: TouchedRows
  private bulk?: BulkVerify
  /** ANALYZE of the target, beside the stream: its statistics need not wait for the last change. */
  private analyzed?: Promise<void>
  private analyzeDone = false
  private atCutover?: VerifiedAtCutover

  constructor(
    private readonly job: MigrateJob,
    private readonly means: RunMeans,
    /** Where the catch-up's and the checksums' progress samples go. */
    private readonly record: DatabaseRecorder,
    private readonly slot: SyncSlot,
    private readonly sync: SyncRecord,
    private readonly replicaRole: boolean
  ) {
    this.ownPublication = new RegExp(`^\\d+; \\d+ \\d+ PUBLICATION (?:TABLE )?\\S+ ${sync.slot} `)
    const holdBack = replicaRole
      ? this.ownPublication
      : new RegExp(`${TRIGGERS_AND_RULES.source}|${this.ownPublication.source}`)
    // The copy is taken in the slot's snapshot, where its change stream begins.
    this.held = { snapshot: slot.snapshot, changesFollow: true, holdBack }
    this.touched = new TouchedRows(means.log)
  }

  /**
   * After the copy: the target verified in bulk beside the stream, which runs until cutover; the
   * cutover steps; the changed rows compared; the source's fingerprint now, its tables verified in
   * bulk taken as read, for verify.
   */
  async release(copied: Copied): Promise<Fingerprint | undefined> {
    const { job, means } = this
    await this.slot.snapshot.close()
    const atSnapshot = copied.sourceFingerprint
    if (atSnapshot) await this.startBeside(atSnapshot, copied.restorer)
    await this.follow(copied.restorer)
    const bulk = this.bulk && (await within(Stage.Verify, this.bulk.tables()))
    if (this.analyzed) await within(Stage.Analyze, this.analyzed)
    this.cutoverStarted = performance.now()
    await means.stages.run(Stage.Cutover, job.database.source, () => this.cutover(copied.restorer))
    this.cutoverEnded = performance.now()
    if (job.settings.verify === 'none' || !atSnapshot || !bulk) return undefined
    this.sync.verify = { bulk: { tables: bulk.tables.length, rows: sumRows(bulk.tables), seconds: bulk.seconds } }
    return means.stages.run(
      Stage.FingerprintSource,
      job.database.source,
      () => this.verifyChanged(atSnapshot, bulk.tables),
      false
    )
  }

  /**
   * At cutover: the rows the stream touched compared by key; then the source as it is now, idle, so
   * source and target compare exactly (sequences included), every table verified in bulk taken as read.
   */
  private async verifyChanged(atSnapshot: Fingerprint, bulk: TableFingerprint[]): Promise<Fingerprint> {
    const { job, means } = this
    const connect = {
      source: () => means.connector.connect(job.source.endpoint),
      target: () => means.connector.connect(job.target.endpoint)
    }
    const found = await verifyAtCutover(connect, { source: atSnapshot.tables, target: bulk }, this.touched.touched)
    this.atCutover = found
    if (this.sync.verify) this.sync.verify.atCutover = found.record
    logAtCutover(means.log, found)
    return fingerprintDatabase(connect.source, {
      ...fingerprintOptions(job.settings, means.log, 'source', undefined, this.record.progressTimeline()),
      known: found.sourceKnown
    })
  }

  /**
   * Before the apply's first write, beside the sync: the bulk verify (the target as the load left it,
   * against the source at the slot's snapshot) and ANALYZE. With verify none, ANALYZE runs after the
   * cutover as without a sync (finish-load.ts).
   */
  private async startBeside(atSnapshot: Fingerprint, restorer: Restorer): Promise<void> {
    const { job, means } = this
    this.bulk = await within(
      Stage.Sync,
      startBulkVerify(means, job.target.endpoint, atSnapshot, {
        jobs: job.settings.jobs,
        timeline: this.record.progressTimeline()
      })
    )
    this.analyzed = settledLater(
      analyzeTarget(means.connector, restorer.endpoint, this.record).finally(() => (this.analyzeDone = true))
    )
  }

  /** What the verify at cutover found, and the target tables verify takes as read. */
  verifiedAlready(): VerifiedAlready | undefined {
    const found = this.atCutover
    if (!found) return undefined
    return {
      known: found.targetKnown,
      differences: found.differences,
      differingRows: found.differingRows,
      analyzed: this.analyzed !== undefined
    }
  }

  private async follow(restorer: Restorer): Promise<void> {
    const { job, means, sync } = this
    const followed = await means.stages.run(Stage.Sync, job.database.source, () =>
      followUntilCutover({
        connector: means.connector,
        scope: means,
        source: job.source.endpoint,
        // As the restore role: the changes it applies evaluate the source's constraints and indexes.
        target: restorer.endpoint,
        slot: this.slot,
        settings: job.settings,
        replicaRole: this.replicaRole,
        timeline: this.record.progressTimeline(),
        targetMajor: job.target.major,
        onMessage: (message) => this.touched.note(message),
        // The bulk verify reads a snapshot of the target the apply does not change, and ANALYZE
        // only samples: both run beside the sync, and are done before the cutover, outside the window.
        readyForCutover: () => (this.bulk?.done ?? true) && (this.analyzed === undefined || this.analyzeDone)
      })
    )
    this.lastWrite = followed.lastWriteRunnerMs
    Object.assign(sync, {
      reason: followed.reason,
      applied: followed.counts,
      streamSeconds: round(followed.seconds),
      lagAtCutoverSeconds: followed.lagAtCutoverSeconds,
      lag: thinSamples(followed.lag)
    })
  }

  private async cutover(restorer: Restorer): Promise<void> {
    const { job, means, sync } = this
    const { connector, log } = means
    await connector.withConnection(job.source.endpoint, async (sourceDb) => {
      await checkSchemaUnchanged(sourceDb, this.slot.inventory)
      sync.sequences = await connector.withConnection(job.target.endpoint, (targetDb) =>
        copySequences(sourceDb, targetDb, log)
      )
    })
    if (!this.replicaRole) sync.triggersCreated = await this.restoreHeldBack(restorer)
    this.closed = true
    await dropSyncObjects(connector, job.source.endpoint, sync.slot, this.slot.connection, log)
  }

  /** The triggers and rules the restore held back, created now that no change is replayed any more. */
  private async restoreHeldBack(restorer: Restorer): Promise<number> {
    const whole = { ...restorer, options: { ...restorer.options, holdBack: this.ownPublication } }
    const entries = (await restoreList(whole)).kept.filter((line) => TRIGGERS_AND_RULES.test(line))
    if (entries.length > 0) await restoreEntries(whole, entries, undefined, 1)
    const created = entries.filter((line) => !/^\d+; \d+ \d+ COMMENT /.test(line)).length
    this.means.log.info(`sync: ${created} triggers and rules created on the target at cutover`)
    return created
  }

  /** Verify is over: the downtime window closes. */
  verified(): void {
    if (!this.cutoverEnded) return
    const { sync, lastWrite, cutoverStarted, cutoverEnded } = this
    const now = performance.now()
    sync.downtime = {
      seconds: round((now - lastWrite) / 1000),
      waitingSeconds: round((cutoverStarted - lastWrite) / 1000),
      cutoverSeconds: round((cutoverEnded - cutoverStarted) / 1000),
      verifySeconds: round((now - cutoverEnded) / 1000)
    }
    this.means.log.info(
      `sync: downtime window ${sync.downtime.seconds} s, from the source's last write to the end of verify (waiting ${sync.downtime.waitingSeconds} s, cutover ${sync.downtime.cutoverSeconds} s, verify ${sync.downtime.verifySeconds} s)`
    )
  }

  async close(): Promise<void> {
    await this.analyzed?.catch(() => undefined)
    await this.slot.snapshot.close()
    if (this.closed) return
    this.closed = true
    await dropSyncObjects(
      this.means.connector,
      this.job.source.endpoint,
      this.sync.slot,
      this.slot.connection,
      this.means.log
    )
  }
}

/**
 * Whether the target login may set session_replication_role (a superuser, or from 15 a login
 * granted SET on it): asked by trying, on the target database or, before it exists, the server's.
 */
async function mayApplyAsReplica(connector: Connector, job: MigrateJob): Promise<boolean> {
  return connector.withConnection(job.target.admin, maySetReplicationRole).catch(() => false)
}

const round = (value: number): number => Math.round(value * 100) / 100

const sumRows = (tables: { rows: number }[]): number => tables.reduce((sum, table) => sum + table.rows, 0)

function logAtCutover(log: Log, found: VerifiedAtCutover): void {
  const { record } = found
  log.info(
    `sync: verify at cutover: ${record.keys} changed rows of ${record.byKey.length} tables compared by key, ${record.whole.length} tables read whole, ${record.untouched} tables untouched since the bulk verify (${record.seconds} s)`
  )
}
