// The action as a workflow step runs it (dist/index.js through test/support/run-action.js), with the
// corpus's servers, the loopback client download and no artifact upload.
import fs from 'node:fs'
import path from 'node:path'
import { runAction } from '../../test/support/run-action.js'
import { serverUrl, withClient } from '../../test/support/servers.js'
import { ident } from './regress.js'

/**
 * @typedef {import('../../test/support/servers.js').ServerInfo} ServerInfo
 * @typedef {import('../../test/support/servers.js').Login} Login
 * @typedef {{ baseDir: string, source: ServerInfo, target: ServerInfo, clientTemplate: string, jobs: number,
 *   log: (line: string) => void }} ActionContext
 * @typedef {{ exitCode: number | null, result: string | undefined, report: any, seconds: number,
 *   failedEntry?: { dumpId: number, tableoid: number, oid: number, what: string }, restoreErrors: string[] }} CorpusRun
 */

let runs = 0

/**
 * @param {ActionContext} ctx
 * @param {{ mode: string, sourceDb: string, targetDb: string, login: Login, inputs?: Record<string, string> }} run
 * @returns {Promise<CorpusRun>}
 */
export async function runCorpusAction(ctx, { mode, sourceDb, targetDb, login, inputs = {} }) {
  const started = performance.now()
  const workDir = path.join(ctx.baseDir, `action-${++runs}`)
  fs.mkdirSync(workDir, { recursive: true })
  try {
    const actionRun = await runAction(
      {
        mode,
        'source-url': serverUrl(ctx.source, sourceDb),
        'target-url': serverUrl(ctx.target, targetDb, login),
        'client-download-url': ctx.clientTemplate,
        jobs: String(ctx.jobs),
        'upload-artifact': 'false',
        // The superuser's runs restore as the superuser, as a cluster's owner restores a dump it trusts: they
        // score what a superuser's restore keeps (C functions, owners, grants). The admin's runs go through
        // the run's restore role, the action's default.
        ...(login.user === ctx.target.superuser.user ? { 'accept-source-code': 'true' } : {}),
        ...inputs
      },
      { workDir, toolCache: path.join(ctx.baseDir, 'tool-cache'), timeoutMs: 60 * 60 * 1000 }
    )
    const debug = actionRun.stdout
      .split('\n')
      .filter((line) => line.startsWith('::debug::'))
      .map((line) => unescapeData(line.slice('::debug::'.length)))
    return {
      exitCode: actionRun.exitCode,
      result: actionRun.outputs.result,
      report: actionRun.report,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      ...lastRestoreError(debug)
    }
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true })
  }
}

/** @core.debug escapes these in workflow commands. */
function unescapeData(text) {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}

/**
 * The TOC entry the restore stopped at (--exit-on-error: the last "from TOC entry" line), and the
 * errors pg_restore printed after it.
 * @param {string[]} lines
 */
function lastRestoreError(lines) {
  let index = -1
  for (let i = lines.length - 1; i >= 0 && index < 0; i--) if (/^pg_restore: from TOC entry /.test(lines[i])) index = i
  if (index < 0) return { restoreErrors: [] }
  const m = /^pg_restore: from TOC entry (\d+); (\d+) (\d+) (.*)$/.exec(lines[index])
  const restoreErrors = lines
    .slice(index + 1)
    .map((line) => /^pg_restore: error: (?:could not execute query: )?(.*)$/.exec(line)?.[1])
    .filter((error) => error !== undefined)
    .map((error) => error.replace(/^ERROR:\s+/, ''))
  if (!m) return { restoreErrors }
  return {
    failedEntry: { dumpId: Number(m[1]), tableoid: Number(m[2]), oid: Number(m[3]), what: m[4] },
    restoreErrors
  }
}

/** The database's failure as the report records it: the stage and the message. */
export function databaseError(run) {
  const error = run.report?.databases?.[0]?.error ?? run.report?.error
  if (error) return { stage: error.stage ?? 'Plan', message: error.message }
  if (run.exitCode !== 0 && run.result !== 'passed')
    return { stage: '(no report)', message: `exit code ${run.exitCode}` }
  return undefined
}

/** @param {ServerInfo} server @param {string} database */
export async function dropDatabase(server, database) {
  const force = server.major >= 13 ? ' WITH (FORCE)' : ''
  await withClient(serverUrl(server, 'postgres'), (client) =>
    client.query(`DROP DATABASE IF EXISTS ${ident(database)}${force}`)
  )
}

/** A copy of a source database with the same OIDs (the file-level copy CREATE DATABASE … TEMPLATE makes). */
export async function copyDatabase(server, from, to) {
  await dropDatabase(server, to)
  await withClient(serverUrl(server, 'postgres'), (client) =>
    client.query(`CREATE DATABASE ${ident(to)} TEMPLATE ${ident(from)}`)
  )
}
