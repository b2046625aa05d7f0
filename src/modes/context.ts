import type { Cancellation } from '../base/cancellation.js'
import type { ActionInputs } from '../action/inputs.js'
import type { StepLog } from '../action/runner.js'
import type { Stages } from '../action/stages.js'
import type { ArtifactStore } from '../artifact/store.js'
import type { Visibility } from '../artifact/visibility.js'
import type { Connector } from '../pg/connection.js'
import type { Endpoint } from '../pg/endpoint.js'
import type { Passfile } from '../pg/passfile.js'
import type { Plan } from '../plan/plan.js'
import type { Client } from '../tools/client/install.js'
import type { ToolRunner } from '../tools/run-tool.js'

/** What every database job of a run shares: its inputs, its plan and the run's means. */
export interface ModeContext<I extends ActionInputs = ActionInputs> {
  inputs: I
  plan: Plan
  /** The source server (no database chosen yet: each job names its own), absent in restore mode. */
  source?: Endpoint
  /** The target server, resolved (from a URL or from Civo), absent in dump mode. */
  target?: Endpoint
  /** The installed client; absent in validate mode, which runs no client program. */
  client?: Client
  log: StepLog
  cancellation: Cancellation
  connector: Connector
  tools: ToolRunner
  stages: Stages
  passfile: Passfile
  artifacts: ArtifactStore
  /** The step's environment (GITHUB_RUN_ID names default artifacts). */
  env: NodeJS.ProcessEnv
  /** The repository's visibility: who can read the artifact, the log and the summary. */
  visibility: Visibility
}

/** A context whose client, source or target a mode needs, checked once at its start. */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`internal: ${what} is missing for this mode`)
  return value
}
