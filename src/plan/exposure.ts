import { artifactReaders, type Visibility } from '../artifact/visibility.js'
import { blocker, type Finding } from './findings.js'

/** What the run will leave as a workflow artifact: whether it uploads the dump, and encrypted or not. */
export interface ArtifactPlan {
  uploads: boolean
  encrypted: boolean
}

/**
 * A dump is the whole database. Uploaded as it is from a public repository, anyone signed in to
 * GitHub could download it for as long as it is kept: a blocker. From an internal repository the
 * whole enterprise could: a warning. An encrypted dump is readable by whoever holds the key only.
 */
export function artifactExposure(visibility: Visibility, artifact: ArtifactPlan): Finding | undefined {
  if (!artifact.uploads || artifact.encrypted) return undefined
  if (visibility === 'public')
    return blocker(
      'public-artifact',
      `the repository is public: ${artifactReaders(visibility)} could download the dump artifact, every row of the database, until it expires`,
      [],
      'set artifact-encryption-key to an age key from a secret to upload it encrypted, or set upload-artifact: false to keep it on the runner'
    )
  if (visibility === 'internal')
    return {
      id: 'internal-artifact',
      severity: 'warning',
      message: `the repository is internal: ${artifactReaders(visibility)} can download the dump artifact, every row of the database, until it expires`,
      objects: [],
      hint: 'set artifact-encryption-key to an age key from a secret to upload it encrypted, or upload-artifact: false'
    }
  return undefined
}
