import * as exec from '@actions/exec'
import * as tc from '@actions/tool-cache'
import fs from 'node:fs'
import path from 'node:path'
import { MigrationError } from '../../base/errors.js'
import { sha256File } from '../../base/files.js'
import type { Log } from '../../base/log.js'
import { downloadUrl, platformTarget, type ClientRequirement } from './version-policy.js'

const TOOL_NAME = 'postgresql'
const PROGRAMS = ['pg_dump', 'pg_restore', 'psql', 'pg_dumpall'] as const
type Program = (typeof PROGRAMS)[number]

/** The resolved client: later stages run these paths and nothing else looks binaries up. */
export interface Client {
  /** Full version reported by `pg_dump --version`, e.g. 17.12. */
  version: string
  major: number
  /** Folder holding the programs. */
  binDir: string
  /** How it was found: runner, tool-cache or download. */
  source: 'runner' | 'tool-cache' | 'download'
  programs: Record<Program, string>
}

/** Where and how to look for a client. */
export interface ClientSearch {
  /** The download URL template ({version}, {major}, {target}). */
  downloadTemplate: string
  /** The runner's environment: PATH and PGBIN are searched. */
  env: NodeJS.ProcessEnv
  log: Log
}

/** One way to find a client; returns a bin folder or undefined after logging why it missed. */
type Finder = (
  requirement: ClientRequirement,
  search: ClientSearch
) => Promise<{ binDir: string; source: Client['source'] } | undefined>

const exe = (name: string): string => (process.platform === 'win32' ? `${name}.exe` : name)

/** `pg_dump (PostgreSQL) 17.12 (Debian 17.12-1)` → `17.12`; undefined when the binary does not run. */
export async function programVersion(program: string): Promise<string | undefined> {
  try {
    const { exitCode, stdout } = await exec.getExecOutput(program, ['--version'], {
      silent: true,
      ignoreReturnCode: true
    })
    if (exitCode !== 0) return undefined
    return /\(PostgreSQL\)\s+(\d+(?:\.\d+)?)/.exec(stdout)?.[1]
  } catch {
    return undefined
  }
}

const majorOfVersion = (version: string): number => Number(version.split('.')[0])

async function matchingBinDir(binDir: string, major: number): Promise<string | undefined> {
  const pgDump = path.join(binDir, exe('pg_dump'))
  if (!fs.existsSync(pgDump)) return undefined
  const version = await programVersion(pgDump)
  return version && majorOfVersion(version) === major && PROGRAMS.every((p) => fs.existsSync(path.join(binDir, exe(p))))
    ? binDir
    : undefined
}

/** PATH, PGBIN and Debian/Ubuntu's versioned folders: a matching client already here costs nothing. */
const onRunner: Finder = async ({ major }, { env, log }) => {
  const candidates = [env.PGBIN, `/usr/lib/postgresql/${major}/bin`, ...(env.PATH ?? '').split(path.delimiter)].filter(
    (dir): dir is string => Boolean(dir)
  )
  const seen: string[] = []
  for (const dir of new Set(candidates)) {
    const match = await matchingBinDir(dir, major)
    if (match) return { binDir: match, source: 'runner' }
    const pgDump = path.join(dir, exe('pg_dump'))
    if (fs.existsSync(pgDump)) seen.push(`${pgDump} is ${(await programVersion(pgDump)) ?? 'not runnable'}`)
  }
  log.info(`no pg_dump ${major} on this runner${seen.length ? ` (${seen.join('; ')})` : ''}`)
  return undefined
}

const inToolCache: Finder = async ({ major }, { log }) => {
  const dir = tc.find(TOOL_NAME, String(major))
  if (dir) {
    const match = await matchingBinDir(path.join(dir, 'bin'), major)
    if (match) return { binDir: match, source: 'tool-cache' }
  }
  log.info(`no PostgreSQL ${major} client in the tool cache`)
  return undefined
}

async function fetchTool(url: string, what: string): Promise<string> {
  try {
    return await tc.downloadTool(url)
  } catch (error) {
    const status = (error as { httpStatusCode?: number }).httpStatusCode
    throw new MigrationError(
      'client-download',
      `downloading the ${what} failed${status ? ` (HTTP ${status})` : ''}: ${url}`
    )
  }
}

