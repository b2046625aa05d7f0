import type { Endpoint } from '../pg/endpoint.js'
import type { RunMarker } from '../pg/run-marker.js'
import type { ResolvedScope, ScopePatterns } from '../scope/types.js'
import type { ClientRequirement } from '../tools/client/version-policy.js'
import type { DiskNeeds, DiskRequest } from './disk.js'
import type { Finding } from './findings.js'

/** How the run treats what it finds on the target. */
export interface TargetRules {
  /**
   * `clean`: a target database holding objects is emptied first; `fail`: it is a blocker;
   * `resume`: a run of this action that ended early there is continued.
   */
  ifTargetNotEmpty: 'fail' | 'clean' | 'resume'
  /** `skip` restores with --no-owner --no-acl; `keep` restores owners and grants. */
  privileges: 'skip' | 'keep'
  /** What happens to roles the dump names that the target lacks. */
  roles: 'fail' | 'create-missing'
  /** True: the restore runs as the target login, trusting the source's code with its rights. */
  acceptSourceCode?: boolean
  /** The user's validation queries, run on both sides after the restore. */
  validationQueries: string[]
}

export interface ServerFacts {
  /** e.g. 14.23 */
  version: string
  major: number
  superuser: boolean
  createdb: boolean
}

/** One database to move or compare: where from, where to, and what the plan found about it. */
export interface DatabaseJob {
  /** Source database name. */
  source: string
  /** Target database name. */
  target: string
  targetExists: boolean
  /** User objects already in the target database (empty when it is empty). */
  targetObjects: string[]
  /**
   * Extensions the dump needs that the target database already has, in the source's schema (made
   * by a provider or a superuser, as the plan's hint asks): expected, kept by a clean, skipped by
   * the dump's CREATE EXTENSION IF NOT EXISTS.
   */
  installedExtensions?: string[]
  encoding: string
  findings: Finding[]
  /** What moves, when filters are given; absent: the whole database. */
  scope?: ResolvedScope
  /** Names this job's dump and the target loaded from it: a resumed run must find the same. */
  runId: string
  /** The unfinished run the target database carries, when this run resumes it. */
  resume?: RunMarker
  /** migrate: what the dump folder would need each way the rows can move, and what is free there. */
  disk?: DiskNeeds
}

export interface Plan {
  source?: ServerFacts
  target?: ServerFacts
  /** The client to install; absent when nothing runs pg_dump or pg_restore (validate). */
  client?: ClientRequirement
  jobs: DatabaseJob[]
}

/** What a dump's manifest says of its source, when there is no live source to ask (restore). */
export interface DumpedSource {
  database: string
  encoding: string
  sourceVersion: string
  /** Extensions the dump creates. */
  extensions: string[]
  /** The run that made the dump (absent in dumps of older versions). */
  runId?: string
  /** What the dump holds, when it was made with filters. */
  scope?: ResolvedScope
}

/** What to plan. `copy`: the target will be written; `compare`: both sides are read (validate). */
export interface PlanRequest extends TargetRules {
  purpose: 'copy' | 'compare'
  source?: Endpoint
  target?: Endpoint
  /** Restore mode: the dump instead of a live source. */
  dumped?: DumpedSource
  /** The source URL's own database, a list, or every connectable one. */
  databases: string[] | 'all'
  /** Target database name for a single database when it differs from the source's. */
  targetDatabase?: string
  /** The database the target URL names, when it names the target database (a Civo target names none). */
  targetUrlDatabase?: string
  /** A requested client version (17 or 17.9.0). */
  clientVersion?: string
  /** `logical`: the copy is kept in step with the source until cutover; the plan checks what that needs. */
  sync?: 'none' | 'logical'
  /** pg_dump's filters: what moves. */
  scope?: ScopePatterns
  /** migrate: the dump folder and how the rows may move; the plan weighs the disk against them. */
  disk?: DiskRequest
}
