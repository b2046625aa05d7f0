import type { MigrateInputs } from '../action/inputs.js'
import type { DatabaseRecorder } from '../action/report.js'
import { Stage, within } from '../action/stages.js'
import type { Connector } from '../pg/connection.js'
import { withDatabase, type Endpoint } from '../pg/endpoint.js'
import type { HeldSnapshot } from '../pg/snapshot.js'
import type { DatabaseJob } from '../plan/plan.js'
import { checkSchemaUnchanged, copySequences } from '../sync/cutover.js'
import { thinSamples } from '../sync/lag.js'
import { syncObjectName } from '../sync/names.js'
import { followUntilCutover } from '../sync/session.js'
import { createSyncSlot, dropSyncObjects } from '../sync/slot.js'
import type { SyncRecord } from '../sync/types.js'
import { restoreEntries, restoreList, TRIGGERS_AND_RULES, type Restorer } from '../tools/pg-restore.js'
import { fingerprintDatabase, type Fingerprint } from '../verify/fingerprint/index.js'
import { required, type ModeContext } from './context.js'
import { fingerprintOptions } from './steps/verify.js'

/**
 * sync: logical, as the migrate flow sees it. Before the dump, a slot whose snapshot the dump uses;
 * after the restore, the source's changes replayed until cutover; then the cutover steps, and the
 * source fingerprinted as it is for verify. `close` drops the slot and the publication on every exit.
 */
export interface SyncStep {
  /** The slot's snapshot: the dump and the source checksums are taken in it. */
  snapshot: HeldSnapshot
  /**
   * TOC entries the restore leaves out: the sync's publication, and the triggers and rules (created
   * at cutover) when the target cannot apply as a replica.
   */
  holdBack: RegExp
  /** After the restore: streams until cutover, runs the cutover steps; the source's fingerprint now, for verify. */
  catchUp(restorer: Restorer): Promise<Fingerprint | undefined>
  /** Verify is over: the downtime window closes. */
  verified(): void
  close(): Promise<void>
}

export async function openSync(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<MigrateInputs>
): Promise<SyncStep> {
  const { inputs, connector, log, stages } = context
  const server = { source: required(context.source, 'the source'), target: required(context.target, 'the target') }
  const source = withDatabase(server.source, job.source)
  const target = withDatabase(server.target, job.target)
  // The restore role applies the changes (pg/restore-role.ts): it may not set session_replication_role.
  const replicaRole = inputs.acceptSourceCode && (await mayApplyAsReplica(connector, server.target, job))
  const name = syncObjectName(context.env.GITHUB_RUN_ID)
  const slot = await within(Stage.Dump, createSyncSlot(connector, source, name, log))
  const sync: SyncRecord = {
    slot: name,
    triggers: replicaRole ? 'replica-role' : 'created-at-cutover',
    cutover: inputs.cutover
  }
  record.synced(sync)
  log.info(
    replicaRole
      ? 'sync: changes are applied with session_replication_role = replica, so the target fires no trigger for them'
      : `sync: the target login may not set session_replication_role, so the dump's triggers and rules are created at cutover`
  )
  // The sync's own publication is in the dump too; it never goes to the target.
  const ownPublication = new RegExp(`^\\d+; \\d+ \\d+ PUBLICATION (?:TABLE )?\\S+ ${name} `)
  let closed = false
  let lastWrite = 0
  let cutoverStarted = 0
  let cutoverEnded = 0
  return {
    snapshot: slot.snapshot,
    holdBack: replicaRole ? ownPublication : new RegExp(`${TRIGGERS_AND_RULES.source}|${ownPublication.source}`),
    async catchUp(restorer) {
      const followed = await stages.run(Stage.Sync, job.source, () =>
        followUntilCutover({
          connector,
          scope: context,
          source,
          // As the restore role: the changes it applies evaluate the source's constraints and indexes.
          target: restorer.endpoint,
          slot,
          settings: inputs,
          replicaRole,
          timeline: record.progressTimeline(),
          targetMajor: context.plan.target?.major ?? required(context.client, 'the client').major
        })
      )
      lastWrite = followed.lastWriteRunnerMs
      Object.assign(sync, {
        reason: followed.reason,
        applied: followed.counts,
        streamSeconds: round(followed.seconds),
        lagAtCutoverSeconds: followed.lagAtCutoverSeconds,
        lag: thinSamples(followed.lag)
      })
      cutoverStarted = performance.now()
      await stages.run(Stage.Cutover, job.source, async () => {
        await connector.withConnection(source, async (sourceDb) => {
          await checkSchemaUnchanged(sourceDb, slot.inventory)
          sync.sequences = await connector.withConnection(target, (targetDb) => copySequences(sourceDb, targetDb, log))
        })
        if (!replicaRole) sync.triggersCreated = await restoreHeldBack(restorer)
        closed = true
        await dropSyncObjects(connector, source, name, slot.connection, log)
      })
      cutoverEnded = performance.now()
      if (inputs.verify === 'none') return undefined
      // The source as it is now: idle, so source and target compare exactly (sequences included).
      return stages.run(
        Stage.FingerprintSource,
        job.source,
        () =>
          fingerprintDatabase(
            () => connector.connect(source),
            fingerprintOptions(inputs, log, 'source', undefined, record.progressTimeline())
          ),
        false
      )
    },
    verified() {
      if (!cutoverEnded) return
      const now = performance.now()
      sync.downtime = {
        seconds: round((now - lastWrite) / 1000),
        waitingSeconds: round((cutoverStarted - lastWrite) / 1000),
        cutoverSeconds: round((cutoverEnded - cutoverStarted) / 1000),
        verifySeconds: round((now - cutoverEnded) / 1000)
      }
      log.info(
        `sync: downtime window ${sync.downtime.seconds} s, from the source's last write to the end of verify (waiting ${sync.downtime.waitingSeconds} s, cutover ${sync.downtime.cutoverSeconds} s, verify ${sync.downtime.verifySeconds} s)`
      )
    },
    async close() {
      await slot.snapshot.close()
      if (closed) return
      closed = true
      await dropSyncObjects(connector, source, name, slot.connection, log)
    }
  }

  /** The triggers and rules the restore held back, created now that no change is replayed any more. */
  async function restoreHeldBack(restorer: Restorer): Promise<number> {
    const whole = { ...restorer, options: { ...restorer.options, holdBack: ownPublication } }
    const entries = (await restoreList(whole)).kept.filter((line) => TRIGGERS_AND_RULES.test(line))
    if (entries.length > 0) await restoreEntries(whole, entries, undefined, 1)
    const created = entries.filter((line) => !/^\d+; \d+ \d+ COMMENT /.test(line)).length
    log.info(`sync: ${created} triggers and rules created on the target at cutover`)
    return created
  }
}

/**
 * Whether the target login may set session_replication_role (a superuser, or from 15 a login
 * granted SET on it): asked by trying, on the target database or, before it exists, the server's.
 */
async function mayApplyAsReplica(connector: Connector, target: Endpoint, job: DatabaseJob): Promise<boolean> {
  const database = job.targetExists ? job.target : target.database === job.target ? 'postgres' : target.database
  return connector
    .withConnection(withDatabase(target, database), async (client) => {
      await client.query('SET session_replication_role = replica')
      return true
    })
    .catch(() => false)
}

const round = (value: number): number => Math.round(value * 100) / 100
