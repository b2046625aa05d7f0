import * as core from '@actions/core'
import fs from 'node:fs'
import path from 'node:path'
import type pg from 'pg'
import type { Client } from './client/install.js'
import {
  clientEnvironment,
  serverVersionNumber,
  withConnection,
  type Endpoint,
  type Passfile
} from '../pg/connection.js'
import { StageError } from '../errors.js'
import type { Privileges } from '../action/inputs.js'
import { progressReporter, runTool, tableDataDone } from './run-tool.js'
import { isUserSchema, quoteIdent, quoteLiteral } from '../pg/sql.js'

/** TOC entries a target without superuser cannot restore; the plan reports the objects behind them. */
const SUPERUSER_ONLY = /^\d+; \d+ \d+ (EVENT TRIGGER|SUBSCRIPTION|COMMENT - EXTENSION|PUBLICATION TABLE|PUBLICATION) /

export interface RestoreOptions {
  jobs: number
  privileges: Privileges
  /** True when the target login is a superuser: nothing needs skipping. */
  superuser: boolean
}

export interface RestoreResult {
  items: number
  /** TOC entries left out because the target cannot take them. */
  skipped: string[]
  seconds: number
  /** Tables loaded while pg_dump wrote them. */
  followed?: string[]
}

/**
 * Restores a directory-format dump: stops at the first error, owners and privileges skipped unless
 * kept, then ANALYZE so the new server plans queries well from the start.
 */
export async function restoreDatabase(
  client: Client,
  endpoint: Endpoint,
  dumpDir: string,
  options: RestoreOptions,
  passfile: Passfile
): Promise<RestoreResult> {
  const started = performance.now()
  const env = clientEnvironment(endpoint, passfile)
  const list = await restoreList(client, dumpDir, options, env)
  const report = progressReporter('tables restored')
  let done = 0
  await restoreEntries(client, endpoint, dumpDir, list.kept, options, env, (table) =>
    report(++done, list.dataItems, table)
  )
  return { items: list.kept.length, skipped: list.skipped, seconds: (performance.now() - started) / 1000 }
}

/** One pg_restore run over the given TOC entries, in their order: stops at the first error. */
export async function restoreEntries(
  client: Client,
  endpoint: Endpoint,
  dumpDir: string,
  entries: string[],
  options: RestoreOptions,
  env: Record<string, string>,
  onTableData?: (table: string) => void
): Promise<void> {
  const listFile = path.join(dumpDir, '..', `${path.basename(dumpDir)}.restore-list-${++listFiles}`)
  fs.writeFileSync(listFile, entries.join('\n') + '\n')
  // As a conninfo value: a bare --dbname holding "=" or starting postgresql:// is read as a connection string.
  const args = [
    `--dbname=dbname=${conninfoValue(endpoint.database)}`,
    `--jobs=${options.jobs}`,
    '--exit-on-error',
    '--no-tablespaces',
    '--verbose',
    `--use-list=${listFile}`
  ]
  if (options.privileges === 'skip') args.push('--no-owner', '--no-acl')
  try {
    await runTool(client.programs.pg_restore, [...args, dumpDir], {
      stage: 'Restore',
      env,
      onLine(line) {
        const table = tableDataDone(line, options.jobs)
        if (table) onTableData?.(table)
      }
    })
  } catch (error) {
    throw partialCopy(error)
  } finally {
    fs.rmSync(listFile, { force: true })
  }
}

let listFiles = 0

/** pg_restore stopped part way: what it wrote stays, so say how to start over. */
export function partialCopy(error: unknown): unknown {
  if (!(error instanceof StageError) || error.hint) return error
  return new StageError(
    error.stage,
    error.message,
    'the target database holds a partial copy: fix the cause, then run again with if-target-not-empty: clean'
  )
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
  client: Client,
  dumpDir: string,
  options: RestoreOptions,
  env: Record<string, string>,
  section?: 'pre-data'
): Promise<RestoreList> {
  const lines: string[] = []
  const args = section ? ['--list', `--section=${section}`, dumpDir] : ['--list', dumpDir]
  await runTool(client.programs.pg_restore, args, {
    stage: 'Restore',
    env,
    onStdout: (line) => lines.push(line)
  })
  const entries = lines.filter((line) => /^\d+;/.test(line))
  const skipped = options.superuser ? [] : entries.filter((line) => SUPERUSER_ONLY.test(line))
  const kept =
    options.privileges === 'keep'
      ? keepPrivilegesOrder(entries.filter((line) => !skipped.includes(line)))
      : entries.filter((line) => !skipped.includes(line))
  if (!section)
    for (const entry of skipped)
      core.info(`left out (needs superuser on the target): ${entry.replace(/^\d+; \d+ \d+ /, '')}`)
  const dataItems = kept.filter((line) => / TABLE DATA /.test(line)).length
  return { kept, skipped, dataItems }
}

