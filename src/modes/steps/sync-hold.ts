// sync: logical, as the migrate flow sees it: the hold of a source that keeps being written to. Before
// the copy, a slot whose snapshot the copy reads in; after it, the target verified in bulk beside
// the source's changes replayed until cutover, then the cutover steps, the rows the changes touched
// compared by key, and the rest of the source (schema, sequences, tables read whole) fingerprinted
// as it is then for verify (sync-verify.ts). `close` drops the slot and the publication on every exit.
import type { DatabaseRecorder } from '../../action/report.js'
import { Stage, within } from '../../action/stages.js'
import { settledAll, settledLater } from '../../base/async.js'
import type { Connector } from '../../pg/connection.js'
import { maySetReplicationRole } from '../../pg/target-catalog.js'
import { checkSchemaUnchanged, copySequences } from '../../sync/cutover.js'
import { thinSamples } from '../../sync/lag.js'
import { syncObjectName } from '../../sync/names.js'
import { followUntilCutover } from '../../sync/session.js'
import { createSyncSlot, dropSyncObjects, type SyncSlot } from '../../sync/slot.js'
import { TouchedRows } from '../../sync/touched.js'
import type { SyncRecord } from '../../sync/types.js'
import { TRIGGERS_AND_RULES, type Restorer } from '../../tools/pg-restore.js'
import {
  displayName,
  fingerprintDatabase,
  type Fingerprint,
  type FingerprintOptions,
  type TableFingerprint
} from '../../verify/fingerprint/index.js'
import type { MigrateJob, RunMeans } from '../job.js'
import type { Copied, HeldSource } from './copy-step.js'
import type { SourceHold, VerifiedAlready } from './source-hold.js'
import { createHeldBack, heldBackEntries } from './sync-cutover.js'
import { EarlyVerify } from './sync-early.js'
import {
  logAtCutover,
  startBulkVerify,
  verifyAtCutover,
  wholeNow,
  type BulkVerify,
  type VerifiedAtCutover
} from './sync-verify.js'
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
  /** The checks of what the stream touched, while the source is quiet, before the cutover. */
  private early?: EarlyVerify
  /** The held-back triggers' and rules' entries, listed before the cutover. */
  private heldBack: string[] = []
  /** The source's schema and sequences as the cutover read them: the source's fingerprint reuses them. */
  private atCutoverSource?: Pick<FingerprintOptions, 'inventory' | 'sequences'>
  /** Dropping the slot and the publication, begun at cutover: nothing in the window waits for it. */
  private dropping?: Promise<void>
  /** Seconds each part of the cutover and its verify took. */
  private readonly parts: Record<string, number> = {}
  private released = 0

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
    if (!this.replicaRole) this.heldBack = await heldBackEntries(copied.restorer, this.ownPublication)
    await this.follow(copied.restorer)
    await this.early?.stop()
    const bulk = this.bulk && (await within(Stage.Verify, this.bulk.tables()))
    if (this.analyzed) await within(Stage.Analyze, this.analyzed)
    this.cutoverStarted = performance.now()
    await means.stages.run(Stage.Cutover, job.database.source, () => this.cutover(copied.restorer))
    this.cutoverEnded = performance.now()
    if (job.settings.verify === 'none' || !atSnapshot || !bulk) return undefined
    this.sync.verify = { bulk: { tables: bulk.tables.length, rows: sumRows(bulk.tables), seconds: bulk.seconds } }
    if (this.early) this.sync.verify.early = this.early.record
    const fingerprint = await means.stages.run(
      Stage.FingerprintSource,
      job.database.source,
      () => this.verifyChanged(atSnapshot, bulk.tables),
      false
    )
    this.released = performance.now()
    return fingerprint
  }

  /**
   * At cutover: the rows the stream touched compared by key (those compared early and untouched
   * since stand); beside it the source as it is now, idle, so source and target compare exactly
   * (sequences included), every table not read whole taken as read: its entry set once the keys
   * have carried its row count forward.
   */
  private async verifyChanged(atSnapshot: Fingerprint, bulk: TableFingerprint[]): Promise<Fingerprint> {
    const { job, means } = this
    const connect = {
      source: () => means.connector.connect(job.source.endpoint),
      target: () => means.connector.connect(job.target.endpoint)
    }
    const touched = this.touched.touched
    // Read now on the source: the tables read whole at cutover, and any the target lacked in bulk.
    const onTarget = new Set(bulk.map((table) => displayName(table.schema, table.name)))
    const readNow = new Set(
      wholeNow(touched, this.early?.results).map((table) => displayName(table.schema, table.name))
    )
    for (const table of atSnapshot.tables)
      if (!onTarget.has(displayName(table.schema, table.name))) readNow.add(displayName(table.schema, table.name))
    const [found, fingerprint] = await Promise.all([
      this.timed(
        'changedRows',
        verifyAtCutover(connect, { source: atSnapshot.tables, target: bulk }, touched, this.early?.results)
      ),
      this.timed(
        'sourceFingerprint',
        fingerprintDatabase(connect.source, {
          ...fingerprintOptions(job.settings, means.log, 'source', undefined, this.record.progressTimeline()),
          ...this.atCutoverSource,
          known: atSnapshot.tables.filter((table) => !readNow.has(displayName(table.schema, table.name)))
        })
      )
    ])
    this.atCutover = found
    if (this.sync.verify) this.sync.verify.atCutover = found.record
    logAtCutover(means.log, found)
    const known = new Map(found.sourceKnown.map((table) => [displayName(table.schema, table.name), table]))
    return {
      ...fingerprint,
      tables: fingerprint.tables.map((table) => known.get(displayName(table.schema, table.name)) ?? table)
    }
  }

  /** `work`, its seconds kept as a part of the cutover's. */
  private async timed<T>(part: string, work: Promise<T>): Promise<T> {
    const started = performance.now()
    try {
      return await work
    } finally {
      this.parts[part] = round((performance.now() - started) / 1000)
    }
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
    if (job.settings.verify !== 'none')
      this.early = new EarlyVerify({
        connector: means.connector,
        log: means.log,
        source: job.source.endpoint,
        target: job.target.endpoint,
        touched: this.touched,
        tables: atSnapshot.tables,
        level: atSnapshot.level,
        cutover: job.settings.cutover,
        cutoverIdleSeconds: job.settings.cutoverIdleSeconds
      })
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
        onFollowing: (view) => this.early?.start(view),
        // The bulk verify reads a snapshot of the target the apply does not change, and ANALYZE
        // only samples: both run beside the sync, and are done before the cutover, outside the window.
        // The early verify checks what the stream touched while the source is quiet: the cutover
        // waits for a check under way, which leaves it less to compare.
        readyForCutover: () =>
          (this.bulk?.done ?? true) &&
          (this.analyzed === undefined || this.analyzeDone) &&
          (this.early?.ready() ?? true)
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

  /**
   * The schema check, the sequences and the held-back triggers side by side, each on connections of
   * its own; the slot and the publication dropped beside them, awaited only on close (nothing the
   * application will see depends on them).
   */
  private async cutover(restorer: Restorer): Promise<void> {
    const { job, means, sync } = this
    const { connector, log } = means
    this.closed = true
    this.dropping = this.timed(
      'slotDrop',
      dropSyncObjects(connector, job.source.endpoint, sync.slot, this.slot.connection, log)
    )
    const schema = this.timed(
      'schemaCheck',
      connector.withConnection(job.source.endpoint, (sourceDb) => checkSchemaUnchanged(sourceDb, this.slot.inventory))
    )
    const sequences = this.timed(
      'sequences',
      connector.withConnection(job.source.endpoint, (sourceDb) =>
        connector.withConnection(job.target.endpoint, (targetDb) => copySequences(sourceDb, targetDb, log))
      )
    )
    const triggers = this.timed(
      'triggers',
      this.replicaRole
        ? Promise.resolve(undefined)
        : createHeldBack(restorer, this.ownPublication, this.heldBack, this.means.log)
    )
    const [inventory, copied, created] = await settledAll([schema, sequences, triggers])
    sync.sequences = copied.length
    if (created !== undefined) sync.triggersCreated = created
    this.atCutoverSource = { inventory, sequences: copied }
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
      verifySeconds: round((now - cutoverEnded) / 1000),
      parts: { ...this.parts, ...(this.released ? { targetVerify: round((now - this.released) / 1000) } : {}) }
    }
    this.means.log.info(
      `sync: downtime window ${sync.downtime.seconds} s, from the source's last write to the end of verify (waiting ${sync.downtime.waitingSeconds} s, cutover ${sync.downtime.cutoverSeconds} s, verify ${sync.downtime.verifySeconds} s)`
    )
  }

  async close(): Promise<void> {
    await this.early?.stop()
    await this.analyzed?.catch(() => undefined)
    await this.slot.snapshot.close()
    await this.dropping
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
