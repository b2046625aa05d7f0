/**
 * Whether this run can use GitHub's artifact service, decided from the step's environment before
 * the artifact client (most of the bundle) is loaded.
 */

/**
 * GitHub Enterprise Server: a GITHUB_SERVER_URL that is neither github.com nor GitHub Enterprise
 * Cloud (*.ghe.com), nor a local emulator (*.localhost). @actions/artifact v2 and later talk to a
 * results service GHES does not have.
 */
export function enterpriseServerHost(env: NodeJS.ProcessEnv): string | undefined {
  const server = env.GITHUB_SERVER_URL?.trim()
  if (!server) return undefined
  let host: string
  try {
    host = new URL(server).hostname.toLowerCase()
  } catch {
    return undefined
  }
  const hosted =
    host === 'github.com' || host.endsWith('.ghe.com') || host === 'localhost' || host.endsWith('.localhost')
  return hosted ? undefined : host
}

/** Why the artifact service cannot be used here, and what the run does instead; undefined when it can. */
export function artifactsUnavailable(
  env: NodeJS.ProcessEnv,
  dumpDir: string
): { reason: string; instead: string; warning?: true } | undefined {
  const ghes = enterpriseServerHost(env)
  if (ghes) {
    return {
      reason: `GitHub Enterprise Server (${ghes}) has no artifact service this action can use`,
      instead: `the dump stays at ${dumpDir} on this runner; in a split workflow run the dump and restore jobs on one self-hosted runner and give the restore job that folder as dump-path (upload-artifact: false silences this)`,
      warning: true
    }
  }
  if (!env.ACTIONS_RUNTIME_TOKEN) {
    return {
      reason: 'not running in GitHub Actions (no ACTIONS_RUNTIME_TOKEN)',
      instead: `the dump stays at ${dumpDir}`
    }
  }
  return undefined
}

/** Restore mode on GitHub Enterprise Server: the artifact cannot be fetched; the dump must be on disk. */
export function downloadUnavailable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const ghes = enterpriseServerHost(env)
  if (!ghes) return undefined
  return `cannot download artifact "${name}": GitHub Enterprise Server (${ghes}) has no artifact service this action can use; run the restore job on the runner that holds the dump and pass its folder as dump-path`
}
