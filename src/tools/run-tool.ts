import * as core from '@actions/core'
import { spawn } from 'node:child_process'
import { cancelledBy, CancelledError, onCancel, throwIfCancelled } from '../cancel.js'
import { StageError } from '../errors.js'

/** Children still running: stopped when the action is cancelled, so nothing is left behind. */
const running = new Set<import('node:child_process').ChildProcess>()

export function stopRunningTools(signal: NodeJS.Signals = 'SIGTERM'): number {
  for (const child of running) child.kill(signal)
  return running.size
}

onCancel(() => {
  if (running.size > 0) core.info(`stopping ${stopRunningTools()} child processes`)
})

export interface ToolRun {
  stage: string
  /** Connection settings and the passfile; never a password. */
  env: Record<string, string>
  /** Called with each stderr line (pg_dump and pg_restore log progress there with --verbose). */
  onLine?: (line: string) => void
  /** Called with each stdout line; without it stdout goes to the debug log. */
  onStdout?: (line: string) => void
}

/**
 * Runs a client program. Arguments never hold secrets (they travel in env and the passfile), so the
 * command line is logged as is. On failure the error carries the program's last error lines.
 */
export async function runTool(program: string, args: string[], run: ToolRun): Promise<void> {
  throwIfCancelled()
  core.info(`[command]${program} ${args.join(' ')}`)
  const child = spawn(program, args, { env: { ...process.env, ...run.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  const errors: string[] = []
  let pending = ''
  const consume = (chunk: Buffer): void => {
    pending += chunk.toString()
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) handle(line)
  }
  const handle = (line: string): void => {
    if (!line) return
    if (/error|fatal|could not|failed/i.test(line)) errors.push(line)
    core.debug(line)
    run.onLine?.(line)
  }
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => {
    if (!run.onStdout) return core.debug(chunk.toString().trimEnd())
    stdout += chunk.toString()
    const lines = stdout.split('\n')
    stdout = lines.pop() ?? ''
    lines.forEach(run.onStdout)
  })
  child.stderr.on('data', consume)
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (exitCode, signal) => resolve(signal ? null : exitCode))
  }).finally(() => running.delete(child))
  handle(pending)
  if (stdout) run.onStdout?.(stdout)
  const cancelled = cancelledBy()
  // Stopped on purpose: say so, not "pg_dump failed".
  if (code !== 0 && cancelled) throw new CancelledError(cancelled)
  if (code !== 0) {
    const name = program.split(/[\\/]/).pop()
    const detail = errors.slice(-3).join(' | ') || `exit code ${code ?? 'signal'}`
    throw new StageError(run.stage, `${name} failed: ${detail}`)
  }
}

/** Logs a progress line at most every `seconds`, so a long stage is seen to move. */
export function progressReporter(label: string, seconds = 10): (done: number, total: number, item?: string) => void {
  let last = 0
  return (done, total, item) => {
    const now = Date.now()
    if (done < total && now - last < seconds * 1000) return
    last = now
    core.info(`${label}: ${done}/${total}${item ? ` (${item})` : ''}`)
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
