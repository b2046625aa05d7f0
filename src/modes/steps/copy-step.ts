// The one interface every way of moving a database's rows implements (today: the dump followed by
// the load, steps/dump-and-load.ts). The migrate flow chooses one copy step, once, and hands it the
// resolved job, the source held still, the target's writer and the run's means.
import type { DatabaseRecorder } from '../../action/report.js'
import type { Endpoint } from '../../pg/endpoint.js'
import type { HeldSnapshot } from '../../pg/snapshot.js'
import type { Restorer } from '../../tools/pg-restore.js'
import type { Fingerprint } from '../../verify/fingerprint/index.js'
import type { CopyMeans, MigrateJob } from '../job.js'

/** The source, held still for the copy by a SourceHold (steps/source-hold.ts). */
export interface HeldSource {
  /** The snapshot the copy reads in: every session that reads rows imports it. */
  snapshot: HeldSnapshot
  /**
   * Whether the source takes writes during the copy, which the hold applies after it (sync: logical).
   * The copy must then lock as little as it can: no parallel pg_dump workers, whose NOWAIT locks fail
   * on the first DDL the application queues.
   */
  changesFollow: boolean
  /** TOC entries the load leaves out until the hold is released (a sync's publication, triggers); none: undefined. */
  holdBack: RegExp | undefined
}

/**
 * What the run does to the target database, in order: readies it (created when missing, cleaned
 * when asked, marked with the run), then opens the session the source's code runs in. It
 * remembers what it did, so a copy that stops early can leave the target as it found it.
 */
export interface TargetWriter {
  /**
   * Readies the target and opens the writer: the restore role, or the login with accept-source-code.
   * `restorer` reads the dump's owners and logs in as the writer from then on. Returns the writer.
   */
  open(restorer: Restorer): Promise<Endpoint>
  /** Where the source's code runs: the writer once open, the target login before. */
  readonly endpoint: Endpoint
  /** `untouched` until the target is first written; `created` when this run made the database. */
  readonly state: 'untouched' | 'created' | 'written'
  /**
   * The copy stopped before the target held a whole copy: a database this run created is dropped,
   * so the target is as before the run. True when the target is untouched after it.
   */
  undo(): Promise<boolean>
}

/** What a copy step moved, and what the steps after it need of it. */
export interface Copied {
  tables: number
  rows: number
  bytes: number
  /** The source's fingerprint, taken in the held snapshot; undefined when verify is none. */
  sourceFingerprint: Fingerprint | undefined
  /** The restorer of the schema, logged in as the writer: a sync creates what it held back with it. */
  restorer: Restorer
  /** Work that goes on after the rows are in (the artifact upload): finishLoad awaits it last. */
  pending: Promise<unknown>
  /**
   * Called once the hold is released, however that went: what the copy kept for it goes (the
   * stream's schema dump, from which a sync creates at cutover the triggers it held back).
   */
  released?: () => void
}

/** One way of moving the rows of a database from the held source into the target. */
export interface CopyStep {
  /** As the log and the report name it. */
  readonly name: 'dump' | 'stream'
  copy(
    job: MigrateJob,
    held: HeldSource,
    writer: TargetWriter,
    means: CopyMeans,
    record: DatabaseRecorder
  ): Promise<Copied>
}
