import fs from 'node:fs'

/** Who can read a repository, and so its workflow artifacts, logs and job summaries. */
export type Visibility = 'public' | 'internal' | 'private' | 'unknown'

/**
 * The repository's visibility, from the event payload the runner writes at GITHUB_EVENT_PATH
 * (`repository.visibility`, or `repository.private` in payloads without it). Unknown outside
 * Actions, or for an event whose payload names no repository.
 */
export function repositoryVisibility(env: NodeJS.ProcessEnv): Visibility {
  const file = env.GITHUB_EVENT_PATH
  if (!file || !fs.existsSync(file)) return 'unknown'
  let repository: { visibility?: unknown; private?: unknown } | undefined
  try {
    repository = (JSON.parse(fs.readFileSync(file, 'utf8')) as { repository?: typeof repository }).repository
  } catch {
    return 'unknown'
  }
  const visibility = repository?.visibility
  if (visibility === 'public' || visibility === 'internal' || visibility === 'private') return visibility
  if (repository?.private === true) return 'private'
  if (repository?.private === false) return 'public'
  return 'unknown'
}

/** Who can download a workflow artifact of a repository with this visibility, for a log line. */
export function artifactReaders(visibility: Visibility): string {
  switch (visibility) {
    case 'public':
      return 'anyone signed in to GitHub'
    case 'internal':
      return "every member of the enterprise (an internal repository's artifacts are readable across its organizations)"
    case 'private':
      return 'people with read access to the repository'
    case 'unknown':
      return 'people with read access to the repository'
  }
}
