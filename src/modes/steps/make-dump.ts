import type { DumpModeInputs, MigrateInputs } from '../../action/inputs.js'
import type { DatabaseRecorder } from '../../action/report.js'
import { Stage, within } from '../../action/stages.js'
import type { Manifest } from '../../artifact/manifest.js'
import { settledLater } from '../../base/async.js'
import { withDatabase } from '../../pg/endpoint.js'
import { holdSnapshot } from '../../pg/snapshot.js'
import type { DatabaseJob } from '../../plan/plan.js'
import { startDump } from '../../tools/pg-dump.js'
import { fingerprintSequences } from '../../verify/fingerprint/index.js'
import { required, type ModeContext } from '../context.js'
import { dumpRequestFor } from './copy.js'
import { fingerprintSource, writeDumpManifest } from './source.js'

/** A dump with its manifest, every file checked against it (or just written with it). */
export interface CheckedDump {
  dir: string
  manifest: Manifest
}

/**
 * One database dumped from a held snapshot, its source fingerprint taken in that snapshot beside
 * pg_dump (nothing else runs), and its manifest written: what a restore job, or a resumed run
 * whose earlier dump is gone, loads and verifies.
 */
export function makeDump(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<DumpModeInputs | MigrateInputs>
): Promise<CheckedDump> {
  // The source checksums run beside pg_dump and may end after it: one log group holds both.
  return context.log.group(`Dump: ${job.source}`, () => dumpAndFingerprint(job, record, context))
}

async function dumpAndFingerprint(
  job: DatabaseJob,
  record: DatabaseRecorder,
  context: ModeContext<DumpModeInputs | MigrateInputs>
): Promise<CheckedDump> {
  const { inputs, plan, connector, stages, log } = context
  const client = required(context.client, 'the client')
  const source = withDatabase(required(context.source, 'the source'), job.source)
  const snapshot = await within(Stage.Dump, holdSnapshot(connector, source))
  let sourceFingerprint: ReturnType<typeof fingerprintSource> | undefined
  try {
    const sequences = await within(Stage.Dump, fingerprintSequences(snapshot.client))
    const dump = startDump({
      ...dumpRequestFor(context, job, client, source, snapshot),
      progress: { connect: () => connector.connect(source), timeline: record.progressTimeline() }
    })
    sourceFingerprint = settledLater(
      stages.run(
        Stage.FingerprintSource,
        job.source,
        () =>
          fingerprintSource({
            connector,
            log,
            source,
            snapshot,
            sequences,
            settings: inputs,
            job,
            timeline: record.progressTimeline()
          }),
        false
      )
    )
    const dumped = await stages.run(Stage.Dump, job.source, () => dump.done, false)
    record.dumped(dumped)
    const fingerprint = await sourceFingerprint
    record.sourceFingerprinted(fingerprint)
    const manifest = await within(
      Stage.Dump,
      writeDumpManifest({
        job,
        dump: dumped,
        client,
        sourceVersion: plan.source?.version ?? '',
        snapshot,
        fingerprint,
        log
      })
    )
    return { dir: dumped.path, manifest }
  } finally {
    await sourceFingerprint?.catch(() => undefined)
    await snapshot.close()
  }
}