/**
 * ANALYZE what was restored: the user's own tables only, since a plain ANALYZE as a non-superuser
 * warns about every shared catalog it may not touch.
 */
export async function analyzeTarget(endpoint: Endpoint): Promise<void> {
  await withConnection(endpoint, async (db) => {
    const { rows } = await db.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm', 'p') AND ${isUserSchema('n')} AND pg_has_role(c.relowner, 'USAGE')`
    )
    for (let start = 0; start < rows.length; start += 100) {
      await db.query(
        `ANALYZE ${rows
          .slice(start, start + 100)
          .map((r) => r.name)
          .join(', ')}`
      )
    }
  })
}

/** Creates the target database when missing, owned by the login, encoded as the source. */
export async function ensureTargetDatabase(admin: pg.Client, name: string, encoding: string): Promise<boolean> {
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
  if (rowCount) return false
  core.info(`creating target database ${name} (${encoding})`)
  await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteral(encoding)}`)
  return true
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
 * With owners kept, the login must be able to become each owner (ALTER … OWNER needs SET ROLE from
 * 16 on). It holds ADMIN on roles it created, so it can grant itself membership.
 */
export async function grantRolesToLogin(target: pg.Client, roles: string[]): Promise<void> {
  const options = (await serverVersionNumber(target)) >= 160000 ? ' WITH INHERIT TRUE, SET TRUE' : ''
  // Only roles it administers and is not yet a member of; the plan reports owners it cannot become.
  const { rows: grantable } = await target.query<{ name: string }>(
    `SELECT rolname AS name FROM pg_roles
      WHERE rolname = ANY($1) AND NOT pg_has_role(current_user, oid, 'USAGE') AND pg_has_role(current_user, oid, 'USAGE WITH ADMIN OPTION')`,
    [roles]
  )
  for (const { name } of grantable) await target.query(`GRANT ${quoteIdent(name)} TO CURRENT_USER${options}`)
}

/** Roles the dump names and the target lacks, created without login: the dump needs them to exist, not to log in. */
export async function createMissingRoles(target: pg.Client, roles: string[]): Promise<string[]> {
  const created: string[] = []
  for (const role of roles) {
    const { rowCount } = await target.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])
    if (rowCount) continue
    await target.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`)
    created.push(role)
  }
  if (created.length) core.info(`created roles NOLOGIN: ${created.join(', ')}`)
  return created
}

/** What `if-target-not-empty: clean` drops: every user schema, extension and large object. */
export async function cleanTarget(target: pg.Client): Promise<string[]> {
  const dropped: string[] = []
  const { rows: extensions } = await target.query<{ name: string }>(
    `SELECT extname AS name FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1`
  )
  for (const { name } of extensions) {
    await target.query(`DROP EXTENSION IF EXISTS ${quoteIdent(name)} CASCADE`)
    dropped.push(`extension ${name}`)
  }
  const { rows: schemas } = await target.query<{ name: string }>(
    `SELECT nspname AS name FROM pg_namespace
      WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'
      ORDER BY 1`
  )
  for (const { name } of schemas) {
    await target.query(`DROP SCHEMA ${quoteIdent(name)} CASCADE`)
    dropped.push(`schema ${name}`)
  }
  // Recreate public as initdb makes it: from 15 on, owned by the database owner, USAGE for all.
  const fifteen = (await serverVersionNumber(target)) >= 150000
  await target.query(fifteen ? 'CREATE SCHEMA public AUTHORIZATION pg_database_owner' : 'CREATE SCHEMA public')
  await target.query(fifteen ? 'GRANT USAGE ON SCHEMA public TO PUBLIC' : 'GRANT ALL ON SCHEMA public TO PUBLIC')
  const { rows: blobs } = await target.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata')
  if (blobs[0].n > 0) {
    await target.query('SELECT lo_unlink(oid) FROM pg_largeobject_metadata')
    dropped.push(`${blobs[0].n} large objects`)
  }
  core.info(`cleaned the target: dropped ${dropped.join(', ') || 'nothing'}`)
  return dropped
}
