import * as fs from 'node:fs/promises'
import * as path from 'node:path'
import { DefaultArtifactClient, type FindOptions } from '@actions/artifact'
import { ProgressLog } from '../base/progress.js'
import { artifactsUnavailable, downloadUnavailable } from './availability.js'
import type { DownloadOptions, UploadedArtifact, UploadOptions, UploadSkipped } from './types.js'

/** Uploads every file under `dir` as one artifact, paths kept relative to `dir`. */
export async function uploadDump(dir: string, options: UploadOptions): Promise<UploadedArtifact | UploadSkipped> {
  const unavailable = artifactsUnavailable(process.env, dir)
  if (unavailable) return { skipped: true, ...unavailable }
  const root = path.resolve(dir)
  const files = await listFiles(root)
  if (files.length === 0) throw new Error(`dump folder ${root} has no files to upload`)

  let response
  try {
    response = await new DefaultArtifactClient().uploadArtifact(options.name, files, root, {
      // pg_dump already compressed every table file with zstd; deflating again only costs CPU.
      compressionLevel: 0,
      retentionDays: options.retentionDays
    })
  } catch (error) {
    throw new Error(`uploading artifact "${options.name}" failed: ${firstLine(error)}`)
  }
  const { id, size, digest } = response
  if (id === undefined || size === undefined || !digest) {
    throw new Error(`uploading artifact "${options.name}" failed: the artifact service returned no id, size or digest`)
  }
  return { id, name: options.name, size, digest: `sha256:${digest}`, url: artifactUrl(id) }
}

/** Finds the dump artifact by name and extracts it into `destination`; returns that folder. */
export async function downloadDump(options: DownloadOptions): Promise<string> {
  const { name } = options
  const find = findOptions(options)
  const where = find
    ? `run ${options.runId} of ${find.findBy?.repositoryOwner}/${find.findBy?.repositoryName}`
    : 'this run'
  const ghes = downloadUnavailable(process.env, name)
  if (ghes) throw new Error(ghes)
  if (!find && !process.env.ACTIONS_RUNTIME_TOKEN) {
    throw new Error(
      `cannot look up artifact "${name}": not running in GitHub Actions (no ACTIONS_RUNTIME_TOKEN); pass a run id and a token to read it from a workflow run`
    )
  }
  const client = new DefaultArtifactClient()

  let artifact
  try {
    ;({ artifact } = await client.getArtifact(name, find))
  } catch (error) {
    if (error instanceof Error && error.name === 'ArtifactNotFoundError') {
      const hint = find
        ? 'check the name and run id, and that the artifact has not expired'
        : 'upload it earlier in this run under that name, or pass the run id and a token to read it from another run'
      throw new Error(`artifact "${name}" not found in ${where}; ${hint}`)
    }
    throw new Error(`looking up artifact "${name}" in ${where} failed: ${firstLine(error)}`)
  }

  const destination = path.resolve(options.destination)
  const progress = options.progress && watchDownload(destination, artifact.size, options.progress)
  let result
  try {
    result = await client.downloadArtifact(artifact.id, { ...find, path: destination, expectedHash: artifact.digest })
  } catch (error) {
    throw new Error(`downloading artifact "${name}" from ${where} failed: ${firstLine(error)}`)
  } finally {
    await progress?.stop()
  }
  // The library only reports a mismatch; a damaged dump must not be restored.
  if (result.digestMismatch) {
    throw new Error(
      `artifact "${name}" downloaded with a different sha256 digest than ${artifact.digest}; it is damaged`
    )
  }
  return destination
}

function findOptions(options: DownloadOptions): FindOptions | undefined {
  if (options.runId === undefined) return undefined
  const repository = options.repository ?? process.env.GITHUB_REPOSITORY
  const [owner, repo, ...rest] = repository?.split('/') ?? []
  if (!owner || !repo || rest.length > 0) {
    throw new Error(
      `cannot read artifacts of run ${options.runId}: repository must be owner/name (got "${repository ?? ''}")`
    )
  }
  if (!options.token) {
    throw new Error(
      `cannot read artifacts of run ${options.runId}: a token with actions:read on ${repository} is needed`
    )
  }
  return {
    findBy: { token: options.token, workflowRunId: options.runId, repositoryOwner: owner, repositoryName: repo }
  }
}

/**
 * The download's progress lines: the bytes written into `dir` so far against the artifact's size.
 * The library reports no progress of its own; the dump is stored uncompressed, so the extracted
 * bytes and the zip's keep step. A last look when it ends, so the log and the timeline close on it.
 */
function watchDownload(
  dir: string,
  size: number,
  { log, timeline }: NonNullable<DownloadOptions['progress']>
): { stop(): Promise<void> } {
  const lines = new ProgressLog(log, 'download', timeline, size > 0 ? { bytes: size } : {})
  let looking: Promise<void> = Promise.resolve()
  const look = (): Promise<void> =>
    (looking = looking.then(async () => {
      const files = await listFiles(dir).catch(() => [])
      const sizes = await Promise.all(
        files.map((file) =>
          fs.stat(file).then(
            (s) => s.size,
            () => 0
          )
        )
      )
      lines.update({ rows: 0, bytes: sizes.reduce((sum, bytes) => sum + bytes, 0) })
    }))
  const timer = setInterval(() => void look(), 1000)
  return {
    async stop() {
      clearInterval(timer)
      await look()
    }
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) return listFiles(full)
      return entry.isFile() ? [full] : []
    })
  )
  return nested.flat()
}

function artifactUrl(id: number): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_RUN_ID: runId } = process.env
  if (!server || !repository || !runId) return undefined
  return `${server}/${repository}/actions/runs/${runId}/artifacts/${id}`
}

// Library errors run over several lines (FAQ links, self-hosted runner advice); the log wants one.
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n')[0].trim()
}
