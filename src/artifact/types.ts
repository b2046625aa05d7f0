import type { Log } from '../base/log.js'
import type { ProgressSample } from '../base/progress.js'

/** A dump stored as a workflow artifact. */
export interface UploadedArtifact {
  id: number
  name: string
  /** Bytes of the zip as stored. */
  size: number
  /** "sha256:<hex>" of the zip, the form GitHub shows and download checks against. */
  digest: string
  /** Page of the artifact on GitHub, when the run's GITHUB_* variables are known. */
  url?: string
  /** Every file was encrypted with age before the upload. */
  encrypted?: boolean
}

/** Why no artifact was made; the dump folder is left where it is. */
export interface UploadSkipped {
  skipped: true
  /** Why, in a few words: the stage's status says it. */
  reason: string
  /** What the run does instead: where the dump stays, and the way around it. */
  instead: string
  /** A warning, not a note: the platform cannot make the upload a workflow there asks for. */
  warning?: true
}

export interface UploadOptions {
  /** Artifact name, unique within the workflow run. */
  name: string
  /** Days to keep the artifact; the repository's own limit applies when unset or lower. */
  retentionDays?: number
}

export interface DownloadOptions {
  /** Name the dump was uploaded under. */
  name: string
  /** Folder to extract into; created if missing. */
  destination: string
  /** Workflow run that uploaded it, when it is not this run. Needs `token`. */
  runId?: number
  /** owner/name of that run's repository; defaults to GITHUB_REPOSITORY. */
  repository?: string
  /** Token with actions:read on `repository`, for another run's artifacts. */
  token?: string
  /** Progress lines for the download (stage `download`), each also into `timeline`. */
  progress?: { log: Log; timeline: ProgressSample[] }
}
