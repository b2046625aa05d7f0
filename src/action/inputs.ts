import * as core from '@actions/core'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseDatabaseUrl, type Endpoint } from '../pg/connection.js'
import { InputError } from '../errors.js'

export enum Inputs {
  Mode = 'mode',
  SourceUrl = 'source-url',
  TargetUrl = 'target-url',
  TargetDatabase = 'target-database',
  Databases = 'databases',
  PostgresVersion = 'postgres-version',
  ClientDownloadUrl = 'client-download-url',
  Jobs = 'jobs',
  Compression = 'compression',
  Privileges = 'privileges',
  Roles = 'roles',
  IfTargetNotEmpty = 'if-target-not-empty',
  Verify = 'verify',
  ValidationQueries = 'validation-queries',
  FailOnMismatch = 'fail-on-mismatch',
  DumpPath = 'dump-path',
  ReportPath = 'report-path',
  ConnectTimeout = 'connect-timeout',
  UploadArtifact = 'upload-artifact',
  ArtifactName = 'artifact-name',
  RetentionDays = 'retention-days',
  ArtifactRequired = 'artifact-required',
  ArtifactRunId = 'artifact-run-id',
  GithubToken = 'github-token',
  CivoApiKey = 'civo-api-key',
  CivoDatabase = 'civo-database',
  CivoRegion = 'civo-region',
  CivoApiUrl = 'civo-api-url'
}

export const MODES = ['migrate', 'plan', 'validate', 'dump', 'restore'] as const
export type Mode = (typeof MODES)[number]
export type Privileges = 'skip' | 'keep'
export type RolesPolicy = 'fail' | 'create-missing'
export type NonEmptyTargetPolicy = 'fail' | 'clean'
export type VerifyLevel = 'full' | 'counts' | 'none'
/** `auto`: zstd when the client supports it (PostgreSQL 16+), else gzip. */
export type Compression = 'auto' | 'zstd' | 'lz4' | 'gzip' | 'none'

/** The Civo API coordinates that resolve the target when target-url is not given. */
export interface CivoTarget {
  apiKey: string
  database: string
  region: string
  apiUrl: string
}

/** Every input, parsed and checked once. Nothing else calls core.getInput. */
export interface MigrateInputs {
  /** What to do: migrate (the default), plan (read only), validate (compare two live databases), dump, restore. */
  mode: Mode
  /** The database to copy from; absent in restore mode. */
  source?: Endpoint
  /** The database to copy into; absent in dump mode, or resolved later from Civo. */
  target?: Endpoint
  /** Target database name when it differs from the source's (single-database runs). */
  targetDatabase?: string
  /** Databases to migrate: the source URL's own, a list, or every connectable one ('all'). */
  databases: string[] | 'all'
  /** Exact client version (17 or 17.9.0); undefined means the target's major. */
  postgresVersion?: string
  /** Where the client tarball comes from; placeholders {version}, {major}, {target}. */
  clientDownloadUrl: string
  /** Parallel jobs for dump, restore and checksums. */
  jobs: number
  compression: Compression
  privileges: Privileges
  roles: RolesPolicy
  ifTargetNotEmpty: NonEmptyTargetPolicy
  verify: VerifyLevel
  /** SQL statements run on both sides whose results must be equal. */
  validationQueries: string[]
  /** When false, differences are reported but the step does not fail. */
  failOnMismatch: boolean
  /** Folder for the dump (one subfolder per database). */
  dumpPath: string
  /** Where the JSON report goes. */
  reportPath: string
  /** Seconds to wait for each connection. */
  connectTimeout: number
  uploadArtifact: boolean
  /** Artifact name; default derived from the database and the run id. */
  artifactName?: string
  retentionDays?: number
  /** When true, a failed upload fails the step; otherwise it is a warning. */
  artifactRequired: boolean
  /** Download the dump from another run's artifact (restore mode). */
  artifactRunId?: number
  githubToken?: string
  civo?: CivoTarget
}

export const DEFAULT_CLIENT_DOWNLOAD_URL =
  'https://github.com/theseus-rs/postgresql-binaries/releases/download/{version}/postgresql-{version}-{target}.tar.gz'

function choice<T extends string>(name: Inputs, allowed: readonly T[], fallback: T): T {
  const value = core.getInput(name).trim() || fallback
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InputError(`${name} is "${value}"`, `use one of: ${allowed.join(', ')}`)
  }
  return value as T
}

function positiveInteger(name: Inputs, fallback?: number): number | undefined {
  const raw = core.getInput(name).trim()
  if (!raw) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new InputError(`${name} is "${raw}"`, `give a whole number of at least 1`)
  }
  return Number(raw)
}

function boolean(name: Inputs, fallback: boolean): boolean {
  if (!core.getInput(name).trim()) return fallback
  try {
    return core.getBooleanInput(name)
  } catch {
    throw new InputError(`${name} is "${core.getInput(name)}"`, 'use true or false')
  }
}

function secret(name: Inputs): string | undefined {
  const value = core.getInput(name).trim()
  if (value) core.setSecret(value)
  return value || undefined
}

/** Inline SQL (statements separated by semicolons at line ends) or a path to a .sql file. */
export function parseValidationQueries(raw: string): string[] {
  const text = raw.trim()
  if (!text) return []
  let sql = text
  if (/\.sql$/i.test(text) && !text.includes('\n')) {
    if (!fs.existsSync(text)) {
      throw new InputError(
        `${Inputs.ValidationQueries} names ${text}, which does not exist`,
        'give a path relative to the workspace, or inline SQL'
      )
    }
    sql = fs.readFileSync(text, 'utf8')
  }
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.replace(/^\s*--.*$/gm, '').trim())
    .filter((statement) => statement.length > 0)
}

