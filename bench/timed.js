// One timed way: wall time, CPU seconds per side, other load on the machine, peak RSS of the runner.
import { now, round } from './processes.js'
import { startSampler } from './sampler.js'

/**
 * @template {Record<string, any>} T
 * @param {{ source: any, target: any }} servers
 * @param {{ main: RegExp | string }} options main: how the way's main processes are recognised by command line
 * @param {(sampler: ReturnType<typeof startSampler>) => Promise<T>} work
 */
export async function timed(servers, options, work) {
  const main = typeof options.main === 'string' ? new RegExp(options.main) : options.main
  const sampler = startSampler(servers, { main })
  const started = now()
  /** @type {T} */
  let detail
  let ended = started
  try {
    detail = await work(sampler)
    ended = now()
  } finally {
    await sampler.stop()
  }
  const seconds = round((ended - started) / 1000)
  return {
    seconds,
    cpu: sampler.cpu(),
    otherLoadPercent: sampler.otherLoad(),
    rss: sampler.rss(),
    runnerByProgram: sampler.runnerByProgram(),
    serverByActivity: sampler.serverByActivity(),
    ...detail
  }
}
