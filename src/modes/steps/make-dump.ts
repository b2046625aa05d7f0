import type { DatabaseRecorder } from '../../action/report.js'
import { Stage, within } from '../../action/stages.js'
import { holdSnapshot } from '../../pg/snapshot.js'
import type { Compression } from '../../tools/pg-dump.js'
import { startDump } from '../../tools/pg-dump.js'
import { fingerprintSequences } from '../../verify/fingerprint/index.js'
import type { CheckedDump, CopyMeans, DumpJob } from '../job.js'
import { dumpRequestFor } from './client-requests.js'
import { fingerprintSourceBeside, writeDumpManifest } from './source.js'
import type { ReadSettings } from './verify.js'

/** What a dump of its own needs of a job: dump mode's, or a resumed migrate's whose earlier dump is gone. */
export type DumpOfJob = Pick<DumpJob, 'database' | 'source' | 'dumpFolder'> & {
  settings: ReadSettings & { compression: Compression }
}

/**
 * One database dumped from a held snapshot, its source fingerprint taken in that snapshot beside
 * pg_dump (nothing else runs), and its manifest written: what a restore job, or a resumed run
 * whose earlier dump is gone, loads and verifies.
 */
export function makeDump(job: DumpOfJob, means: CopyMeans, record: DatabaseRecorder): Promise<CheckedDump> {
  // The source checksums run beside pg_dump and may end after it: one log group holds both.
  return means.log.group(`Dump: ${job.database.source}`, () => dumpAndFingerprint(job, means, record))
}

async function dumpAndFingerprint(job: DumpOfJob, means: CopyMeans, record: DatabaseRecorder): Promise<CheckedDump> {
  const { connector, stages, log } = means
  const source = job.source.endpoint
  const snapshot = await within(Stage.Dump, holdSnapshot(connector, source))
  let sourceFingerprint: ReturnType<typeof fingerprintSourceBeside> | undefined
  try {
    const sequences = await within(Stage.Dump, fingerprintSequences(snapshot.client))
    const dump = startDump({
      ...dumpRequestFor(job, means, snapshot),
      progress: { connect: () => connector.connect(source), timeline: record.progressTimeline() }
    })
    sourceFingerprint = fingerprintSourceBeside(job, { snapshot, sequences }, means, record)
    const dumped = await stages.run(Stage.Dump, job.database.source, () => dump.done, false)
    record.dumped(dumped)
    const fingerprint = await sourceFingerprint
    record.sourceFingerprinted(fingerprint)
    const manifest = await within(
      Stage.Dump,
      writeDumpManifest({
        job: job.database,
        dump: dumped,
        client: means.programs.client,
        sourceVersion: job.source.version,
        snapshot,
        fingerprint,
        log
      })
    )
    return { dumpFolder: dumped.path, manifest }
  } finally {
    await sourceFingerprint?.catch(() => undefined)
    await snapshot.close()
  }
}
