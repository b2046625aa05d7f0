import fs from 'node:fs'
import { MigrationError } from '../../base/errors.js'
import type { Log } from '../../base/log.js'
import { encryptFolder, recipientOf, type AgeKey } from '../../artifact/encryption.js'
import type { ArtifactStore, UploadedArtifact, UploadSkipped } from '../../artifact/store.js'
import { artifactReaders, type Visibility } from '../../artifact/visibility.js'

/** The upload's outcome as the report keeps it. */
export type UploadOutcome = UploadedArtifact | UploadSkipped | { failed: string }

export interface UploadRequest {
  artifacts: ArtifactStore
  log: Log
  dumpDir: string
  database: string
  /** The artifact's name (default pg-dump-<database>-<run id>, modes/job.ts). */
  name: string
  retentionDays?: number
  /** A failed upload fails the run; otherwise it is a warning. */
  required: boolean
  /** The age key to encrypt to before anything leaves the runner; absent: the files as they are. */
  encryptTo?: AgeKey
  /** Who can read the artifact, for the log. */
  visibility: Visibility
}

/**
 * Uploads the dump and its manifest; the outcome is recorded whatever it is, and returned so the
 * stage reads `skipped` when nothing was uploaded. Best effort unless required: a failed upload must
 * not hide the migration's result.
 */
export async function uploadDumpArtifact(
  request: UploadRequest,
  record: (outcome: UploadOutcome) => void
): Promise<UploadOutcome> {
  const { log, dumpDir } = request
  const { name } = request
  let outcome: UploadOutcome
  try {
    outcome = await uploadFolder(request, name)
    if ('skipped' in outcome) {
      const line = `artifact not uploaded: ${outcome.reason}; ${outcome.instead}`
      if (outcome.warning) log.warning(line)
      else log.info(line)
    } else
      log.info(
        `artifact ${name}: ${request.encryptTo ? 'encrypted, readable only with the key' : `readable by ${artifactReaders(request.visibility)}`}`
      )
  } catch (error) {
    outcome = { failed: (error as Error).message }
  }
  record(outcome)
  if (!('failed' in outcome)) return outcome
  if (request.required) throw new MigrationError('artifact-upload', outcome.failed)
  log.warning(`artifact upload failed (the dump stays at ${dumpDir}): ${outcome.failed}`)
  return outcome
}

/**
 * The dump folder as it is, or an encrypted copy of it beside it (removed after the upload): the
 * restore that runs beside a migrate's upload keeps reading the plain files.
 */
async function uploadFolder(request: UploadRequest, name: string): Promise<UploadedArtifact | UploadSkipped> {
  const { artifacts, dumpDir, encryptTo } = request
  const options = { name, retentionDays: request.retentionDays }
  if (!encryptTo) return artifacts.upload(dumpDir, options)
  const encryptedDir = `${dumpDir}.age`
  fs.rmSync(encryptedDir, { recursive: true, force: true })
  try {
    const started = performance.now()
    const files = await encryptFolder(dumpDir, encryptedDir, await recipientOf(encryptTo))
    request.log.info(`encrypted ${files} files with age in ${((performance.now() - started) / 1000).toFixed(1)}s`)
    const uploaded = await artifacts.upload(encryptedDir, options)
    return 'skipped' in uploaded ? uploaded : { ...uploaded, encrypted: true }
  } finally {
    fs.rmSync(encryptedDir, { recursive: true, force: true })
  }
}

/** The upload of one job's dump folder, as its settings ask for it. */
export function uploadRequestFor(
  job: {
    database: { source: string }
    dumpFolder: string
    artifactName: string
    settings: { retentionDays?: number; artifactRequired: boolean; encryptionKey?: AgeKey }
  },
  means: { artifacts: ArtifactStore; log: Log; visibility: Visibility }
): UploadRequest {
  const { settings } = job
  return {
    artifacts: means.artifacts,
    log: means.log,
    dumpDir: job.dumpFolder,
    database: job.database.source,
    name: job.artifactName,
    retentionDays: settings.retentionDays,
    required: settings.artifactRequired,
    encryptTo: settings.encryptionKey,
    visibility: means.visibility
  }
}
