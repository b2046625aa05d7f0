import os from 'node:os'
import path from 'node:path'
import { parseAgeKey, type AgeKey } from '../artifact/encryption.js'
import { parseDatabaseUrl, type Endpoint } from '../pg/endpoint.js'
import type { ScopePatterns } from '../scope/types.js'
import type { CivoTarget } from '../targets/civo.js'
import { refusedQuery } from '../verify/fingerprint/query-guard.js'
import { parseCivo } from './civo-inputs.js'
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
import { InputReader, refused } from './input-reader.js'
import {
  DEFAULT_CLIENT_DOWNLOAD_URL,
  Inputs,
  MODES,
  type ActionInputs,
  type CivoInputs,
  type Mode,
  type TargetInput,
  type VerifyLevel
} from './inputs.js'
import type { ActionRunner } from './runner.js'
import { parseScope, refuseScope, refuseWithSync } from './scope-inputs.js'

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

/**
 * The inputs each mode combines. Those every mode reads are read at once, in this order, so the
 * first input refused is the same whatever the mode; the groups are read only by the modes that
 * take them, in the order each mode names them.
 */
class ModeInputs {
  private readonly connectTimeout: number
  private readonly sourceUrl: string | undefined
  private readonly targetUrl: string | undefined
  private readonly civo: ({ civo: CivoTarget } & CivoInputs) | undefined
  private readonly roots: PathRoots
  readonly run: { jobs: number; connectTimeout: number; reportPath: string }
  readonly databases: string[] | 'all'
  readonly targetDatabase: string | undefined
  readonly dumpPath: string

  constructor(
    private readonly read: InputReader,
    private readonly runner: ActionRunner,
    private readonly mode: Mode
  ) {
    this.connectTimeout = read.positiveInteger(Inputs.ConnectTimeout) ?? 10
    this.sourceUrl = read.secret(Inputs.SourceUrl)
    this.targetUrl = read.secret(Inputs.TargetUrl)
    this.civo = parseCivo(read)
    const runnerTemp = runner.env.RUNNER_TEMP || os.tmpdir()
    this.roots = pathRoots(runner.env)
    this.run = {
      jobs: capJobs(read.positiveInteger(Inputs.Jobs) ?? Math.max(1, os.availableParallelism()), runner.log),
      connectTimeout: this.connectTimeout,
      reportPath: checkReportPath(
        outputPath(
          Inputs.ReportPath,
          read.text(Inputs.ReportPath),
          path.join(runnerTemp, 'pg-migrate-report.json'),
          this.roots
        )
      )
    }
    this.databases = parseDatabases(read.text(Inputs.Databases))
    this.targetDatabase = read.text(Inputs.TargetDatabase) || undefined
    if (this.databases !== 'all' && this.databases.length > 1 && this.targetDatabase) {
      throw refused(
        `${Inputs.TargetDatabase} is set with several databases`,
        'each database goes to a same-named target database; drop target-database'
      )
    }
    this.dumpPath = outputPath(
      Inputs.DumpPath,
      read.text(Inputs.DumpPath),
      path.join(runnerTemp, 'pg-migrate-dump'),
      this.roots
    )
  }

  private endpoint(name: Inputs, url: string): Endpoint {
    return parseDatabaseUrl(name, url, this.runner.log, this.connectTimeout)
  }

  source(): Endpoint {
    if (!this.sourceUrl)
      throw refused(
        `${Inputs.SourceUrl} is empty; mode ${this.mode} reads the source`,
        'pass the source database URL from a secret'
      )
    return this.endpoint(Inputs.SourceUrl, this.sourceUrl)
  }

  target(): TargetInput {
    if (this.targetUrl) return { url: this.endpoint(Inputs.TargetUrl, this.targetUrl) }
    if (this.civo) return this.civo
    throw refused(
      `${Inputs.TargetUrl} is empty; mode ${this.mode} needs a target`,
      'pass the target database URL from a secret, or civo-api-key with civo-database'
    )
  }

  client() {
    const clientDownloadUrl = this.read.text(Inputs.ClientDownloadUrl) || DEFAULT_CLIENT_DOWNLOAD_URL
    if (!/\{version\}/.test(clientDownloadUrl) && !/\{major\}/.test(clientDownloadUrl)) {
      throw refused(
        `${Inputs.ClientDownloadUrl} has no {version} or {major} placeholder`,
        `use a template like ${DEFAULT_CLIENT_DOWNLOAD_URL}`
      )
    }
    return { postgresVersion: parsePostgresVersion(this.read.text(Inputs.PostgresVersion)), clientDownloadUrl }
  }