/** The published `<hex>  <file>` checksum is checked before anything is extracted. */
const download: Finder = async (requirement, { downloadTemplate, log }) => {
  const url = downloadUrl(downloadTemplate, requirement, platformTarget())
  // A URL without {version} (a mirror by major) fetches whatever release it holds: claim only the major.
  const what = downloadTemplate.includes('{version}') ? requirement.release : String(requirement.major)
  log.info(`downloading PostgreSQL ${what} client from ${url}`)
  const archive = await fetchTool(url, 'client')
  const checksumFile = await fetchTool(`${url}.sha256`, 'client checksum')
  const expected = /^[0-9a-f]{64}/i.exec(fs.readFileSync(checksumFile, 'utf8').trim())?.[0]?.toLowerCase()
  const actual = await sha256File(archive)
  if (!expected || expected !== actual) {
    throw new MigrationError(
      'client-checksum',
      `the client download from ${url} does not match its published sha256 (expected ${expected ?? 'none'}, got ${actual})`
    )
  }
  const extracted = await tc.extractTar(archive)
  const root = findRoot(extracted)
  // Cache under what the binary says it is: a three-part version, or find('postgresql', '17') misses it.
  const version = await programVersion(path.join(root, 'bin', exe('pg_dump')))
  if (!version || majorOfVersion(version) !== requirement.major) {
    throw new MigrationError(
      'client-wrong-build',
      `the client from ${url} ${version ? `is PostgreSQL ${version}, not ${requirement.major}` : 'does not run on this runner'}`,
      { facts: { major: requirement.major, platform: platformTarget() } }
    )
  }
  const cached = await tc.cacheDir(root, TOOL_NAME, toSemver(version))
  return { binDir: path.join(cached, 'bin'), source: 'download' }
}

/** The tarball holds bin/ either at its top or inside one folder named after the release. */
function findRoot(extracted: string): string {
  if (fs.existsSync(path.join(extracted, 'bin'))) return extracted
  const entries = fs.readdirSync(extracted, { withFileTypes: true }).filter((e) => e.isDirectory())
  for (const entry of entries) {
    if (fs.existsSync(path.join(extracted, entry.name, 'bin'))) return path.join(extracted, entry.name)
  }
  throw new MigrationError('client-layout', 'the client download has no bin/ folder')
}

function toSemver(version: string): string {
  const parts = version.split('.')
  while (parts.length < 3) parts.push('0')
  return parts.slice(0, 3).join('.')
}

/** In order: first hit wins. Tests take a subset to pin where the client must come from. */
export const finders = { onRunner, inToolCache, download }
export const FINDERS: readonly Finder[] = [onRunner, inToolCache, download]

/** Finds or installs the client and smoke-tests every program it will run. */
export async function installClient(
  requirement: ClientRequirement,
  search: ClientSearch,
  chain = FINDERS
): Promise<Client> {
  search.log.info(`PostgreSQL client ${requirement.major} required: ${requirement.reason}`)
  for (const find of chain) {
    const found = await find(requirement, search)
    if (found) return verifyClient(found.binDir, found.source, requirement.major, search.log)
  }
  throw new MigrationError('client-missing', `no PostgreSQL ${requirement.major} client found`)
}

async function verifyClient(binDir: string, source: Client['source'], major: number, log: Log): Promise<Client> {
  const programs = Object.fromEntries(PROGRAMS.map((p) => [p, path.join(binDir, exe(p))])) as Record<Program, string>
  for (const program of PROGRAMS) {
    const version = await programVersion(programs[program])
    if (!version || majorOfVersion(version) !== major) {
      throw new MigrationError(
        'client-broken',
        `${programs[program]} ${version ? `is version ${version}, not ${major}` : 'does not run'}`,
        { facts: { where: source === 'runner' ? 'the runner' : 'the tool cache' } }
      )
    }
  }
  const version = (await programVersion(programs.pg_dump)) as string
  log.info(`using PostgreSQL client ${version} from ${binDir} (${source})`)
  return { version, major, binDir, source, programs }
}
