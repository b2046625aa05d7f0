import { MigrationError } from '../../base/errors.js'
import type { Log } from '../../base/log.js'
import type { ArtifactStore, UploadedArtifact, UploadSkipped } from '../../artifact/store.js'

/** The upload's outcome as the report keeps it. */
export type UploadOutcome = UploadedArtifact | UploadSkipped | { failed: string }

export interface UploadRequest {
  artifacts: ArtifactStore
  log: Log
  dumpDir: string
  database: string
  /** The artifact name the user chose; default pg-dump-<database>-<run id>. */
  name?: string
  retentionDays?: number
  /** A failed upload fails the run; otherwise it is a warning. */
  required: boolean
  /** GITHUB_RUN_ID, for the default name. */
  runId?: string
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
  const { artifacts, log, dumpDir } = request
  const name = request.name ?? defaultArtifactName(request.database, request.runId)
  let outcome: UploadOutcome
  try {
    outcome = await artifacts.upload(dumpDir, { name, retentionDays: request.retentionDays })
    if ('skipped' in outcome) {
      const line = `artifact not uploaded: ${outcome.reason}; ${outcome.instead}`
      if (outcome.warning) log.warning(line)
      else log.info(line)
    }
  } catch (error) {
    outcome = { failed: (error as Error).message }
  }
  record(outcome)
  if (!('failed' in outcome)) return outcome
  if (request.required) throw new MigrationError('artifact-upload', outcome.failed)
  log.warning(`artifact upload failed (the dump stays at ${dumpDir}): ${outcome.failed}`)
  return outcome
}

export function defaultArtifactName(database: string, runId?: string): string {
  return `pg-dump-${database.replace(/[^A-Za-z0-9._-]/g, '_')}${runId ? `-${runId}` : ''}`
}

/** The upload of one database's dump, as the inputs ask for it. */
export function uploadRequestFor(
  context: {
    artifacts: ArtifactStore
    log: Log
    env: NodeJS.ProcessEnv
    inputs: { artifactName?: string; retentionDays?: number; artifactRequired: boolean }
  },
  database: string,
  dumpDir: string
): UploadRequest {
  const { inputs } = context
  return {
    artifacts: context.artifacts,
    log: context.log,
    dumpDir,
    database,
    name: inputs.artifactName,
    retentionDays: inputs.retentionDays,
    required: inputs.artifactRequired,
    runId: context.env.GITHUB_RUN_ID
  }
}
