import type { DownloadOptions, UploadedArtifact, UploadOptions, UploadSkipped } from './types.js'

export type * from './types.js'

/** Where dumps are kept between jobs: GitHub's artifact service on a runner. */
export interface ArtifactStore {
  /** Uploads every file under `dir` as one artifact, paths kept relative to `dir`. */
  upload(dir: string, options: UploadOptions): Promise<UploadedArtifact | UploadSkipped>
  /** Finds the artifact by name and extracts it into `destination`; returns that folder. */
  download(options: DownloadOptions): Promise<string>
}

/**
 * GitHub's artifact service, loaded on first use: its client is most of the bundle, and most runs
 * on a laptop never upload.
 */
export function githubArtifactStore(): ArtifactStore {
  return {
    upload: async (dir, options) => (await import('./github-artifacts.js')).uploadDump(dir, options),
    download: async (options) => (await import('./github-artifacts.js')).downloadDump(options)
  }
}
