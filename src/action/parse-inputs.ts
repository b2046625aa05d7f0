import os from 'node:os'
import path from 'node:path'
import { parseAgeKey, type AgeKey } from '../artifact/encryption.js'
import { MigrationError } from '../base/errors.js'
import { parseDatabaseUrl, type Endpoint } from '../pg/endpoint.js'
import { splitPatterns } from '../scope/patterns.js'
import { isScoped, type ScopePatterns } from '../scope/types.js'
import type { CivoTarget } from '../targets/civo.js'
import { isSafeApiUrl } from '../targets/civo-api.js'
import { isIPv4 } from '../targets/civo-firewall.js'
import { refusedQuery } from '../verify/fingerprint/query-guard.js'
import {
  capJobs,
  checkArtifactName,
  checkReportPath,
  checkRetentionDays,
  outputPath,
  pathRoots,
  readQueryFile,
  type PathRoots
} from './input-checks.js'
import {
  DEFAULT_CLIENT_DOWNLOAD_URL,
  Inputs,
  MODES,
  type ActionInputs,
  type CivoInputs,
  type TargetInput,
  type VerifyLevel
} from './inputs.js'
import type { ActionRunner } from './runner.js'

const refused = (message: string, hint: string): MigrationError => new MigrationError('input', message, { hint })

/** Reads one runner's inputs: each helper names the input it checks in the line it refuses with. */
class InputReader {
  constructor(private readonly runner: ActionRunner) {}

  text(name: Inputs): string {
    return this.runner.getInput(name).trim()
  }

  choice<T extends string>(name: Inputs, allowed: readonly T[], fallback: T): T {
    const value = this.text(name) || fallback
    if (!(allowed as readonly string[]).includes(value))
      throw refused(`${name} is "${value}"`, `use one of: ${allowed.join(', ')}`)
    return value as T
  }

  positiveInteger(name: Inputs): number | undefined {
    const raw = this.text(name)
    if (!raw) return undefined
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw refused(`${name} is "${raw}"`, 'give a whole number of at least 1')
    return Number(raw)
  }

  /** YAML 1.2 core booleans, as core.getBooleanInput reads them. */
  boolean(name: Inputs, fallback: boolean): boolean {
    const raw = this.text(name)
    if (!raw) return fallback
    if (['true', 'True', 'TRUE'].includes(raw)) return true
    if (['false', 'False', 'FALSE'].includes(raw)) return false
    throw refused(`${name} is "${raw}"`, 'use true or false')
  }

  secret(name: Inputs): string | undefined {
    const value = this.text(name)
    if (value) this.runner.log.mask(value)
    return value || undefined
  }
}

/** The artifact's age key: a secret key (AGE-SECRET-KEY-1…), or for a dump job its public key (age1…). */
function parseEncryptionKey(read: InputReader, runner: ActionRunner): AgeKey | undefined {
  const raw = read.secret(Inputs.ArtifactEncryptionKey)
  if (!raw) return undefined
  const key = parseAgeKey(raw)
  if (!key)
    throw refused(
      `${Inputs.ArtifactEncryptionKey} is not an age key`,
      'store the AGE-SECRET-KEY-1… line that age-keygen prints as a secret and pass it; a dump job may take its public key (age1…)'
    )
  // A whole key file is masked as one value; its key line must be masked on its own too.
  if ('identity' in key && key.identity !== raw) runner.log.mask(key.identity)
  return key
}

/** Inline SQL (statements separated by semicolons at line ends) or a path to a .sql file. */
export function parseValidationQueries(raw: string, roots: PathRoots): string[] {
  const text = raw.trim()
  if (!text) return []
  let sql = text
  if (/\.sql$/i.test(text) && !text.includes('\n')) sql = readQueryFile(text, roots)
  else if (/^(?:\/|\.\.?\/|~)\S*$/.test(text))
    throw refused(
      `${Inputs.ValidationQueries} "${text}" looks like a path, not SQL`,
      'give a .sql file in the workspace, or inline SQL'
    )
  const statements = sql
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.replace(/^\s*--.*$/gm, '').trim())
    .filter((statement) => statement.length > 0)
  for (const statement of statements) {
    const why = refusedQuery(statement)
    if (why)
      throw refused(
        `${Inputs.ValidationQueries}: "${statement.split('\n')[0].slice(0, 80)}" is refused: ${why}`,
        'keep validation queries to reads such as SELECT status, count(*) FROM orders GROUP BY status'
      )
  }
  return statements
}

