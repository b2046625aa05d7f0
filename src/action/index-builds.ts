import type pg from 'pg'
import type { Log } from '../base/log.js'
import type { ProgressSample } from '../base/progress.js'
import { logIndexProgress } from '../pg/copy-progress.js'
import { onIndexBuildsStart, type Restorer } from '../tools/pg-restore.js'
import { Stage, type Stages, type StageTimer } from './stages.js'

/** The follower of a restore's index builds: ended once the restore is over, with its error when it failed. */
export interface IndexBuilds {
  ended(error?: unknown): Promise<void>
}

/**
 * The index builds inside a restore: the Build indexes stage, from pg_restore's first index or
 * constraint to the end of the restore, and their progress lines (`indexes`) meanwhile. Neither
 * starts when the restore builds no index.
 */
export function followIndexBuilds(request: {
  restorer: Restorer
  stages: Stages
  database: string
  /** A connection to the target database, for pg_stat_progress_create_index. */
  connect: () => Promise<pg.Client>
  timeline: ProgressSample[]
  /** The bytes the builds will scan, when known (the source's tables); 0 when not. */
  scannedBytes: () => Promise<number>
  log: Log
}): IndexBuilds {
  let timer: StageTimer | undefined
  let progress: { stop(): Promise<void> } | undefined
  let ended = false
  onIndexBuildsStart(request.restorer, () => {
    // The restorer may run again once this restore is over (a sync's held-back entries): not a build of this one.
    if (ended) return
    timer = request.stages.begin(Stage.Indexes, request.database)
    progress = logIndexProgress({ ...request, scannedBytes: request.scannedBytes() })
  })
  return {
    /** Once: a later call (the flow's cleanup after the restore ended) changes nothing. */
    async ended(error) {
      if (ended) return
      ended = true
      await progress?.stop()
      if (error === undefined) timer?.ok()
      else timer?.failed(error)
    }
  }
}
