// What holds the source still while its rows move: the interface, and the hold without a sync (a
// snapshot, and a warning when the source moved on meanwhile). The hold of sync: logical, which
// then applies the source's changes until cutover, is steps/sync-hold.ts.
import type { DatabaseRecorder } from '../../action/report.js'
import { Stage, within } from '../../action/stages.js'
import { holdSnapshot, nextTransactionId } from '../../pg/snapshot.js'
import type { Difference } from '../../verify/differences.js'
import type { Fingerprint, TableFingerprint } from '../../verify/fingerprint/index.js'
import type { MigrateJob, RunMeans } from '../job.js'
import type { Copied, HeldSource } from './copy-step.js'

export interface SourceHold {
  /** The source, held still for the copy. */
  held: HeldSource
  /** After the copy: the snapshot let go; the source's fingerprint verify compares the target with. */
  release(copied: Copied): Promise<Fingerprint | undefined>
  /** What the hold verified before verify (a sync's bulk and changed rows); undefined: nothing. */
  verifiedAlready?(): VerifiedAlready | undefined
  /** Verify is over. */
  verified(): void
  /** On every exit: whatever the hold made on the source goes. */
  close(): Promise<void>
}

/** What a hold verified itself: verify takes these target tables as read and adds these differences. */
export interface VerifiedAlready {
  /** Target tables read earlier, whose entries stand for the tables now. */
  known: TableFingerprint[]
  /** Differences verify's comparison of the fingerprints cannot see. */
  differences: Difference[]
  /** A few keys of differing rows, per table, found already. */
  differingRows: Record<string, string[]>
  /** ANALYZE ran already: verify need not run it. */
  analyzed: boolean
}

/**
 * sync: none. The copy is of the snapshot taken at its start: the source's fingerprint is the one
 * the copy step took in it; a source that wrote meanwhile is warned of, counted in transactions.
 */
export async function holdSnapshotOnly(
  job: MigrateJob,
  means: RunMeans,
  record: DatabaseRecorder
): Promise<SourceHold> {
  const { connector, log } = means
  const source = job.source.endpoint
  const writesBefore = await within(Stage.Dump, connector.withConnection(source, nextTransactionId))
  const snapshot = await within(Stage.Dump, holdSnapshot(connector, source))
  return {
    held: { snapshot, changesFollow: false, holdBack: undefined },
    async release(copied) {
      await snapshot.close()
      const writes = Math.max(0, (await connector.withConnection(source, nextTransactionId)) - writesBefore)
      record.writesDuringRun(writes)
      if (writes > 0)
        log.warning(
          `${writes} transactions wrote on the source server during the run: the copy of ${job.database.source} holds the snapshot from the dump's start`
        )
      return copied.sourceFingerprint
    },
    verified: () => undefined,
    close: () => snapshot.close()
  }
}