function parseDatabases(raw: string): string[] | 'all' {
  if (!raw) return []
  if (raw === 'all') return 'all'
  return raw
    .split(/[\n,]/)
    .map((name) => name.trim())
    .filter(Boolean)
}

function parsePostgresVersion(raw: string): string | undefined {
  if (!raw) return undefined
  if (!/^\d{2}(\.\d+){0,2}$/.test(raw)) {
    throw refused(`${Inputs.PostgresVersion} is "${raw}"`, 'give a major such as 17, or a full release such as 17.9.0')
  }
  return raw
}

function parseCivo(read: InputReader): ({ civo: CivoTarget } & CivoInputs) | undefined {
  const apiKey = read.secret(Inputs.CivoApiKey)
  const database = read.text(Inputs.CivoDatabase)
  if (!apiKey && !database) return undefined
  if (!apiKey || !database)
    throw refused('civo-api-key and civo-database go together', 'set both, or give target-url instead')
  const region = read.text(Inputs.CivoRegion)
  if (!region) throw refused('civo-region is empty', 'name the region the database runs in, e.g. LON1')
  const apiUrl = read.text(Inputs.CivoApiUrl) || 'https://api.civo.com'
  if (!/^https?:\/\//.test(apiUrl) || !URL.canParse(apiUrl)) {
    throw refused(`${Inputs.CivoApiUrl} is not a URL`, 'leave it empty for https://api.civo.com')
  }
  if (!isSafeApiUrl(apiUrl))
    throw refused(
      `${Inputs.CivoApiUrl} is plain http to another machine: the API key would travel in clear`,
      'use its https:// address, or leave it empty for https://api.civo.com'
    )
  return { civo: { apiKey, database, region, apiUrl }, firewall: parseFirewall(read), create: parseCreate(read) }
}

function parseFirewall(read: InputReader): CivoInputs['firewall'] {
  if (read.choice(Inputs.CivoFirewall, ['open', 'off'] as const, 'open') === 'off') return undefined
  const runnerIp = read.text(Inputs.RunnerIp) || undefined
  if (runnerIp && !isIPv4(runnerIp))
    throw refused(`${Inputs.RunnerIp} is "${runnerIp}"`, 'give an IPv4 address such as 203.0.113.7, or leave it empty')
  const ipEchoUrl = read.text(Inputs.IpEchoUrl) || 'https://api.ipify.org'
  // Whoever could change the answer could have the firewall opened to their own address.
  if (!isSafeApiUrl(ipEchoUrl))
    throw refused(
      `${Inputs.IpEchoUrl} is not an https:// URL`,
      "give an https:// service that answers with the caller's IPv4 address, or leave it empty for https://api.ipify.org"
    )
  return { runnerIp, ipEchoUrl }
}

function parseCreate(read: InputReader): CivoInputs['create'] {
  if (!read.boolean(Inputs.CivoCreate, false)) return undefined
  const size = read.text(Inputs.CivoSize) || 'g3.db.small'
  const version = read.text(Inputs.CivoPgVersion) || undefined
  if (version && !/^\d{1,2}(\.\d+)?$/.test(version))
    throw refused(`${Inputs.CivoPgVersion} is "${version}"`, 'give a major such as 17, or leave it empty')
  // Civo takes some minutes to build a database; half an hour means something is wrong.
  return { size, version, waitSeconds: 1800 }
}

const SCOPE_INPUTS: Record<keyof ScopePatterns, Inputs> = {
  schemas: Inputs.Schemas,
  excludeSchemas: Inputs.ExcludeSchemas,
  tables: Inputs.Tables,
  excludeTables: Inputs.ExcludeTables,
  excludeTableData: Inputs.ExcludeTableData
}

/** pg_dump's filters, each input a comma or newline separated list of its patterns. */
function parseScope(read: InputReader): ScopePatterns {
  const lists = Object.entries(SCOPE_INPUTS).map(([list, input]) => [list, splitPatterns(read.text(input))])
  return Object.fromEntries(lists) as ScopePatterns
}