function parseDatabases(raw: string): string[] | 'all' {
  const text = raw.trim()
  if (!text) return []
  if (text === 'all') return 'all'
  return text
    .split(/[\n,]/)
    .map((name) => name.trim())
    .filter(Boolean)
}

function parsePostgresVersion(raw: string): string | undefined {
  const text = raw.trim()
  if (!text) return undefined
  if (!/^\d{2}(\.\d+){0,2}$/.test(text)) {
    throw new InputError(
      `${Inputs.PostgresVersion} is "${text}"`,
      'give a major such as 17, or a full release such as 17.9.0'
    )
  }
  return text
}

function parseCivo(): CivoTarget | undefined {
  const apiKey = secret(Inputs.CivoApiKey)
  const database = core.getInput(Inputs.CivoDatabase).trim()
  if (!apiKey && !database) return undefined
  if (!apiKey || !database) {
    throw new InputError('civo-api-key and civo-database go together', 'set both, or give target-url instead')
  }
  const region = core.getInput(Inputs.CivoRegion).trim()
  if (!region) throw new InputError('civo-region is empty', 'name the region the database runs in, e.g. LON1')
  const apiUrl = core.getInput(Inputs.CivoApiUrl).trim() || 'https://api.civo.com'
  return { apiKey, database, region, apiUrl }
}

/** Inputs that hold passwords or tokens. */
const SECRET_INPUTS = [Inputs.SourceUrl, Inputs.TargetUrl, Inputs.GithubToken, Inputs.CivoApiKey]

/**
 * Once parsed, the raw secret inputs leave the environment: every child process (tar, pg_dump…)
 * inherits it, and none of them needs a password from there (the tools get a passfile).
 */
export function forgetSecretInputs(): void {
  for (const name of SECRET_INPUTS) delete process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`]
}

export function getInputs(): MigrateInputs {
  const mode = choice(Inputs.Mode, MODES, 'migrate')
  const connectTimeout = positiveInteger(Inputs.ConnectTimeout, 10) as number
  const sourceUrl = secret(Inputs.SourceUrl)
  const targetUrl = secret(Inputs.TargetUrl)
  const civo = parseCivo()
  const needsSource = mode !== 'restore'
  const needsTarget = mode !== 'dump'
  if (needsSource && !sourceUrl) {
    throw new InputError(
      `${Inputs.SourceUrl} is empty; mode ${mode} reads the source`,
      'pass the source database URL from a secret'
    )
  }
  if (needsTarget && !targetUrl && !civo) {
    throw new InputError(
      `${Inputs.TargetUrl} is empty; mode ${mode} needs a target`,
      'pass the target database URL from a secret, or civo-api-key with civo-database'
    )
  }
  const runnerTemp = process.env.RUNNER_TEMP || os.tmpdir()
  const inputs: MigrateInputs = {
    mode,
    source: needsSource && sourceUrl ? parseDatabaseUrl(Inputs.SourceUrl, sourceUrl, connectTimeout) : undefined,
    target: needsTarget && targetUrl ? parseDatabaseUrl(Inputs.TargetUrl, targetUrl, connectTimeout) : undefined,
    targetDatabase: core.getInput(Inputs.TargetDatabase).trim() || undefined,
    databases: parseDatabases(core.getInput(Inputs.Databases)),
    postgresVersion: parsePostgresVersion(core.getInput(Inputs.PostgresVersion)),
    clientDownloadUrl: core.getInput(Inputs.ClientDownloadUrl).trim() || DEFAULT_CLIENT_DOWNLOAD_URL,
    jobs: positiveInteger(Inputs.Jobs, Math.max(1, os.availableParallelism())) as number,
    compression: choice(Inputs.Compression, ['auto', 'zstd', 'lz4', 'gzip', 'none'] as const, 'auto'),
    privileges: choice(Inputs.Privileges, ['skip', 'keep'] as const, 'skip'),
    roles: choice(Inputs.Roles, ['fail', 'create-missing'] as const, 'fail'),
    ifTargetNotEmpty: choice(Inputs.IfTargetNotEmpty, ['fail', 'clean'] as const, 'fail'),
    verify: choice(Inputs.Verify, ['full', 'counts', 'none'] as const, 'full'),
    validationQueries: parseValidationQueries(core.getInput(Inputs.ValidationQueries)),
    failOnMismatch: boolean(Inputs.FailOnMismatch, true),
    dumpPath: path.resolve(core.getInput(Inputs.DumpPath).trim() || path.join(runnerTemp, 'pg-migrate-dump')),
    reportPath: path.resolve(
      core.getInput(Inputs.ReportPath).trim() || path.join(runnerTemp, 'pg-migrate-report.json')
    ),
    connectTimeout,
    uploadArtifact: boolean(Inputs.UploadArtifact, true),
    artifactName: core.getInput(Inputs.ArtifactName).trim() || undefined,
    retentionDays: positiveInteger(Inputs.RetentionDays),
    artifactRequired: boolean(Inputs.ArtifactRequired, false),
    artifactRunId: positiveInteger(Inputs.ArtifactRunId),
    githubToken: secret(Inputs.GithubToken),
    civo
  }
  if (inputs.databases !== 'all' && inputs.databases.length > 1 && inputs.targetDatabase) {
    throw new InputError(
      `${Inputs.TargetDatabase} is set with several databases`,
      'each database goes to a same-named target database; drop target-database'
    )
  }
  if (!/\{version\}/.test(inputs.clientDownloadUrl) && !/\{major\}/.test(inputs.clientDownloadUrl)) {
    throw new InputError(
      `${Inputs.ClientDownloadUrl} has no {version} or {major} placeholder`,
      `use a template like ${DEFAULT_CLIENT_DOWNLOAD_URL}`
    )
  }
  return inputs
}
