import { Stage, type Stages } from '../../action/stages.js'
import { settledLater } from '../../base/async.js'
import type { Log } from '../../base/log.js'
import type { ProgressSample } from '../../base/progress.js'
import { writeManifest, type Manifest } from '../../artifact/manifest.js'
import type { Connector } from '../../pg/connection.js'
import type { Endpoint } from '../../pg/endpoint.js'
import type { HeldSnapshot } from '../../pg/snapshot.js'
import type { DatabaseJob } from '../../plan/plan.js'
import { resolveScope } from '../../scope/resolve.js'
import type { ResolvedScope } from '../../scope/types.js'
import type { Client } from '../../tools/client/install.js'
import type { DumpResult } from '../../tools/pg-dump.js'
import { tocObjects } from '../../tools/toc.js'
import {
  fingerprintDatabase,
  type Fingerprint,
  type SequenceFingerprint,
  type TableFingerprint
} from '../../verify/fingerprint/index.js'
import { fingerprintOptions, type ReadSettings } from './verify.js'

export interface SourceFingerprintRequest {
  connector: Connector
  log: Log
  source: Endpoint
  snapshot: HeldSnapshot
  /** Read before pg_dump read them: sequences are outside every snapshot. */
  sequences: SequenceFingerprint[]
  settings: ReadSettings
  /** Its filters: the fingerprint covers what moves. */
  job: Pick<DatabaseJob, 'scope'>
  /** Tables already checksummed in the snapshot (the stream hashed them in flight): not read again. */
  known?: TableFingerprint[]
  /** Where the checksums' progress samples go (the JSON report's timeline). */
  timeline: ProgressSample[]
}

/**
 * The source's checksums in the held snapshot as a stage of their own, beside the rest of the copy
 * (its group is the copy's): settled later, so its failure is told by whoever awaits it.
 */
export function fingerprintSourceBeside(
  job: { database: Pick<DatabaseJob, 'source' | 'scope'>; source: { endpoint: Endpoint }; settings: ReadSettings },
  read: { snapshot: HeldSnapshot; sequences: SequenceFingerprint[]; known?: TableFingerprint[] },
  means: { connector: Connector; log: Log; stages: Stages },
  record: { progressTimeline(): ProgressSample[] }
): Promise<Fingerprint | undefined> {
  const request: SourceFingerprintRequest = {
    connector: means.connector,
    log: means.log,
    source: job.source.endpoint,
    settings: job.settings,
    job: job.database,
    timeline: record.progressTimeline(),
    ...read
  }
  return settledLater(
    means.stages.run(Stage.FingerprintSource, job.database.source, () => fingerprintSource(request), false)
  )
}

const resolvedInSnapshot = new WeakMap<HeldSnapshot, Promise<ResolvedScope | undefined>>()

/**
 * What the dump holds, resolved in its snapshot, as pg_dump resolved its patterns there: what the
 * plan resolved moments before, unless an object came or went since. Resolved once per snapshot.
 */
export function scopeInSnapshot(
  snapshot: HeldSnapshot,
  job: Pick<DatabaseJob, 'scope'>
): Promise<ResolvedScope | undefined> {
  if (!job.scope) return Promise.resolve(undefined)
  let resolved = resolvedInSnapshot.get(snapshot)
  if (!resolved) {
    const planned = job.scope
    resolved = resolveScope(snapshot.client, planned.patterns, { readRows: false }).then(
      ({ scope }) => scope ?? planned
    )
    resolvedInSnapshot.set(snapshot, resolved)
  }
  return resolved
}

/** The source as the dump saw it: every session imports the dump's snapshot. Undefined with verify none. */
export async function fingerprintSource(request: SourceFingerprintRequest): Promise<Fingerprint | undefined> {
  const { connector, log, source, snapshot, sequences, settings } = request
  if (settings.verify === 'none') return undefined
  const scope = await scopeInSnapshot(snapshot, request.job)
  return fingerprintDatabase(() => connector.connect(source), {
    ...fingerprintOptions(settings, log, 'source', snapshot.id, request.timeline),
    sequences,
    scope,
    known: request.known
  })
}

/**
 * The manifest that travels with the dump: its files' checksums, the source fingerprint, the run
 * that made it, what it holds, and the object each of its entries makes (read in its snapshot).
 */
export async function writeDumpManifest(parts: {
  job: DatabaseJob
  dump: DumpResult
  client: Client
  sourceVersion: string
  snapshot: HeldSnapshot
  fingerprint: Fingerprint | undefined
  log: Log
}): Promise<Manifest> {
  const { job, dump, client, sourceVersion, snapshot, fingerprint, log } = parts
  const scope = await scopeInSnapshot(snapshot, job)
  const toc = await tocObjects(snapshot.client, dump.toc, log)
  return writeManifest(dump.path, {
    database: job.source,
    encoding: job.encoding,
    extensions: dump.extensions,
    dump,
    client,
    sourceVersion,
    snapshotTakenAt: snapshot.takenAt,
    fingerprint,
    runId: job.runId,
    scope,
    toc
  })
}
