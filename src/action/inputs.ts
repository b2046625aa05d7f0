import type { AgeKey } from '../artifact/encryption.js'
import type { Endpoint } from '../pg/endpoint.js'
import type { ScopePatterns } from '../scope/types.js'
import type { CivoTarget } from '../targets/civo.js'
import type { CivoCreate } from '../targets/civo-create.js'
import type { CopyMethod } from '../stream/choose.js'
import type { Compression } from '../tools/pg-dump.js'

/** The action's inputs by their action.yml names. */
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
  CopyMethod = 'copy-method',
  Privileges = 'privileges',
  Roles = 'roles',
  AcceptSourceCode = 'accept-source-code',
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
  ArtifactEncryptionKey = 'artifact-encryption-key',
  GithubToken = 'github-token',
  CivoApiKey = 'civo-api-key',
  CivoDatabase = 'civo-database',
  CivoRegion = 'civo-region',
  CivoApiUrl = 'civo-api-url',
  CivoFirewall = 'civo-firewall',
  RunnerIp = 'runner-ip',
  IpEchoUrl = 'ip-echo-url',
  CivoCreate = 'civo-create',
  CivoSize = 'civo-size',
  CivoPgVersion = 'civo-pg-version',
  Sync = 'sync',
  Cutover = 'cutover',
  CutoverIdleSeconds = 'cutover-idle-seconds',
  MaxLagSeconds = 'max-lag-seconds',
  // What moves: pg_dump's filters.
  Schemas = 'schemas',
  ExcludeSchemas = 'exclude-schemas',
  Tables = 'tables',
  ExcludeTables = 'exclude-tables',
  ExcludeTableData = 'exclude-table-data'
}

export const MODES = ['migrate', 'plan', 'validate', 'dump', 'restore'] as const
export type Mode = (typeof MODES)[number]
export type VerifyLevel = 'full' | 'counts' | 'none'

/** What every mode takes. */
interface RunInputs {
  /** Parallel jobs for dump, restore and checksums. */
  jobs: number
  /** Seconds to wait for each connection. */
  connectTimeout: number
  /** Where the JSON report goes. */
  reportPath: string
}

/** The database to read from. */
interface SourceInputs {
  source: Endpoint
  /** Databases to move: the source URL's own (empty list), a list, or every connectable one ('all'). */
  databases: string[] | 'all'
}

/** Where the target comes from: a URL, or the Civo API (resolved before the plan). */
export type TargetInput = { url: Endpoint } | ({ civo: CivoTarget } & CivoInputs)

/** What the action may do through the Civo API besides finding the target. */
export interface CivoInputs {
  /** Admit this runner through the database's firewall for the run; undefined: civo-firewall off. */
  firewall?: { runnerIp?: string; ipEchoUrl: string }
  /** Create the database when it does not exist. */
  create?: CivoCreate
}

interface TargetInputs {
  target: TargetInput
  /** Target database name when it differs from the source's (single-database runs). */
  targetDatabase?: string
}

interface ClientInputs {
  /** Exact client version (17 or 17.9.0); undefined means the target's major. */
  postgresVersion?: string
  /** Where the client tarball comes from; placeholders {version}, {major}, {target}. */
  clientDownloadUrl: string
}

/** How the target is written. */
interface RestoreInputs {
  /** `skip`: --no-owner --no-acl; `keep`: owners and grants restored (roles must exist). */
  privileges: 'skip' | 'keep'
  /** `create-missing`: roles the dump names are created NOLOGIN first. */
  roles: 'fail' | 'create-missing'
  /**
   * `clean`: a target holding objects is emptied first. `resume`: a run that ended early into this
   * target is continued from its dump; an empty target starts afresh.
   */
  ifTargetNotEmpty: 'fail' | 'clean' | 'resume'
  /**
   * When true, the restore runs as the target login, as pg_restore alone would: functions the source
   * defined (constraints, indexes, generated columns…) run with its rights. Otherwise a role of the
   * run's own, without rights, runs them (pg/restore-role.ts).
   */
  acceptSourceCode: boolean
}

/** What moves: pg_dump's -n, -N, -t, -T and --exclude-table-data patterns; all empty, everything. */
interface ScopeInputs {
  scope: ScopePatterns
}

