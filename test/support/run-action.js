// Runs the bundled action as a workflow step would: INPUT_* environment, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files, RUNNER_TEMP and RUNNER_TOOL_CACHE. Shared by tests, the demo and the bench.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { REPO_ROOT } from './servers.js'

/**
 * @typedef {{
 *   exitCode: number | null, stdout: string, stderr: string, outputs: Record<string, string>,
 *   summary: string, report: any, workDir: string
 * }} ActionRun
 */

/** The Node.js the action runs on, as on the runner (action.yml: node24); scripts/setup-testbed.sh installs it. */
export const ACTION_NODE = path.join(REPO_ROOT, '.testbed', 'node', 'bin', 'node')

/** The test run's shared tool cache (set by the global setup), for runs that do not bring their own. */
export const TOOL_CACHE_ENV = 'PG_MIGRATE_TOOL_CACHE'

/** A bundle built elsewhere than dist/ (ncc build src/index.ts -o DIR), to test the sources without repackaging. */
export const ENTRY_ENV = 'PG_MIGRATE_ACTION_ENTRY'

/** What a run that should pass looks like through `outcome`. */
export const PASSED = { exitCode: 0, result: 'passed', log: '' }

/**
 * The parts of a run a test checks first, with the end of its log when it did not pass: a failing
 * assertion then shows why.
 * @param {ActionRun} run
 */
export function outcome(run) {
  const passed = run.exitCode === 0 && run.outputs.result === 'passed'
  return {
    exitCode: run.exitCode,
    result: run.outputs.result,
    log: passed ? '' : (run.stdout + run.stderr).slice(-3000)
  }
}

/**
 * The workflow-command lines that become error annotations.
 * @param {string} stdout
 */
export function errorLines(stdout) {
  return stdout.split('\n').filter((line) => line.startsWith('::error::'))
}

/**
 * Parses the GITHUB_OUTPUT file (`name<<delimiter` blocks, as @actions/core writes them).
 * @param {string} text
 */
export function parseOutputs(text) {
  /** @type {Record<string, string>} */
  const outputs = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (!match) continue
    const [, name, delimiter] = match
    const value = []
    while (++i < lines.length && lines[i] !== delimiter) value.push(lines[i])
    outputs[name] = value.join('\n')
  }
  return outputs
}

/**
 * @param {Record<string, string>} inputs action inputs by their action.yml names
 * @param {{ env?: Record<string, string>, toolCache?: string, workDir?: string, signalAfterMs?: number,
 *   onStdout?: (chunk: string) => void, timeoutMs?: number, entry?: string,
 *   onChild?: (child: import('node:child_process').ChildProcess) => void }} [options]
 *   entry: the bundle to run (default $PG_MIGRATE_ACTION_ENTRY, else dist/index.js; the bench runs copies of builds)
 * @returns {Promise<ActionRun>}
 */
export async function runAction(inputs, options = {}) {
  // A folder of its own is removed once the run's outputs, summary and report are read.
  const ownDir = options.workDir === undefined
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-run-'))
  try {
    return await runIn(workDir, inputs, options)
  } finally {
    if (ownDir) fs.rmSync(workDir, { recursive: true, force: true })
  }
}

/**
 * @param {string} workDir
 * @param {Record<string, string>} inputs
 * @param {Parameters<typeof runAction>[1] & {}} options
 * @returns {Promise<ActionRun>}
 */
async function runIn(workDir, inputs, options) {
  const runnerTemp = path.join(workDir, 'temp')
  fs.mkdirSync(runnerTemp, { recursive: true })
  const outputFile = path.join(workDir, 'output')
  const summaryFile = path.join(workDir, 'summary.md')
  fs.writeFileSync(outputFile, '')
  fs.writeFileSync(summaryFile, '')
  /** @type {Record<string, string>} */
  const env = {}
  for (const [key, value] of Object.entries(process.env)) {
    // A clean step: no inputs or runner state leak in from the test process.
    if (value !== undefined && !/^(INPUT_|GITHUB_|RUNNER_|ACTIONS_)/.test(key)) env[key] = value
  }
  Object.assign(env, {
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: runnerTemp,
    RUNNER_TOOL_CACHE: options.toolCache ?? process.env[TOOL_CACHE_ENV] ?? path.join(workDir, 'tool-cache'),
    ...options.env
  })
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  if (!fs.existsSync(ACTION_NODE)) throw new Error(`${ACTION_NODE} is missing: run npm run testbed`)
  const child = spawn(
    ACTION_NODE,
    [options.entry ?? process.env[ENTRY_ENV] ?? path.join(REPO_ROOT, 'dist', 'index.js')],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  // A test that must kill the step outright (SIGKILL, as a lost runner) gets the process itself.
  options.onChild?.(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    options.onStdout?.(chunk.toString())
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const timer = options.signalAfterMs ? setTimeout(() => child.kill('SIGTERM'), options.signalAfterMs) : undefined
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 170_000)
  const exitCode = await new Promise((resolve) => child.on('close', (code) => resolve(code)))
  clearTimeout(timer)
  clearTimeout(killer)
  const reportFile = parseOutputs(fs.readFileSync(outputFile, 'utf8'))['report-path']
  return {
    exitCode: /** @type {number | null} */ (exitCode),
    stdout,
    stderr,
    outputs: parseOutputs(fs.readFileSync(outputFile, 'utf8')),
    summary: fs.readFileSync(summaryFile, 'utf8'),
    report: reportFile && fs.existsSync(reportFile) ? JSON.parse(fs.readFileSync(reportFile, 'utf8')) : undefined,
    workDir
  }
}
