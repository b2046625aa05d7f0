import type pg from 'pg'
import type { ScopeSql } from '../../scope/sql.js'
import type { Severity } from '../findings.js'

/** What a probe may look at. Both clients must be outside a transaction: some probes open their own, read only. */
export interface ProbeContext {
  /** The source database the dump is taken from. */
  source: pg.Client
  /** The target database (or the target server's maintenance database when the target database does not exist yet). */
  target?: pg.Client
  /** The target database's name, which may not exist yet; absent: the database `target` is connected to. */
  targetDatabase?: string
  sourceMajor: number
  targetMajor: number
  /** True when the target login is a superuser: then nothing is out of its reach. */
  targetIsSuperuser: boolean
  /** `skip` restores with --no-owner --no-acl; `keep` restores owners and grants. */
  privileges: 'skip' | 'keep'
  /** What happens to roles the dump names that the target lacks. */
  roles: 'fail' | 'create-missing'
  /** True: the restore runs as the target login; otherwise as the run's restore role (pg/restore-role.ts). */
  acceptSourceCode?: boolean
  /** The user's validation queries, run on both sides after the restore. */
  validationQueries: string[]
  /** `logical`: the source must be able to stream its changes until cutover. */
  sync?: 'none' | 'logical'
  /**
   * What moves, as SQL conditions: every query that lists source objects keeps only those the
   * dump will hold, so the plan checks only what will move (all `true` without filters).
   */
  scope: ScopeSql
}

/**
 * One rule, as data: what it looks for, how bad it is, and what to do about it. `find` is read only
 * and returns the affected objects by qualified, quoted-where-needed name; nothing found, no finding.
 */
export interface Probe {
  /** Stable identifier, e.g. `pg15-public-schema-create`. */
  id: string
  severity: Severity | ((ctx: ProbeContext) => Severity)
  /** A version-crossing rule: runs only when sourceMajor < crossing <= targetMajor. Absent: always. */
  appliesTo?: { crossing: number }
  /** Where the rule comes from, e.g. a release-notes section. */
  reference?: string
  hint: string | ((ctx: ProbeContext, objects: string[]) => string)
  message: (objects: string[], ctx: ProbeContext) => string
  find: (ctx: ProbeContext) => Promise<string[]>
}
