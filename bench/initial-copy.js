// The initial copy's time, read from a run's stages as the JSON report gives them: the same span for a
// plain migrate and under sync: logical, so the sync's copy can be set against the migrate's of the same
// bench run (the target: no slower). Nothing here runs anything.

/** Stages of a run that make the initial copy, in the report's words (src/action/stages.ts). */
const COPY_STAGES = new Set(['Dump', 'Restore', 'Build indexes', 'Checksum source'])

const round = (/** @type {number} */ x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits
const isNumber = (/** @type {unknown} */ x) => typeof x === 'number' && Number.isFinite(x)
/** @param {number[]} values */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * The initial copy's seconds from a run's stages (the report's, each with its start in seconds into the
 * run): from the first Dump's start to the end of the last copy stage (dump, restore, index builds, the
 * source's checksums) that began before the first Sync stage. The same span for a plain migrate and
 * under a sync, whose second checksum of the source, at cutover, is not part of the copy. Undefined
 * when no Dump stage has a start (a report from before stages had one).
 * @param {{ stage: string, start?: number, seconds: number }[]} stages
 */
export function initialCopySeconds(stages) {
  const timed = /** @type {{ stage: string, start: number, seconds: number }[]} */ (
    stages.filter((s) => isNumber(s.start))
  )
  const syncStart = Math.min(Infinity, ...timed.filter((s) => s.stage === 'Sync').map((s) => s.start))
  const copy = timed.filter((s) => COPY_STAGES.has(s.stage) && s.start < syncStart)
  const dumps = copy.filter((s) => s.stage === 'Dump')
  if (!dumps.length) return undefined
  const from = Math.min(...dumps.map((s) => s.start))
  return round(Math.max(...copy.map((s) => s.start + s.seconds)) - from)
}

/**
 * The sync's initial copy against a plain migrate's in the same run: the median span of the migrate's
 * passing runs (runs of one way, as bench/run.js keeps them, each with its stages).
 * @param {number | undefined} syncSeconds
 * @param {{ failed?: string, stages?: { stage: string, start?: number, seconds: number }[] }[]} migrateRuns
 */
export function syncCopyAgainstMigrate(syncSeconds, migrateRuns) {
  const spans = migrateRuns
    .filter((run) => !run.failed && run.stages)
    .map((run) => initialCopySeconds(run.stages ?? []))
    .filter(isNumber)
  if (!spans.length || !isNumber(syncSeconds)) return undefined
  const migrateSeconds = round(median(/** @type {number[]} */ (spans)))
  return { migrateSeconds, runs: spans.length, ratio: round(/** @type {number} */ (syncSeconds) / migrateSeconds) }
}
