import { CancelledError } from './errors.js'

/**
 * Cancellation of one run (the runner sends SIGINT, then SIGTERM, then kills). Whatever holds
 * something open — a child process, a connection — registers a hook that lets go of it, so the
 * process can write its report and exit. One per run: tests cancel a run in-process.
 */
export class Cancellation {
  private received?: NodeJS.Signals
  private readonly hooks = new Set<() => void>()

  get signal(): NodeJS.Signals | undefined {
    return this.received
  }

  /** Runs `hook` on cancellation (at once when already cancelled); returns a function that unregisters it. */
  onCancel(hook: () => void): () => void {
    if (this.received) {
      hook()
      return () => undefined
    }
    this.hooks.add(hook)
    return () => this.hooks.delete(hook)
  }

  /** Marks the run cancelled and runs every hook once. */
  cancel(signal: NodeJS.Signals): void {
    if (this.received) return
    this.received = signal
    for (const hook of [...this.hooks]) {
      try {
        hook()
      } catch {
        // best effort: one hook must not keep the others from letting go
      }
    }
    this.hooks.clear()
  }

  throwIfCancelled(): void {
    if (this.received) throw new CancelledError(this.received)
  }
}
