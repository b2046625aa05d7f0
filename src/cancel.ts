import { MigrationError } from './errors.js'

/**
 * Cancellation (the runner sends SIGINT, then SIGTERM, then kills): every module that holds
 * something open registers a hook that lets go of it, so the process can write its report and exit.
 */
let signal: NodeJS.Signals | undefined
const hooks = new Set<() => void>()

/** The run was cancelled: stages stop at the next step instead of starting new work. */
export class CancelledError extends MigrationError {
  constructor(readonly signal: NodeJS.Signals) {
    // main.ts words the line the user sees: it knows the stage and whether the target was touched.
    super(`the run was cancelled (${signal})`)
  }
}

/** Runs `hook` on cancellation; returns a function that unregisters it. */
export function onCancel(hook: () => void): () => void {
  hooks.add(hook)
  return () => hooks.delete(hook)
}

/** Marks the run cancelled and runs every hook once. */
export function cancelRun(received: NodeJS.Signals): void {
  if (signal) return
  signal = received
  for (const hook of hooks) {
    try {
      hook()
    } catch {
      // best effort: one hook must not keep the others from letting go
    }
  }
}

export function cancelledBy(): NodeJS.Signals | undefined {
  return signal
}

export function throwIfCancelled(): void {
  if (signal) throw new CancelledError(signal)
}
