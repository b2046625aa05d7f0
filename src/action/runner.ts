import * as core from '@actions/core'
import { escapeWorkflowCommands, type Log } from '../base/log.js'
import { withoutRowValues } from '../base/redact.js'

/** The log of a workflow step: lines, secrets masked, and folding groups. */
export interface StepLog extends Log {
  /** Runs `work` inside a log group that closes even when it throws. */
  group<T>(name: string, work: () => Promise<T>): Promise<T>
}

/**
 * What the action needs of the runner it runs on. On GitHub it is @actions/core; tests run the
 * action in-process with a recorder, so nothing below main.ts touches process-wide state.
 */
export interface ActionRunner {
  log: StepLog
  /** An input as the workflow gave it ('' when unset). */
  getInput(name: string): string
  setOutput(name: string, value: string | number): void
  /** Fails the step with one line. */
  setFailed(message: string): void
  /** Appends markdown to the job summary (nothing outside a runner). */
  writeSummary(markdown: string): Promise<void>
  /** Puts a folder first on PATH for the steps after this one. */
  addPath(dir: string): void
  /** Drops inputs from the environment every child process inherits. */
  forgetInputs(names: string[]): void
  /** The step's environment (RUNNER_TEMP, GITHUB_RUN_ID, PATH…). */
  env: NodeJS.ProcessEnv
}

/** The runner the action really runs on. */
export function githubRunner(): ActionRunner {
  return {
    log: {
      debug: core.debug,
      // Info lines are printed raw: a table named "x\n::error::y" would otherwise forge a command.
      info: (message) => core.info(escapeWorkflowCommands(message)),
      warning: (message) => core.warning(message),
      error: (message) => core.error(message),
      mask: core.setSecret,
      group: (name, work) => core.group(name, work)
    },
    getInput: (name) => core.getInput(name),
    setOutput: core.setOutput,
    setFailed: core.setFailed,
    async writeSummary(markdown) {
      if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(markdown, true).write()
    },
    addPath: core.addPath,
    forgetInputs(names) {
      for (const name of names) delete process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`]
    },
    env: process.env
  }
}

/**
 * The runner of a public repository's run, whose log, summary and failure line anyone can read:
 * every line passes through withoutRowValues. The JSON report on the runner keeps everything.
 */
export function withoutRowValuesRunner(runner: ActionRunner): ActionRunner {
  const log = runner.log
  return {
    ...runner,
    log: {
      debug: (message) => log.debug(withoutRowValues(message)),
      info: (message) => log.info(withoutRowValues(message)),
      warning: (message) => log.warning(withoutRowValues(message)),
      error: (message) => log.error(withoutRowValues(message)),
      mask: (secret) => log.mask(secret),
      group: (name, work) => log.group(withoutRowValues(name), work)
    },
    setFailed: (message) => runner.setFailed(withoutRowValues(message)),
    writeSummary: (markdown) => runner.writeSummary(withoutRowValues(markdown))
  }
}