  restore() {
    return {
      privileges: this.read.choice(Inputs.Privileges, ['skip', 'keep'] as const, 'skip'),
      roles: this.read.choice(Inputs.Roles, ['fail', 'create-missing'] as const, 'fail'),
      ifTargetNotEmpty: this.read.choice(Inputs.IfTargetNotEmpty, ['fail', 'clean', 'resume'] as const, 'fail'),
      acceptSourceCode: this.read.boolean(Inputs.AcceptSourceCode, false)
    }
  }

  verify<Level extends VerifyLevel>(levels: readonly Level[]) {
    return {
      verify: this.read.choice(Inputs.Verify, levels, levels[0]),
      validationQueries: parseValidationQueries(this.read.text(Inputs.ValidationQueries), this.roots),
      failOnMismatch: this.read.boolean(Inputs.FailOnMismatch, true)
    }
  }

  dump() {
    return {
      compression: this.read.choice(Inputs.Compression, ['auto', 'zstd', 'lz4', 'gzip', 'none'] as const, 'auto'),
      dumpPath: this.dumpPath
    }
  }

  upload() {
    return {
      uploadArtifact: this.read.boolean(Inputs.UploadArtifact, true),
      artifactName: checkArtifactName(this.read.text(Inputs.ArtifactName) || undefined),
      retentionDays: checkRetentionDays(this.read.positiveInteger(Inputs.RetentionDays)),
      artifactRequired: this.read.boolean(Inputs.ArtifactRequired, false),
      encryptionKey: parseEncryptionKey(this.read, this.runner)
    }
  }

  sync(copied: { scope: ScopePatterns; ifTargetNotEmpty: string }) {
    const kind = this.read.choice(Inputs.Sync, ['none', 'logical'] as const, 'none')
    if (kind === 'logical') refuseWithSync(copied)
    return {
      sync: kind,
      cutover: this.read.choice(Inputs.Cutover, ['when-idle', 'after-catch-up'] as const, 'when-idle'),
      cutoverIdleSeconds: this.read.positiveInteger(Inputs.CutoverIdleSeconds) ?? 10,
      maxLagSeconds: this.read.positiveInteger(Inputs.MaxLagSeconds) ?? 600
    }
  }

  /** Both live databases, and what moves between them. */
  between() {
    return {
      ...this.run,
      source: this.source(),
      databases: this.databases,
      scope: parseScope(this.read),
      target: this.target(),
      targetDatabase: this.targetDatabase
    }
  }

  /** What migrate and plan read alike: plan is migrate's first stage on its own. */
  copy() {
    return { ...this.between(), ...this.client(), ...this.restore(), ...this.verify(VERIFY_LEVELS) }
  }
}

const VERIFY_LEVELS = ['full', 'counts', 'none'] as const

/** Every input, parsed and checked once, shaped by the mode; secrets masked as they are read. */
export function getInputs(runner: ActionRunner): ActionInputs {
  const read = new InputReader(runner)
  const mode = read.choice(Inputs.Mode, MODES, 'migrate')
  const given = new ModeInputs(read, runner, mode)
  switch (mode) {
    case 'migrate': {
      const copied = given.copy()
      const copyMethod = read.choice(Inputs.CopyMethod, ['auto', 'dump', 'stream'] as const, 'auto')
      return { mode, ...copied, ...given.dump(), copyMethod, ...given.upload(), ...given.sync(copied) }
    }
    case 'plan': {
      // The artifact too: a plain upload from a public repository is one of migrate's blockers.
      const copied = given.copy()
      return { mode, ...copied, ...given.upload(), ...given.sync(copied) }
    }
    case 'validate':
      return {
        mode,
        ...given.between(),
        privileges: given.restore().privileges,
        ...given.verify(['full', 'counts'] as const)
      }
    case 'dump': {
      const { verify: level, validationQueries } = given.verify(VERIFY_LEVELS)
      return {
        mode,
        ...given.run,
        source: given.source(),
        databases: given.databases,
        scope: parseScope(read),
        ...given.client(),
        ...given.dump(),
        ...given.upload(),
        verify: level,
        validationQueries
      }
    }
    case 'restore':
      refuseScope(read)
      return {
        mode,
        ...given.run,
        target: given.target(),
        targetDatabase: given.targetDatabase,
        ...given.client(),
        ...given.restore(),
        dumpPath: given.dumpPath,
        artifactName: read.text(Inputs.ArtifactName) || undefined,
        artifactRunId: read.positiveInteger(Inputs.ArtifactRunId),
        githubToken: read.secret(Inputs.GithubToken),
        encryptionKey: parseEncryptionKey(read, runner),
        ...given.verify(VERIFY_LEVELS)
      }
  }
}
