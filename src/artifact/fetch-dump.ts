import * as core from '@actions/core'
import fs from 'node:fs'
import path from 'node:path'
import { StageError } from '../errors.js'
import { Inputs, type MigrateInputs } from '../action/inputs.js'
import { MANIFEST_FILE, readVerifiedManifest, type Manifest } from './manifest.js'

/**
 * restore mode's dump: already at dump-path (e.g. after actions/download-artifact), or downloaded by
 * artifact-name. Every file is checked against the manifest before the target is touched.
 */
export async function fetchDump(inputs: MigrateInputs): Promise<{ dir: string; manifest: Manifest }> {
  let dir = inputs.dumpPath
  if (!fs.existsSync(path.join(dir, MANIFEST_FILE))) {
    if (!inputs.artifactName) {
      throw new StageError(
        'Check dump',
        `no dump at ${dir} (no ${MANIFEST_FILE})`,
        `set ${Inputs.DumpPath} to the downloaded dump folder, or ${Inputs.ArtifactName} to download it`
      )
    }
    core.info(
      `downloading artifact ${inputs.artifactName}${inputs.artifactRunId ? ` from run ${inputs.artifactRunId}` : ''}`
    )
    const { downloadDump } = await import('./store.js')
    dir = await downloadDump({
      name: inputs.artifactName,
      destination: dir,
      runId: inputs.artifactRunId,
      token: inputs.githubToken
    }).catch((error: Error) => {
      throw new StageError('Check dump', error.message, `check ${Inputs.ArtifactName} and ${Inputs.ArtifactRunId}`)
    })
  }
  const manifest = await readVerifiedManifest(dir)
  core.info(
    `dump of ${manifest.database} from PostgreSQL ${manifest.sourceVersion}, taken ${manifest.snapshotTakenAt}: ${Object.keys(manifest.files).length} files verified`
  )
  return { dir, manifest }
}
