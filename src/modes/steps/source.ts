import type { Log } from '../../base/log.js'
import { writeManifest } from '../../artifact/manifest.js'
import type { Connector } from '../../pg/connection.js'
import type { Endpoint } from '../../pg/endpoint.js'
import type { HeldSnapshot } from '../../pg/snapshot.js'
import type { DatabaseJob } from '../../plan/plan.js'
import type { Client } from '../../tools/client/install.js'
import type { DumpResult } from '../../tools/pg-dump.js'
import { fingerprintDatabase, type Fingerprint, type SequenceFingerprint } from '../../verify/fingerprint/index.js'
import { fingerprintOptions, type ReadSettings } from './verify.js'

export interface SourceFingerprintRequest {
  connector: Connector
  log: Log
  source: Endpoint
  snapshot: HeldSnapshot
  /** Read before pg_dump read them: sequences are outside every snapshot. */
  sequences: SequenceFingerprint[]
  settings: ReadSettings
}

/** The source as the dump saw it: every session imports the dump's snapshot. Undefined with verify none. */
export async function fingerprintSource(request: SourceFingerprintRequest): Promise<Fingerprint | undefined> {
  const { connector, log, source, snapshot, sequences, settings } = request
  if (settings.verify === 'none') return undefined
  return fingerprintDatabase(() => connector.connect(source), {
    ...fingerprintOptions(settings, log, snapshot.id),
    sequences
  })
}

/** The manifest that travels with the dump: its files' checksums and the source fingerprint. */
export async function writeDumpManifest(parts: {
  job: DatabaseJob
  dump: DumpResult
  client: Client
  sourceVersion: string
  snapshot: HeldSnapshot
  fingerprint: Fingerprint | undefined
}): Promise<void> {
  const { job, dump, client, sourceVersion, snapshot, fingerprint } = parts
  await writeManifest(dump.path, {
    database: job.source,
    encoding: job.encoding,
    extensions: dump.extensions,
    dump,
    client,
    sourceVersion,
    snapshotTakenAt: snapshot.takenAt,
    fingerprint
  })
}
