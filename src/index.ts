import { githubRunner } from './action/runner.js'
import { Cancellation } from './base/cancellation.js'
import { run } from './main.js'

// The process as a workflow step runs it: the runner's SIGINT, then SIGTERM, cancel the run, which
// stops its child processes and closes its connections, then writes its report and exits.
const runner = githubRunner()
const cancellation = new Cancellation()
const cancel = (signal: NodeJS.Signals): void => {
  runner.log.info(`received ${signal}: cancelling`)
  cancellation.cancel(signal)
}
process.once('SIGTERM', cancel).once('SIGINT', cancel)
await run({ runner, cancellation })
process.off('SIGTERM', cancel).off('SIGINT', cancel)