/** The first filter input that is set, by its action.yml name. */
function firstFilter(scope: ScopePatterns): string | undefined {
  return Object.entries(SCOPE_INPUTS).find(([list]) => scope[list as keyof ScopePatterns].length > 0)?.[1]
}

/** A restore restores the dump's own scope, recorded in its manifest; filters belong to the dump job. */
function refuseScope(read: InputReader): void {
  const scope = parseScope(read)
  if (!isScoped(scope)) return
  throw refused(
    `${firstFilter(scope)} is set in restore mode`,
    "a restore restores exactly the dump's scope, recorded in its manifest: set the filters on the job that dumps"
  )
}

/**
 * A sync publishes every table of the database from a snapshot of its own: it cannot move a part
 * (the publication and the plan's replica identity checks read the whole database), nor continue a
 * copy made from an earlier snapshot.
 */
function refuseWithSync({ scope, ifTargetNotEmpty }: { scope: ScopePatterns; ifTargetNotEmpty: string }): void {
  const given = firstFilter(scope)
  if (given)
    throw refused(
      `${Inputs.Sync}: logical is set with ${given}`,
      `a sync moves the whole database: clear ${given}, or move the part with ${Inputs.Sync}: none`
    )
  if (ifTargetNotEmpty === 'resume')
    throw refused(
      `${Inputs.Sync}: logical is set with ${Inputs.IfTargetNotEmpty}: resume`,
      `a sync starts from a snapshot of its own: run again with ${Inputs.IfTargetNotEmpty}: clean`
    )
}

