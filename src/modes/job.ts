// One database's job, resolved once after the plan: where its rows come from and go to, where its
// dump lives, and what the target's login may do. Every step takes this value; the run's means
// (connector, client programs, stages, log, artifacts, cancellation) travel beside it, unchanged.
import path from 'node:path'
import type { DumpModeInputs, MigrateInputs, RestoreModeInputs, ValidateInputs } from '../action/inputs.js'
import type { StepLog } from '../action/runner.js'
import type { Stages } from '../action/stages.js'
import type { Manifest } from '../artifact/manifest.js'
import type { ArtifactStore } from '../artifact/store.js'
import type { Visibility } from '../artifact/visibility.js'
import type { Cancellation } from '../base/cancellation.js'
import { safeFileName } from '../base/files.js'
import type { Connector } from '../pg/connection.js'
import { withDatabase, type Endpoint } from '../pg/endpoint.js'
import type { Passfile } from '../pg/passfile.js'
import type { DatabaseJob, Plan } from '../plan/plan.js'
import { chooseCopyMethod, type CopyMethodChoice } from '../stream/choose.js'
import type { Client } from '../tools/client/install.js'
import type { ToolRunner } from '../tools/run-tool.js'

/** What a run works with, whatever its mode: the same for every database. */
export interface RunMeans {
  connector: Connector
  stages: Stages
  log: StepLog
  artifacts: ArtifactStore
  cancellation: Cancellation
  /** Who can read the artifact, the log and the summary. */
  visibility: Visibility
}

/** The installed PostgreSQL client, how its programs are run, and the file their passwords are in. */
export interface ClientPrograms {
  client: Client
  runner: ToolRunner
  passfile: Passfile
}

/** The means of a mode that runs pg_dump or pg_restore. */
export interface CopyMeans extends RunMeans {
  programs: ClientPrograms
}

/** The source database of a job: its endpoint, and its server's version. */
export interface SourceDatabase {
  /** The database itself. */
  endpoint: Endpoint
  /** e.g. 14.23, for the manifest. */
  version: string
  major: number
}

/** The target database of a job, and what its login may do there. */
export interface TargetDatabase {
  /** The database itself. */
  endpoint: Endpoint
  /** The server as the target URL names it. */
  server: Endpoint
  /**
   * Where the database is created, and the login's rights asked, before the load: the database
   * itself when the plan found it, else `maintenance`.
   */
  admin: Endpoint
  /** A database of the same server that is not this one (the URL's, else postgres): where this one is dropped from. */
  maintenance: Endpoint
  major: number
  /** Whether the target login is a superuser (what needs one is restored only then). */
  superuser: boolean
}

/** A dump made by mode: dump, checked against its manifest before the plan. */
export interface CheckedDump {
  /** The dump folder. */
  dumpFolder: string
  manifest: Manifest
}

/** What every job holds: the plan's facts about the database, and the inputs' settings. */
interface JobBase<S> {
  database: DatabaseJob
  settings: S
}

export interface MigrateJob extends JobBase<MigrateInputs> {
  source: SourceDatabase
  target: TargetDatabase
  dumpFolder: string
  /** How the rows move (stream/choose.ts), chosen once from the settings, and why. */
  copy: CopyMethodChoice
  /** The artifact the dump is uploaded as (and a resumed run downloads). */
  artifactName: string
  /** The workflow run's id (GITHUB_RUN_ID, or empty): names the sync's slot and publication. */
  workflowRunId: string
}

export interface DumpJob extends JobBase<DumpModeInputs> {
  source: SourceDatabase
  dumpFolder: string
  artifactName: string
}

export interface RestoreJob extends JobBase<RestoreModeInputs> {
  target: TargetDatabase
  dump: CheckedDump
}

export interface ValidateJob extends JobBase<ValidateInputs> {
  source: SourceDatabase
  target: TargetDatabase
}

/** The servers the inputs name, resolved (a Civo target through its API). */
export interface Servers {
  source: Endpoint
  target: Endpoint
}

/**
 * Where one database's dump goes: the folder itself, or a subfolder per database when there are
 * several, named through safeFileName: a database named `x/../../tmp` stays inside dump-path.
 */
export function dumpFolderOf(dumpPath: string, jobs: number, database: string): string {
  return jobs > 1 ? path.join(dumpPath, safeFileName(database)) : dumpPath
}

export function defaultArtifactName(database: string, runId?: string): string {
  return `pg-dump-${database.replace(/[^A-Za-z0-9._-]/g, '_')}${runId ? `-${runId}` : ''}`
}

/** The facts the plan read of both servers, as the jobs need them. */
function sourceOf(server: Endpoint, plan: Plan, database: DatabaseJob): SourceDatabase {
  return {
    endpoint: withDatabase(server, database.source),
    version: plan.source?.version ?? '',
    major: plan.source?.major ?? 0
  }
}

function targetOf(server: Endpoint, plan: Plan, database: DatabaseJob, clientMajor: number): TargetDatabase {
  const endpoint = withDatabase(server, database.target)
  const maintenance = withDatabase(server, server.database === database.target ? 'postgres' : server.database)
  return {
    endpoint,
    server,
    admin: database.targetExists ? endpoint : maintenance,
    maintenance,
    major: plan.target?.major ?? clientMajor,
    superuser: plan.target?.superuser ?? false
  }
}

export function migrateJobs(
  inputs: MigrateInputs,
  plan: Plan,
  servers: Servers,
  client: Client,
  env: NodeJS.ProcessEnv
): MigrateJob[] {
  const runId = env.GITHUB_RUN_ID ?? ''
  return plan.jobs.map((database) => ({
    database,
    settings: inputs,
    source: sourceOf(servers.source, plan, database),
    target: targetOf(servers.target, plan, database, client.major),
    dumpFolder: dumpFolderOf(inputs.dumpPath, plan.jobs.length, database.source),
    // Per database: the disk the plan found under its dump folder decides it too.
    copy: chooseCopyMethod({
      requested: inputs.copyMethod,
      uploadArtifact: inputs.uploadArtifact,
      sync: inputs.sync,
      compression: inputs.compression,
      disk: database.disk
    }),
    artifactName: inputs.artifactName ?? defaultArtifactName(database.source, runId || undefined),
    workflowRunId: runId
  }))
}

export function dumpJobs(inputs: DumpModeInputs, plan: Plan, source: Endpoint, env: NodeJS.ProcessEnv): DumpJob[] {
  return plan.jobs.map((database) => ({
    database,
    settings: inputs,
    source: sourceOf(source, plan, database),
    dumpFolder: dumpFolderOf(inputs.dumpPath, plan.jobs.length, database.source),
    artifactName: inputs.artifactName ?? defaultArtifactName(database.source, env.GITHUB_RUN_ID)
  }))
}

export function restoreJobs(
  inputs: RestoreModeInputs,
  plan: Plan,
  target: Endpoint,
  client: Client,
  dump: CheckedDump
): RestoreJob[] {
  return plan.jobs.map((database) => ({
    database,
    settings: inputs,
    target: targetOf(target, plan, database, client.major),
    dump
  }))
}

export function validateJobs(inputs: ValidateInputs, plan: Plan, servers: Servers): ValidateJob[] {
  return plan.jobs.map((database) => ({
    database,
    settings: inputs,
    source: sourceOf(servers.source, plan, database),
    target: targetOf(servers.target, plan, database, plan.target?.major ?? 0)
  }))
}
