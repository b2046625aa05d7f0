import type { Cancellation } from './cancellation.js'
import type { Log } from './log.js'

/** What a run shares with everything below it: where lines go, and whether it was cancelled. */
export interface RunScope {
  log: Log
  cancellation: Cancellation
}
