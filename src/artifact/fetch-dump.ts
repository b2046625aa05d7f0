import fs from 'node:fs'
import path from 'node:path'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import type { ProgressSample } from '../base/progress.js'
import { decryptFolder, isEncryptedDump, type AgeKey } from './encryption.js'
import { MANIFEST_FILE, readVerifiedManifest, type Manifest } from './manifest.js'
import type { ArtifactStore } from './store.js'

/** Where restore mode finds its dump. */
export interface DumpSource {
  /** A folder holding the dump (e.g. after actions/download-artifact), and where a download goes. */
  dumpPath: string
  /** The artifact to download when the folder holds no dump. */
  artifactName?: string
  /** The workflow run that uploaded it, when not this one; needs `token`. */
  artifactRunId?: number
  token?: string
  /** The age secret key, for a dump uploaded encrypted. */
  encryptionKey?: AgeKey
}

/**
 * restore mode's dump: already at dumpPath, or downloaded by artifact name. Every file is checked
 * against the manifest before the target is touched.
 */
export async function fetchDump(
  from: DumpSource,
  artifacts: ArtifactStore,
  log: Log,
  /** Where the download's progress samples go. */
  timeline: ProgressSample[] = []
): Promise<{ dir: string; manifest: Manifest }> {
  let dir = from.dumpPath
  if (!hasDump(dir)) {
    if (!from.artifactName) throw new MigrationError('no-dump', `no dump at ${dir} (no ${MANIFEST_FILE})`)
    log.info(`downloading artifact ${from.artifactName}${from.artifactRunId ? ` from run ${from.artifactRunId}` : ''}`)
    dir = await artifacts
      .download({
        name: from.artifactName,
        destination: dir,
        runId: from.artifactRunId,
        token: from.token,
        progress: { log, timeline }
      })
      .catch((error: Error) => {
        throw new MigrationError('artifact-download', error.message)
      })
  }
  if (isEncryptedDump(dir, MANIFEST_FILE)) {
    const files = await decryptFolder(dir, MANIFEST_FILE, from.encryptionKey)
    log.info(`decrypted ${files} files of the dump with the age key`)
  }
  const manifest = await readVerifiedManifest(dir)
  log.info(
    `dump of ${manifest.database} from PostgreSQL ${manifest.sourceVersion}, taken ${manifest.snapshotTakenAt}: ${Object.keys(manifest.files).length} files verified`
  )
  return { dir, manifest }
}

const hasDump = (dir: string): boolean =>
  fs.existsSync(path.join(dir, MANIFEST_FILE)) || isEncryptedDump(dir, MANIFEST_FILE)
