import fs from 'node:fs'
import path from 'node:path'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import type { Endpoint } from '../pg/endpoint.js'
import { clientEnvironment, type Passfile } from '../pg/passfile.js'
import type { Client } from './client/install.js'
import { progressReporter, tableDataDone, type ToolRunner } from './run-tool.js'

/** TOC entries a target without superuser cannot restore; the plan reports the objects behind them. */
const SUPERUSER_ONLY = /^\d+; \d+ \d+ (EVENT TRIGGER|SUBSCRIPTION|COMMENT - EXTENSION|PUBLICATION TABLE|PUBLICATION) /

export interface RestoreOptions {
  jobs: number
  /** `skip` restores with --no-owner --no-acl; `keep` restores owners and grants. */
  privileges: 'skip' | 'keep'
  /** True when the target login is a superuser: nothing needs skipping. */
  superuser: boolean
  /** TOC entries left for the caller to restore later: a sync creates triggers only at cutover. */
  holdBack?: RegExp
  /** The target cannot take planner statistics (before 18: no pg_restore_relation_stats): a dump's are left out. */
  noStatistics?: boolean
}

/** The planner statistics pg_dump 18 --statistics writes. */
const STATISTICS_DATA = /^\d+; \d+ \d+ STATISTICS DATA /

/** Triggers and rules, and comments on them: held back while a sync replays the source's changes, so none fires twice. */
export const TRIGGERS_AND_RULES = /^\d+; \d+ \d+ (?:COMMENT \S+ )?(?:TRIGGER|RULE) /

/** What pg_restore needs to run against one target database. */
export interface Restorer {
  client: Client
  tools: ToolRunner
  log: Log
  endpoint: Endpoint
  /**
   * The target login, when `endpoint` is the run's restore role: it restores the public schema's
   * comment and grants, which need that schema's owner and evaluate nothing.
   */
  login?: Endpoint
  passfile: Passfile
  dumpDir: string
  options: RestoreOptions
  /** Sees every line pg_restore logs (--verbose), e.g. to time the index builds. */
  onLine?: (line: string) => void
}

export interface RestoreResult {
  items: number
  /** TOC entries left out because the target cannot take them. */
  skipped: string[]
  seconds: number
  /** Tables loaded while pg_dump wrote them. */
  followed?: string[]
}

/** Restores a whole directory-format dump, stopping at the first error. */
export async function restoreDatabase(restorer: Restorer): Promise<RestoreResult> {
  const started = performance.now()
  const list = await restoreList(restorer)
  const report = progressReporter(restorer.log, 'tables restored')
  let done = 0
  await restoreEntries(restorer, list.kept, (table) => report(++done, list.dataItems, table))
  return { items: list.kept.length, skipped: list.skipped, seconds: (performance.now() - started) / 1000 }
}

let listFiles = 0

/**
 * The public schema's comment and grants: only its owner (the database owner, from 15 on) may set them.
 * The name is quoted when pg_dump runs with --quote-all-identifiers, as the action's dumps do.
 */
const PUBLIC_SCHEMA_AS_OWNER = /^\d+; \d+ \d+ (?:ACL|COMMENT) - SCHEMA (?:public|"public") /

/** pg_restore --verbose starting an index, or a constraint that builds one or scans a table (post-data). */
const INDEX_BUILD = /^pg_restore: creating (?:INDEX|CONSTRAINT|FK CONSTRAINT) /

/** Calls `start` once, when the restore begins to build indexes: the Build indexes stage starts there. */
export function onIndexBuildsStart(restorer: Restorer, start: () => void): void {
  const before = restorer.onLine
  let started = false
  restorer.onLine = (line) => {
    before?.(line)
    if (started || !INDEX_BUILD.test(line)) return
    started = true
    start()
  }
}

/** Triggers, and comments on them. */
const TRIGGER_ENTRY = /^\d+; \d+ \d+ (?:COMMENT \S+ )?TRIGGER /

/**
 * pg_restore over the given TOC entries, in their order: stops at the first error. In parallel,
 * triggers come in a run of their own once every row is in: the dump makes a trigger on a
 * partitioned table depend on the table, not on its partitions' rows, so a parallel pg_restore may
 * create it while a partition still loads, and it fires for each row loaded after (seen: an audit
 * trigger's table grew by one partition's rows).
 */
export async function restoreEntries(
  restorer: Restorer,
  all: string[],
  onTableData?: (table: string) => void,
  jobs = restorer.options.jobs
): Promise<void> {
  const asLogin = restorer.login ? all.filter((line) => PUBLIC_SCHEMA_AS_OWNER.test(line)) : []
  if (restorer.login && asLogin.length > 0)
    await runPgRestore({ ...restorer, endpoint: restorer.login }, asLogin, undefined, 1)
  const entries = all.filter((line) => !asLogin.includes(line))
  const triggers = jobs > 1 ? entries.filter((line) => TRIGGER_ENTRY.test(line)) : []
  if (triggers.length === 0 || !entries.some((line) => / TABLE DATA /.test(line)))
    return runPgRestore(restorer, entries, onTableData, jobs)
  await runPgRestore(
    restorer,
    entries.filter((line) => !TRIGGER_ENTRY.test(line)),
    onTableData,
    jobs
  )
  await runPgRestore(restorer, triggers, undefined, jobs)
}

