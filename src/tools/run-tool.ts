import { spawn } from 'node:child_process'
import { CancelledError, MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import type { RunScope } from '../base/scope.js'

export interface ToolRun {
  /** Connection settings and the passfile; never a password. */
  env: Record<string, string>
  /** Called with each stderr line (pg_dump and pg_restore log progress there with --verbose). */
  onLine?: (line: string) => void
  /** Called with each stdout line; without it stdout goes to the debug log. */
  onStdout?: (line: string) => void
}

/** Runs the client programs; tests wrap it to watch or interrupt what the run starts. */
export interface ToolRunner {
  run(program: string, args: string[], run: ToolRun): Promise<void>
}

/**
 * Runs client programs as child processes. Arguments never hold secrets (they travel in env and the
 * passfile), so the command line is logged as is. A cancelled run stops every child it started.
 */
export class ProcessRunner implements ToolRunner {
  constructor(private readonly scope: RunScope) {}

  async run(program: string, args: string[], run: ToolRun): Promise<void> {
    const { log, cancellation } = this.scope
    cancellation.throwIfCancelled()
    log.info(`[command]${program} ${args.join(' ')}`)
    const child = spawn(program, args, { env: { ...process.env, ...run.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    const forget = cancellation.onCancel(() => child.kill('SIGTERM'))
    const errors: string[] = []
    const handle = (line: string): void => {
      if (!line) return
      if (/error|fatal|could not|failed/i.test(line)) errors.push(line)
      log.debug(line)
      run.onLine?.(line)
    }
    const stderr = lineSplitter(handle)
    const stdout = lineSplitter(run.onStdout ?? ((line) => log.debug(line)))
    child.stdout.on('data', stdout.push)
    child.stderr.on('data', stderr.push)
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (exitCode, signal) => resolve(signal ? null : exitCode))
    }).finally(forget)
    stderr.end()
    stdout.end()
    // Stopped on purpose: say so, not "pg_dump failed".
    if (code !== 0 && cancellation.signal) throw new CancelledError(cancellation.signal)
    if (code !== 0) {
      const name = program.split(/[\\/]/).pop()
      const detail = errors.slice(-3).join(' | ') || `exit code ${code ?? 'signal'}`
      throw new MigrationError('tool-failed', `${name} failed: ${detail}`)
    }
  }
}

/** Feeds whole lines to `onLine` as chunks arrive; `end` flushes the last, unterminated one. */
function lineSplitter(onLine: (line: string) => void): { push: (chunk: Buffer) => void; end: () => void } {
  let pending = ''
  return {
    push(chunk) {
      pending += chunk.toString()
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      lines.forEach(onLine)
    },
    end() {
      if (pending) onLine(pending)
      pending = ''
    }
  }
}

/** Logs a progress line at most every `seconds`, so a long stage is seen to move. */
export function progressReporter(
  log: Log,
  label: string,
  seconds = 10
): (done: number, total: number, item?: string) => void {
  let last = 0
  return (done, total, item) => {
    const now = Date.now()
    if (done < total && now - last < seconds * 1000) return
    last = now
    log.info(`${label}: ${done}/${total}${item ? ` (${item})` : ''}`)
  }
}

/**
 * The table a pg_dump or pg_restore --verbose line reports as done. With several jobs the leader
 * says "finished item … TABLE DATA"; alone, the program names the table as it starts it.
 */
export function tableDataDone(line: string, jobs: number): string | undefined {
  const match =
    jobs > 1
      ? /finished item \d+ TABLE DATA (.+)$/.exec(line)
      : /(?:dumping contents of|processing data for) table "([^"]+)"/.exec(line)
  return match?.[1]
}