interface DumpInputs {
  compression: Compression
  /** Folder for the dump (one subfolder per database). */
  dumpPath: string
}

interface CopyInputs {
  /** How migrate copies the rows: `auto` streams them when no artifact is wanted (stream/choose.ts). */
  copyMethod: CopyMethod
}

interface UploadInputs {
  uploadArtifact: boolean
  /** Artifact name; default derived from the database and the run id. */
  artifactName?: string
  retentionDays?: number
  /** When true, a failed upload fails the step; otherwise it is a warning. */
  artifactRequired: boolean
  /** The age key the artifact is encrypted to; absent: uploaded as it is. */
  encryptionKey?: AgeKey
}

interface VerifyInputs<Level extends VerifyLevel = VerifyLevel> {
  verify: Level
  /** SQL statements run on both sides whose results must be equal. */
  validationQueries: string[]
  /** When false, differences are reported but the step does not fail. */
  failOnMismatch: boolean
}

/** Keeping the target in step with a source that is still written to, then cutting over (docs/zero-downtime.md). */
export interface SyncInputs {
  /** `logical`: replay the source's changes from a logical replication slot until cutover; `none`: copy the snapshot only. */
  sync: 'none' | 'logical'
  /** `when-idle`: once caught up and the source has not written for cutoverIdleSeconds; `after-catch-up`: the first time the lag is zero. */
  cutover: 'when-idle' | 'after-catch-up'
  /** Seconds without a source write to the migrated tables that mean the application has stopped writing. */
  cutoverIdleSeconds: number
  /** Seconds the lag may keep from coming down before the run fails. */
  maxLagSeconds: number
}

/** Restore mode's dump: a folder, or an artifact to download into it. */
interface DumpSourceInputs {
  dumpPath: string
  artifactName?: string
  /** Download the dump from another run's artifact. */
  artifactRunId?: number
  githubToken?: string
  /** The age secret key an encrypted dump is opened with. */
  encryptionKey?: AgeKey
}

/** migrate: plan, install, dump, upload, restore, verify. */
export type MigrateInputs = { mode: 'migrate' } & RunInputs &
  SourceInputs &
  ScopeInputs &
  TargetInputs &
  ClientInputs &
  RestoreInputs &
  DumpInputs &
  CopyInputs &
  UploadInputs &
  VerifyInputs &
  SyncInputs

/** plan: the migrate plan, read only; with sync, also what a sync needs of the source. */
export type PlanInputs = { mode: 'plan' } & RunInputs &
  SourceInputs &
  ScopeInputs &
  TargetInputs &
  ClientInputs &
  RestoreInputs &
  UploadInputs &
  VerifyInputs &
  SyncInputs

/** validate: both live databases compared; `none` is not a level here. */
export type ValidateInputs = { mode: 'validate' } & RunInputs &
  SourceInputs &
  ScopeInputs &
  TargetInputs &
  Pick<RestoreInputs, 'privileges'> &
  VerifyInputs<'full' | 'counts'>

/** dump: the source side only; the fingerprint goes into the manifest. */
export type DumpModeInputs = { mode: 'dump' } & RunInputs &
  SourceInputs &
  ScopeInputs &
  ClientInputs &
  DumpInputs &
  UploadInputs &
  Pick<VerifyInputs, 'verify' | 'validationQueries'>

/** restore: a dump made by mode: dump into the target, verified against its manifest. */
export type RestoreModeInputs = { mode: 'restore' } & RunInputs &
  TargetInputs &
  ClientInputs &
  RestoreInputs &
  DumpSourceInputs &
  VerifyInputs

/** Every input, parsed and checked once, shaped by the mode. Nothing else reads the raw inputs. */
export type ActionInputs = MigrateInputs | PlanInputs | ValidateInputs | DumpModeInputs | RestoreModeInputs

export const DEFAULT_CLIENT_DOWNLOAD_URL =
  'https://github.com/theseus-rs/postgresql-binaries/releases/download/{version}/postgresql-{version}-{target}.tar.gz'

/** Inputs that hold passwords or tokens. */
export const SECRET_INPUTS = [
  Inputs.SourceUrl,
  Inputs.TargetUrl,
  Inputs.GithubToken,
  Inputs.CivoApiKey,
  Inputs.ArtifactEncryptionKey
]
