// pg_dump and pg_restore as the action runs them, for the ground truth: the dump with the action's
// options, its table of contents, and a restore that goes on after errors and says which TOC entry
// each error came from.
import fs from 'node:fs'
import path from 'node:path'
import { run, runOk } from './tools.js'

/**
 * TOC entries the action leaves out when the target login is not a superuser. Mirrors SUPERUSER_ONLY
 * in src/restore.ts: keep the two in step.
 */
export const SUPERUSER_ONLY =
  /^\d+; \d+ \d+ (EVENT TRIGGER|SUBSCRIPTION|COMMENT - EXTENSION|PUBLICATION TABLE|PUBLICATION) /

/**
 * @typedef {{ line: string, dumpId: number, tableoid: number, oid: number, what: string }} TocEntry
 * `what` is the line after the ids: "DESC namespace tag owner".
 * @typedef {{ entry: TocEntry | undefined, errors: string[] }} RestoreFailure
 */

/** pg_dump's options in the action (src/dump.ts), without the snapshot: nothing writes to the source here. */
export function dumpOptions(clientMajor, jobs) {
  return [
    '--format=directory',
    `--jobs=${jobs}`,
    `--compress=${clientMajor >= 16 ? 'zstd:1' : 'gzip:1'}`,
    '--no-subscriptions',
    '--verbose'
  ]
}

/** @param {{ bin: string, clientMajor: number, jobs: number, env: Record<string, string>, database: string, dir: string }} o */
export async function dump({ bin, clientMajor, jobs, env, database, dir }) {
  fs.rmSync(dir, { recursive: true, force: true })
  await runOk(path.join(bin, 'pg_dump'), [...dumpOptions(clientMajor, jobs), `--file=${dir}`], {
    env: { ...env, PGDATABASE: database }
  })
}

/** @param {string} bin @param {string} dir @returns {Promise<TocEntry[]>} */
export async function tocEntries(bin, dir) {
  const { stdout } = await runOk(path.join(bin, 'pg_restore'), ['--list', dir])
  return stdout
    .split('\n')
    .map((line) => /^(\d+); (\d+) (\d+) (.*)$/.exec(line))
    .filter((match) => match !== null)
    .map((m) => ({ line: m[0], dumpId: Number(m[1]), tableoid: Number(m[2]), oid: Number(m[3]), what: m[4] }))
}

/**
 * The restore the action does (src/restore.ts: --no-tablespaces, owners and ACLs skipped, the
 * superuser-only entries left out for a non-superuser), but one job and without --exit-on-error,
 * so every entry that fails is seen with its own error.
 * @param {{ bin: string, env: Record<string, string>, database: string, dir: string, entries: TocEntry[],
 *   privileges: 'skip' | 'keep', superuser: boolean }} o
 * @returns {Promise<{ restored: number, failures: RestoreFailure[], errorsIgnored: number }>}
 */
export async function restoreWithErrors({ bin, env, database, dir, entries, privileges, superuser }) {
  const kept = superuser ? entries : entries.filter((entry) => !SUPERUSER_ONLY.test(entry.line))
  const listFile = `${dir}.list`
  fs.writeFileSync(listFile, kept.map((entry) => entry.line).join('\n') + '\n')
  const args = ['--dbname', `dbname=${conninfoValue(database)}`, '--jobs=1', '--no-tablespaces', '--verbose']
  if (privileges === 'skip') args.push('--no-owner', '--no-acl')
  const { code, stderr } = await run(path.join(bin, 'pg_restore'), [...args, `--use-list=${listFile}`, dir], { env })
  fs.rmSync(listFile, { force: true })
  const byId = new Map(entries.map((entry) => [entry.dumpId, entry]))
  const failures = parseRestoreErrors(stderr, byId)
  const ignored = Number(/errors ignored on restore: (\d+)/.exec(stderr)?.[1] ?? 0)
  if (code !== 0 && ignored === 0) throw new Error(`pg_restore failed before restoring: ${stderr.slice(-2000)}`)
  return { restored: kept.length, failures, errorsIgnored: ignored }
}

/**
 * pg_restore says "from TOC entry N; …" before the first error of each entry, then "error: …" for
 * each error; errors before any entry (a connection problem) have no entry.
 * @param {string} stderr @param {Map<number, TocEntry>} byId @returns {RestoreFailure[]}
 */
export function parseRestoreErrors(stderr, byId) {
  /** @type {RestoreFailure[]} */
  const failures = []
  /** @type {RestoreFailure | undefined} */
  let current
  for (const line of stderr.split('\n')) {
    const from = /^pg_restore: from TOC entry (\d+); /.exec(line)
    if (from) {
      current = { entry: byId.get(Number(from[1])), errors: [] }
      failures.push(current)
      continue
    }
    const error = /^pg_restore: error: (?:could not execute query: )?(.*)$/.exec(line)
    if (!error) continue
    if (!current) {
      current = { entry: undefined, errors: [] }
      failures.push(current)
    }
    current.errors.push(error[1].replace(/^ERROR:\s+/, ''))
  }
  return failures.filter((failure) => failure.errors.length > 0)
}

/** A libpq key=value value: single-quoted, backslash and quote escaped. */
export function conninfoValue(value) {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`
}
