// The action run in-process, as tests see it: a runner that records what the workflow would show
// (log lines as workflow commands, outputs, the summary, the failure), a cancellation the test
// triggers when it chooses, and run() from src/main.ts.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { ActionRunner, StepLog } from '../../src/action/runner.js'
import type { RunReport } from '../../src/action/report.js'
import { Cancellation } from '../../src/base/cancellation.js'
import { run, type Runtime } from '../../src/main.js'

export interface RecordedLog {
  log: StepLog
  /** Every line as the runner would print it: `::error::…`, `::warning::…`, `::debug::…` or plain. */
  lines: string[]
  /** The secrets it was asked to mask, in order. */
  masked: string[]
}

/** A log that keeps its lines, with masked secrets replaced by *** as the runner does. */
export function recordingLog(onLine?: (line: string) => void): RecordedLog {
  const lines: string[] = []
  const secrets: string[] = []
  const add = (prefix: string, message: string): void => {
    let line = prefix + message
    for (const secret of secrets) line = line.split(secret).join('***')
    lines.push(line)
    onLine?.(line)
  }
  const log: StepLog = {
    debug: (message) => add('::debug::', message),
    info: (message) => add('', message),
    warning: (message) => add('::warning::', message),
    error: (message) => add('::error::', message),
    mask: (secret) => {
      if (secret) secrets.push(secret)
    },
    async group(name, work) {
      add('::group::', name)
      try {
        return await work()
      } finally {
        add('::endgroup::', '')
      }
    }
  }
  return { log, lines, masked: secrets }
}

/** A runner that answers with `inputs` and does nothing else: for reading the inputs alone. */
export function inputsRunner(inputs: Record<string, string>, log: StepLog = recordingLog().log): ActionRunner {
  return {
    log,
    getInput: (name) => inputs[name] ?? '',
    setOutput: () => undefined,
    setFailed: () => undefined,
    writeSummary: async () => undefined,
    addPath: () => undefined,
    forgetInputs: () => undefined,
    env: { RUNNER_TEMP: os.tmpdir() }
  }
}

export interface InProcessRun {
  report: RunReport
  outputs: Record<string, string>
  summary: string
  /** The line the step was failed with, if it was. */
  failed?: string
  lines: string[]
  /** The `::error::` lines, without their prefix. */
  errors: string[]
}

export interface InProcessOptions extends Partial<Omit<Runtime, 'runner'>> {
  /** Extra environment for the step (RUNNER_TEMP is a fresh folder, removed after the run). */
  env?: NodeJS.ProcessEnv
  /** Sees each log line as it is written, e.g. to cancel at a chosen moment. */
  onLine?: (line: string, cancellation: Cancellation) => void
}

/** Runs the action in this process with these inputs; the step's temp folder is removed afterwards. */
export async function runInProcess(
  inputs: Record<string, string>,
  options: InProcessOptions = {}
): Promise<InProcessRun> {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrate-step-'))
  const cancellation = options.cancellation ?? new Cancellation()
  const recorded = recordingLog((line) => options.onLine?.(line, cancellation))
  const outputs: Record<string, string> = {}
  let summary = ''
  let failed: string | undefined
  const runner: ActionRunner = {
    log: recorded.log,
    getInput: (name) => inputs[name] ?? '',
    setOutput: (name, value) => (outputs[name] = String(value)),
    setFailed: (message) => {
      failed = message
      recorded.log.error(message)
    },
    writeSummary: async (markdown) => void (summary += markdown),
    addPath: () => undefined,
    forgetInputs: () => undefined,
    env: { PATH: process.env.PATH, RUNNER_TEMP: temp, ...options.env }
  }
  try {
    const report = await run({ ...options, runner, cancellation })
    const errors = recorded.lines.filter((l) => l.startsWith('::error::')).map((l) => l.slice('::error::'.length))
    return { report, outputs, summary, failed, lines: recorded.lines, errors }
  } finally {
    fs.rmSync(temp, { recursive: true, force: true })
  }
}
