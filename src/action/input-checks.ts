import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import { Inputs } from './inputs.js'

const refused = (message: string, hint: string): MigrationError => new MigrationError('input', message, { hint })

/**
 * Each job holds a connection on both servers and a pg_dump or pg_restore worker; past this, a
 * run exhausts a server's max_connections (100 by default) long before it goes any faster.
 */
export const MAX_JOBS = 64

/** jobs, capped at MAX_JOBS with the reason in one line. */
export function capJobs(jobs: number, log: Log): number {
  if (jobs <= MAX_JOBS) return jobs
  log.warning(
    `${Inputs.Jobs} is ${jobs}; using ${MAX_JOBS}: each job holds a connection on both servers, and more would exhaust max_connections before going faster`
  )
  return MAX_JOBS
}

/** GitHub keeps artifacts 1 to 90 days in public repositories, up to 400 in private ones. */
export const MAX_RETENTION_DAYS = 400

export function checkRetentionDays(days: number | undefined): number | undefined {
  if (days === undefined || days <= MAX_RETENTION_DAYS) return days
  throw refused(
    `${Inputs.RetentionDays} is ${days}`,
    `give 1 to 90 days (up to ${MAX_RETENTION_DAYS} in a private repository, as its settings allow)`
  )
}

/** The characters @actions/artifact refuses in a name, for NTFS's sake. */
const ARTIFACT_NAME_REFUSES = ['"', ':', '<', '>', '|', '*', '?', '\r', '\n', '\\', '/']

export function checkArtifactName(name: string | undefined): string | undefined {
  const bad = name === undefined ? undefined : ARTIFACT_NAME_REFUSES.find((c) => name.includes(c))
  if (bad === undefined) return name
  throw refused(
    `${Inputs.ArtifactName} "${name}" holds ${JSON.stringify(bad)}`,
    `artifact names may not hold any of ${ARTIFACT_NAME_REFUSES.map((c) => JSON.stringify(c)).join(' ')}`
  )
}

/** The folders a relative path may resolve into: the workspace (where relative paths start) and RUNNER_TEMP. */
export interface PathRoots {
  workspace: string
  temp: string
}

export function pathRoots(env: NodeJS.ProcessEnv): PathRoots {
  return {
    workspace: path.resolve(env.GITHUB_WORKSPACE || process.cwd()),
    temp: path.resolve(env.RUNNER_TEMP || os.tmpdir())
  }
}

function inside(file: string, folder: string): boolean {
  const relative = path.relative(folder, file)
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))
}

/**
 * Where dump-path or report-path writes. An absolute path is the user's choice; a relative one must
 * stay in the workspace or RUNNER_TEMP, so `../../` from an input cannot climb out of the job's folders.
 */
export function outputPath(input: Inputs, raw: string, fallback: string, roots: PathRoots): string {
  if (!raw) return fallback
  const resolved = path.resolve(roots.workspace, raw)
  if (path.isAbsolute(raw) || inside(resolved, roots.workspace) || inside(resolved, roots.temp)) return resolved
  throw refused(
    `${input} "${raw}" leads outside the workspace and RUNNER_TEMP`,
    `give a path inside the workspace, or an absolute path if you mean to write there`
  )
}

/** Kernel file systems: a write there is at best refused, at worst an action on the machine. */
const PSEUDO_FILE_SYSTEMS = ['/proc', '/sys', '/dev']

/** The report is a file the action replaces: not a folder, not a device or kernel file. */
export function checkReportPath(file: string): string {
  if (PSEUDO_FILE_SYSTEMS.some((root) => inside(file, root)))
    throw refused(`${Inputs.ReportPath} ${file} is on a kernel file system`, 'give the path of a JSON file to write')
  const stat = fs.statSync(file, { throwIfNoEntry: false })
  if (stat && !stat.isFile())
    throw refused(
      `${Inputs.ReportPath} ${file} is ${stat.isDirectory() ? 'a directory' : 'not a regular file'}`,
      'give the path of a JSON file to write, e.g. pg-migrate-report.json'
    )
  return file
}

/**
 * The text of a validation-queries file. It runs against both databases, so it must come from the
 * repository or an earlier step: inside the workspace or RUNNER_TEMP, symbolic links followed.
 */
export function readQueryFile(file: string, roots: PathRoots): string {
  const resolved = path.resolve(roots.workspace, file)
  if (!fs.existsSync(resolved)) {
    throw refused(
      `${Inputs.ValidationQueries} names ${file}, which does not exist`,
      'give a path relative to the workspace, or inline SQL'
    )
  }
  const real = fs.realpathSync(resolved)
  const allowed = [roots.workspace, roots.temp].some((root) => inside(real, realOrSelf(root)))
  if (!allowed)
    throw refused(
      `${Inputs.ValidationQueries} names ${file}, which is outside the workspace and RUNNER_TEMP`,
      'keep the .sql file in the repository, or give inline SQL'
    )
  return fs.readFileSync(real, 'utf8')
}

function realOrSelf(folder: string): string {
  try {
    return fs.realpathSync(folder)
  } catch {
    return folder
  }
}