/** Every input, parsed and checked once, shaped by the mode; secrets masked as they are read. */
export function getInputs(runner: ActionRunner): ActionInputs {
  const read = new InputReader(runner)
  const mode = read.choice(Inputs.Mode, MODES, 'migrate')
  const connectTimeout = read.positiveInteger(Inputs.ConnectTimeout) ?? 10
  const sourceUrl = read.secret(Inputs.SourceUrl)
  const targetUrl = read.secret(Inputs.TargetUrl)
  const civo = parseCivo(read)
  const runnerTemp = runner.env.RUNNER_TEMP || os.tmpdir()
  const roots = pathRoots(runner.env)
  const endpoint = (name: Inputs, url: string): Endpoint => parseDatabaseUrl(name, url, runner.log, connectTimeout)

  const source = (): Endpoint => {
    if (!sourceUrl)
      throw refused(
        `${Inputs.SourceUrl} is empty; mode ${mode} reads the source`,
        'pass the source database URL from a secret'
      )
    return endpoint(Inputs.SourceUrl, sourceUrl)
  }
  const target = (): TargetInput => {
    if (targetUrl) return { url: endpoint(Inputs.TargetUrl, targetUrl) }
    if (civo) return civo
    throw refused(
      `${Inputs.TargetUrl} is empty; mode ${mode} needs a target`,
      'pass the target database URL from a secret, or civo-api-key with civo-database'
    )
  }
  const run = {
    jobs: capJobs(read.positiveInteger(Inputs.Jobs) ?? Math.max(1, os.availableParallelism()), runner.log),
    connectTimeout,
    reportPath: checkReportPath(
      outputPath(
        Inputs.ReportPath,
        read.text(Inputs.ReportPath),
        path.join(runnerTemp, 'pg-migrate-report.json'),
        roots
      )
    )
  }
  const databases = parseDatabases(read.text(Inputs.Databases))
  const targetDatabase = read.text(Inputs.TargetDatabase) || undefined
  if (databases !== 'all' && databases.length > 1 && targetDatabase) {
    throw refused(
      `${Inputs.TargetDatabase} is set with several databases`,
      'each database goes to a same-named target database; drop target-database'
    )
  }
  const client = () => {
    const clientDownloadUrl = read.text(Inputs.ClientDownloadUrl) || DEFAULT_CLIENT_DOWNLOAD_URL
    if (!/\{version\}/.test(clientDownloadUrl) && !/\{major\}/.test(clientDownloadUrl)) {
      throw refused(
        `${Inputs.ClientDownloadUrl} has no {version} or {major} placeholder`,
        `use a template like ${DEFAULT_CLIENT_DOWNLOAD_URL}`
      )
    }
    return { postgresVersion: parsePostgresVersion(read.text(Inputs.PostgresVersion)), clientDownloadUrl }
  }
  const restore = () => ({
    privileges: read.choice(Inputs.Privileges, ['skip', 'keep'] as const, 'skip'),
    roles: read.choice(Inputs.Roles, ['fail', 'create-missing'] as const, 'fail'),
    ifTargetNotEmpty: read.choice(Inputs.IfTargetNotEmpty, ['fail', 'clean', 'resume'] as const, 'fail'),
    acceptSourceCode: read.boolean(Inputs.AcceptSourceCode, false)
  })
  const verify = <Level extends VerifyLevel>(levels: readonly Level[]) => ({
    verify: read.choice(Inputs.Verify, levels, levels[0]),
    validationQueries: parseValidationQueries(read.text(Inputs.ValidationQueries), roots),
    failOnMismatch: read.boolean(Inputs.FailOnMismatch, true)
  })
  const dumpPath = outputPath(
    Inputs.DumpPath,
    read.text(Inputs.DumpPath),
    path.join(runnerTemp, 'pg-migrate-dump'),
    roots
  )
  const dump = () => ({
    compression: read.choice(Inputs.Compression, ['auto', 'zstd', 'lz4', 'gzip', 'none'] as const, 'auto'),
    dumpPath
  })
  const upload = () => ({
    uploadArtifact: read.boolean(Inputs.UploadArtifact, true),
    artifactName: checkArtifactName(read.text(Inputs.ArtifactName) || undefined),
    retentionDays: checkRetentionDays(read.positiveInteger(Inputs.RetentionDays)),
    artifactRequired: read.boolean(Inputs.ArtifactRequired, false),
    encryptionKey: parseEncryptionKey(read, runner)
  })
  const sync = (copied: { scope: ScopePatterns; ifTargetNotEmpty: string }) => {
    const kind = read.choice(Inputs.Sync, ['none', 'logical'] as const, 'none')
    if (kind === 'logical') refuseWithSync(copied)
    return {
      sync: kind,
      cutover: read.choice(Inputs.Cutover, ['when-idle', 'after-catch-up'] as const, 'when-idle'),
      cutoverIdleSeconds: read.positiveInteger(Inputs.CutoverIdleSeconds) ?? 10,
      maxLagSeconds: read.positiveInteger(Inputs.MaxLagSeconds) ?? 600
    }
  }
  const levels = ['full', 'counts', 'none'] as const
  // Both live databases, and what moves between them.
  const between = () => ({
    ...run,
    source: source(),
    databases,
    scope: parseScope(read),
    target: target(),
    targetDatabase
  })
  // What migrate and plan read alike: plan is migrate's first stage on its own.
  const copy = () => ({ ...between(), ...client(), ...restore(), ...verify(levels) })
  switch (mode) {
    case 'migrate': {
      const copied = copy()
      const copyMethod = read.choice(Inputs.CopyMethod, ['auto', 'dump', 'stream'] as const, 'auto')
      return { mode, ...copied, ...dump(), copyMethod, ...upload(), ...sync(copied) }
    }
    case 'plan': {
      // The artifact too: a plain upload from a public repository is one of migrate's blockers.
      const copied = copy()
      return { mode, ...copied, ...upload(), ...sync(copied) }
    }
    case 'validate':
      return {
        mode,
        ...between(),
        privileges: restore().privileges,
        ...verify(['full', 'counts'] as const)
      }
    case 'dump': {
      const { verify: level, validationQueries } = verify(levels)
      return {
        mode,
        ...run,
        source: source(),
        databases,
        scope: parseScope(read),
        ...client(),
        ...dump(),
        ...upload(),
        verify: level,
        validationQueries
      }
    }
    case 'restore':
      refuseScope(read)
      return {
        mode,
        ...run,
        target: target(),
        targetDatabase,
        ...client(),
        ...restore(),
        dumpPath,
        artifactName: read.text(Inputs.ArtifactName) || undefined,
        artifactRunId: read.positiveInteger(Inputs.ArtifactRunId),
        githubToken: read.secret(Inputs.GithubToken),
        encryptionKey: parseEncryptionKey(read, runner),
        ...verify(levels)
      }
  }
}
