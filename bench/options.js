// The benchmark's command line, read once: every module takes its settings from here.
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'

// ---------------------------------------------------------------------------------------------
// Arguments

const { values: args } = parseArgs({
  options: {
    'size-gb': { type: 'string', default: '1' },
    runs: { type: 'string', default: '3' },
    jobs: { type: 'string', default: String(os.availableParallelism()) },
    json: { type: 'string', default: path.join('bench', 'results.json') },
    'quiet-wait': { type: 'string', default: '300' },
    help: { type: 'boolean', default: false }
  }
})
if (args.help) {
  console.log(
    'usage: node bench/run.js [--size-gb 1] [--runs 3] [--jobs <cpus>] [--json bench/results.json] [--quiet-wait 300]'
  )
  console.log(
    '  --quiet-wait: seconds to wait, before each timed way, for other load on the machine to settle (0: never)'
  )
  process.exit(0)
}
export const sizeGb = Number(args['size-gb'])
export const runs = Number(args.runs)
export const jobs = Number(args.jobs)
if (!(sizeGb > 0) || !Number.isInteger(runs) || runs < 1 || !Number.isInteger(jobs) || jobs < 1) {
  console.error('--size-gb must be > 0, --runs and --jobs positive integers')
  process.exit(2)
}
export const jsonPath = path.resolve(args.json)
export const quietWait = Number(args['quiet-wait'])
