import { MigrationError } from '../../base/errors.js'

/**
 * The release each major maps to when postgres-version does not name one exactly. Versions are the
 * download's `<major>.<minor>.<build>`; keep them at the newest published release of each major.
 */
export const CLIENT_RELEASES: Readonly<Record<number, string>> = {
  13: '13.22.0',
  14: '14.24.0',
  15: '15.19.0',
  16: '16.15.0',
  17: '17.11.0',
  18: '18.6.0'
}

/** What to install: the major that decides compatibility and the release to download. */
export interface ClientRequirement {
  major: number
  /** Full three-part release for the download and the tool cache. */
  release: string
  /** Why this major, for the log and the summary. */
  reason: string
}

/** `server_version_num` (e.g. 140023) → major (14). */
export function majorOf(serverVersionNum: number): number {
  return Math.floor(serverVersionNum / 10000)
}

/**
 * The client major is the target's (restore with the target's tools; pg_dump reads older servers),
 * never older than the source's; a requested version overrides within that bound.
 */
export function chooseClient(
  sourceMajor: number | undefined,
  targetMajor: number | undefined,
  override?: string
): ClientRequirement {
  if (sourceMajor !== undefined && targetMajor !== undefined && targetMajor < sourceMajor) {
    throw new MigrationError(
      'downgrade',
      `the target runs PostgreSQL ${targetMajor}, older than the source's ${sourceMajor}: a downgrade`,
      { hint: `pick a target running PostgreSQL ${sourceMajor} or newer` }
    )
  }
  const floor = sourceMajor ?? 0
  if (override) {
    const major = Number(override.split('.')[0])
    if (major < floor) {
      throw new MigrationError(
        'client-too-old',
        `the requested client version ${override} is older than the source's major ${floor}`,
        { hint: "pg_dump must be at least the source's major", facts: { minimum: targetMajor ?? floor } }
      )
    }
    if (targetMajor !== undefined && major < targetMajor) {
      throw new MigrationError(
        'client-too-old',
        `the requested client version ${override} is older than the target's major ${targetMajor}`,
        { hint: "restore with the target's tools", facts: { minimum: targetMajor } }
      )
    }
    return { major, release: releaseFor(major, override), reason: `requested version ${override}` }
  }
  const major = targetMajor ?? sourceMajor
  if (major === undefined) throw new MigrationError('client-release-unknown', 'no server version to pick a client for')
  const reason =
    targetMajor !== undefined ? `the target's major (source ${sourceMajor ?? 'unknown'})` : `the source's major`
  return { major, release: releaseFor(major), reason }
}

function releaseFor(major: number, override?: string): string {
  const parts = override?.split('.') ?? []
  if (parts.length === 3) return override as string
  if (parts.length === 2) return `${override}.0`
  const release = CLIENT_RELEASES[major]
  if (!release) {
    throw new MigrationError('client-release-unknown', `no known client release for PostgreSQL ${major}`, {
      facts: { major }
    })
  }
  return release
}

/** The download's platform name for this machine. */
export function platformTarget(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  const targets: Record<string, string> = {
    'linux-x64': 'x86_64-unknown-linux-gnu',
    'linux-arm64': 'aarch64-unknown-linux-gnu',
    'darwin-arm64': 'aarch64-apple-darwin',
    'darwin-x64': 'x86_64-apple-darwin',
    'win32-x64': 'x86_64-pc-windows-msvc'
  }
  const target = targets[`${platform}-${arch}`]
  if (!target) {
    throw new MigrationError('client-platform', `no PostgreSQL client download for ${platform}/${arch}`, {
      hint: 'install the client on the runner and put it on PATH'
    })
  }
  return target
}

/** Fills {version}, {major} and {target} in client-download-url. */
export function downloadUrl(template: string, requirement: ClientRequirement, target: string): string {
  return template
    .replaceAll('{version}', requirement.release)
    .replaceAll('{major}', String(requirement.major))
    .replaceAll('{target}', target)
}
