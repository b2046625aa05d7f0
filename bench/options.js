// The benchmark's command line, read once: every module takes its settings from here.
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'

/** Every way, in the order they are listed; --ways picks some. */
export const WAYS = ['seed', 'pipe', 'hand', 'pgcopydb', 'action', 'dump']
/** The cases run after the ways, on the largest database; --cases picks some. */
export const CASES = ['resume', 'encryption', 'small-disk', 'sync', 'sync-rates']

const USAGE = `usage: npm run bench -- [options]
  --ways seed,pipe,hand,pgcopydb,action,dump   which ways to time (default: all)
        seed      the seed guide: pg_dump -C -f file.sql, then psql < file.sql
        pipe      pg_dump | psql
        hand      hand-tuned pg_dump -Fd -j N -Z zstd:1, then pg_restore -j N, no verification
        pgcopydb  pgcopydb clone --table-jobs N --index-jobs N, then pgcopydb compare data
        action    this action, mode migrate, verify full, no upload (copy-method: stream)
        dump      the same through the dump folder (copy-method: dump)
  --variant label:key=value[,key=value]   also time the action with other inputs, as action[label]
  --variant label:@path/to/index.js[,key=value]  also time another build of the action (copied
                                          aside at the start), with other inputs if given
  --sizes 1,5          database sizes in GB, one database each (default 1; --size-gb is the same)
  --runs 3             runs per size; the order of the ways turns from run to run
  --jobs <cpus>        jobs for every way that takes them (default: the CPUs here)
  --layout shared      shared: every side on this machine's CPUs; three: each side (runner, source,
                       target) capped at --side-cpus CPUs with a cgroup quota, as three machines
                       would be; both: every way once each way
  --side-cpus <cpus/3> the cap per side with --layout three or both
  --cases resume,encryption,small-disk,sync,sync-rates
                       the cases run after the ways, on the largest database (default: all; none: no case)
  --quiet-wait 300     seconds to wait, before each timed way, for other load to settle (0: never)
  --json bench/results.json
  --entry path/to/index.js   node bench/sync.js alone: the build of the action to run (default dist)`

const { values: args } = parseArgs({
  options: {
    ways: { type: 'string', default: WAYS.join(',') },
    variant: { type: 'string', multiple: true, default: [] },
    sizes: { type: 'string' },
    'size-gb': { type: 'string' },
    runs: { type: 'string', default: '3' },
    jobs: { type: 'string', default: String(os.availableParallelism()) },
    layout: { type: 'string', default: 'shared' },
    'side-cpus': { type: 'string', default: String(Math.round((100 * os.availableParallelism()) / 3) / 100) },
    json: { type: 'string', default: path.join('bench', 'results.json') },
    cases: { type: 'string', default: CASES.join(',') },
    'quiet-wait': { type: 'string', default: '300' },
    entry: { type: 'string' },
    help: { type: 'boolean', default: false }
  }
})

/** @param {string} message */
function usageError(message) {
  console.error(`${message}\n\n${USAGE}`)
  process.exit(2)
}

if (args.help) {
  console.log(USAGE)
  process.exit(0)
}

export const sizes = (args.sizes ?? args['size-gb'] ?? '1').split(',').map(Number)
export const runs = Number(args.runs)
/** bench/sync.js alone: the build of the action it runs; undefined: dist/index.js. */
export const entry = args.entry
export const jobs = Number(args.jobs)
export const sideCpus = Number(args['side-cpus'])
if (sizes.some((size) => !(size > 0))) usageError('--sizes takes sizes in GB above 0, comma-separated')
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(jobs) || jobs < 1)
  usageError('--runs and --jobs take positive integers')
if (!(sideCpus > 0)) usageError('--side-cpus takes a number of CPUs above 0')

const layoutChoices = { shared: ['shared'], three: ['three'], both: ['shared', 'three'] }
if (!Object.hasOwn(layoutChoices, args.layout)) usageError('--layout takes shared, three or both')
/** @type {('shared' | 'three')[]} */
export const layouts = /** @type {any} */ (layoutChoices[/** @type {keyof typeof layoutChoices} */ (args.layout)])

const picked = args.ways.split(',').filter(Boolean)
const unknown = picked.filter((way) => !WAYS.includes(way))
if (unknown.length) usageError(`--ways: unknown ${unknown.join(', ')}`)

/**
 * @typedef {{ name: string, kind: string, inputs?: Record<string, string>, entry?: string }} WaySpec
 *   kind: one of WAYS; action variants carry other inputs or another build's entry file.
 */
/** @type {WaySpec[]} */
export const ways = WAYS.filter((way) => picked.includes(way)).map((way) =>
  // The action's two ways to copy, with the same build: their inputs alone differ. The stream is asked
  // for: auto keeps the dump path where the disk holds the dump uncompressed, as the bench's does.
  way === 'dump'
    ? { name: way, kind: 'action', inputs: { 'copy-method': 'dump' } }
    : way === 'action'
      ? { name: way, kind: way, inputs: { 'copy-method': 'stream' } }
      : { name: way, kind: way }
)
for (const spec of args.variant) {
  const match = /^([\w.-]+):(.+)$/.exec(spec)
  if (!match) usageError(`--variant ${spec}: expected label:key=value[,key=value] or label:@path[,key=value]`)
  const [, label, rest] = /** @type {RegExpExecArray} */ (match)
  // As the action's own row: the stream, unless the variant asks otherwise.
  /** @type {WaySpec} */
  const way = { name: `action[${label}]`, kind: 'action', inputs: { 'copy-method': 'stream' } }
  for (const item of rest.split(',')) {
    if (item.startsWith('@')) way.entry = path.resolve(item.slice(1))
    else {
      const pair = item.split('=')
      if (pair.length !== 2) usageError(`--variant ${spec}: expected key=value, not ${item}`)
      const inputs = /** @type {Record<string, string>} */ (way.inputs)
      inputs[pair[0]] = pair[1]
    }
  }
  ways.push(way)
}
if (ways.length === 0) usageError('--ways: pick at least one way')

const pickedCases = args.cases === 'none' ? [] : args.cases.split(',').filter(Boolean)
const unknownCases = pickedCases.filter((name) => !CASES.includes(name))
if (unknownCases.length) usageError(`--cases: unknown ${unknownCases.join(', ')}`)
/** The cases to run after the ways. */
export const cases = new Set(pickedCases)

export const jsonPath = path.resolve(args.json)
export const quietWait = Number(args['quiet-wait'])