async function runPgRestore(
  restorer: Restorer,
  entries: string[],
  onTableData: ((table: string) => void) | undefined,
  jobs: number
): Promise<void> {
  const { client, tools, endpoint, passfile, dumpDir, options } = restorer
  // In the run's private folder (the passfile's, in RUNNER_TEMP): not in the dump, which is
  // checked and uploaded as it is, nor beside it, in a folder the user chose for something else.
  const listFile = path.join(path.dirname(passfile.path), `restore-list-${++listFiles}`)
  fs.writeFileSync(listFile, entries.join('\n') + '\n')
  // As a conninfo value: a bare --dbname holding "=" or starting postgresql:// is read as a connection string.
  const args = [
    `--dbname=dbname=${conninfoValue(endpoint.database)}`,
    `--jobs=${jobs}`,
    '--exit-on-error',
    '--no-tablespaces',
    '--verbose',
    `--use-list=${listFile}`
  ]
  if (options.privileges === 'skip') args.push('--no-owner', '--no-acl')
  try {
    await tools.run(client.programs.pg_restore, [...args, dumpDir], {
      env: clientEnvironment(endpoint, passfile),
      onLine(line) {
        restorer.onLine?.(line)
        const table = tableDataDone(line, jobs)
        if (table) onTableData?.(table)
      }
    })
  } catch (error) {
    throw partialCopy(error)
  } finally {
    fs.rmSync(listFile, { force: true })
  }
}

/** pg_restore stopped part way: what it wrote stays, and the fix is to start over on a clean target. */
export function partialCopy(error: unknown): unknown {
  if (!(error instanceof MigrationError) || error.kind !== 'tool-failed') return error
  const partial = new MigrationError('partial-copy', error.message)
  partial.stack = error.stack
  return partial
}

/** A value in libpq's key=value syntax: single-quoted, backslash and quote escaped. */
export function conninfoValue(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`
}

export interface RestoreList {
  /** TOC entries to restore, in the order to restore them. */
  kept: string[]
  /** TOC entries left out because the target cannot take them. */
  skipped: string[]
  /** How many of the kept entries are table data. */
  dataItems: number
}

/** The dump's table of contents, less what the target cannot take, in restore order. */
export async function restoreList(
  restorer: Restorer,
  section?: 'pre-data',
  { quiet = false }: { quiet?: boolean } = {}
): Promise<RestoreList> {
  const { client, tools, log, endpoint, passfile, dumpDir, options } = restorer
  const lines: string[] = []
  const args = section ? ['--list', `--section=${section}`, dumpDir] : ['--list', dumpDir]
  await tools.run(client.programs.pg_restore, args, {
    env: clientEnvironment(endpoint, passfile),
    onStdout: (line) => lines.push(line)
  })
  const entries = lines.filter(
    (line) =>
      /^\d+;/.test(line) && !options.holdBack?.test(line) && !(options.noStatistics && STATISTICS_DATA.test(line))
  )
  const skipped = options.superuser ? [] : entries.filter((line) => SUPERUSER_ONLY.test(line))
  const restorable = entries.filter((line) => !skipped.includes(line))
  const kept = options.privileges === 'keep' ? keepPrivilegesOrder(restorable) : restorable
  if (!section && !quiet)
    for (const entry of skipped)
      log.info(`left out (needs superuser on the target): ${entry.replace(/^\d+; \d+ \d+ /, '')}`)
  const dataItems = kept.filter((line) => / TABLE DATA /.test(line)).length
  return { kept, skipped, dataItems }
}

/**
 * With owners kept, a new owner needs CREATE on its schema before `ALTER … OWNER`, and the schema
 * grants normally come last: restore them right after the schemas. The public schema entry only
 * carries `ALTER SCHEMA public OWNER TO` the source's superuser, which a managed target refuses.
 */
function keepPrivilegesOrder(entries: string[]): string[] {
  const isSchema = (line: string): boolean => / SCHEMA - /.test(line) && !/ ACL /.test(line) && !/ COMMENT /.test(line)
  const schemaAcls = entries.filter((line) => / ACL - SCHEMA /.test(line))
  const rest = entries.filter((line) => !schemaAcls.includes(line) && !/ SCHEMA - public /.test(line))
  const lastSchema = rest.reduce((last, line, index) => (isSchema(line) ? index : last), -1)
  return [...rest.slice(0, lastSchema + 1), ...schemaAcls, ...rest.slice(lastSchema + 1)]
}

/**
 * The roles that own the dump's objects: the last field of each object's entry in its table of
 * contents. Those of other entries may be names too; the caller keeps only existing roles.
 */
export async function dumpOwners(restorer: Restorer): Promise<string[]> {
  // The whole list: large objects' owners stand in the data section (BLOB METADATA, from 17 on).
  const { kept } = await restoreList(restorer, undefined, { quiet: true })
  const owners = kept.flatMap((line) => /^\d+; [1-9]\d* \d+ .* (\S+)$/.exec(line)?.slice(1) ?? [])
  return [...new Set(owners)]
}
