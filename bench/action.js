// The action itself, run as a workflow step (node24 running the bundle, INPUT_* environment), mode
// migrate with verify full and no upload. Each build is copied aside when the benchmark starts, so
// a rebuild of dist/ meanwhile changes nothing the benchmark measures.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { runAction } from '../test/support/run-action.js'
import { serverUrl } from '../test/support/servers.js'
import { DATABASE } from './database.js'
import { jobs } from './options.js'
import { baseDir, live, now, round } from './processes.js'
import { timed } from './timed.js'

/**
 * Copies the folder of a bundle's entry file aside; returns the copy's entry and a short digest.
 * @param {string} entry @param {string} label
 */
export function snapshotBuild(entry, label) {
  if (!fs.existsSync(entry)) throw new Error(`${entry} is missing: run npm run package`)
  const copy = path.join(baseDir, 'builds', label.replace(/[^\w.-]/g, '_'))
  fs.cpSync(path.dirname(entry), copy, { recursive: true })
  const digest = createHash('sha256').update(fs.readFileSync(entry)).digest('hex').slice(0, 12)
  return { entry: path.join(copy, path.basename(entry)), digest }
}

/**
 * @param {{ source: any, target: any, workDir: string, toolCache: string, entry: string,
 *   inputs?: Record<string, string>, sizeGb: number }} ctx
 */
export async function viaAction({ source, target, workDir, toolCache, entry, inputs: extra = {}, sizeGb }) {
  const stepDir = path.join(workDir, 'action-step')
  fs.rmSync(stepDir, { recursive: true, force: true })
  fs.mkdirSync(stepDir, { recursive: true })
  const toolCacheHadClient = fs.existsSync(toolCache) && fs.readdirSync(toolCache).length > 0
  const inputs = {
    mode: 'migrate',
    'source-url': serverUrl(source, DATABASE),
    'target-url': serverUrl(target, DATABASE, target.admin),
    verify: 'full',
    jobs: String(jobs),
    'client-download-url': live.bundle.template,
    // Outside Actions there is no artifact service: the action would skip the upload anyway.
    'upload-artifact': 'false',
    ...extra
  }
  let firstOutput = NaN
  const started = now()
  const outcome = await timed(
    { source, target },
    { main: new RegExp(entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) },
    async () => {
      const result = await runAction(inputs, {
        entry,
        toolCache,
        workDir: stepDir,
        onStdout: () => {
          if (Number.isNaN(firstOutput)) firstOutput = now()
        },
        timeoutMs: Math.max(600_000, 1_800_000 * sizeGb)
      })
      const report = result.report
      const database = report?.databases?.find((/** @type {any} */ d) => d.name === DATABASE)
      return {
        exitCode: result.exitCode,
        result: result.outputs.result,
        mismatches: Number(result.outputs.mismatches ?? NaN),
        clientDownloaded: !toolCacheHadClient,
        // Node's start and the bundle's load, before the first line.
        startupSeconds: round((firstOutput - started) / 1000),
        stages: (report?.stages ?? []).map((/** @type {any} */ s) => ({
          stage: s.stage,
          // Seconds into the run: stages overlap, and the initial copy's span is read from them (targets.js).
          start: s.start,
          seconds: s.seconds,
          status: s.status
        })),
        dump: database?.dump
          ? { seconds: database.dump.seconds, bytes: database.dump.bytes, compression: database.dump.compression }
          : undefined,
        followed: database?.restore?.followed,
        copyMethod: database?.copyMethod?.method,
        stream: database?.stream,
        progress: progressSeen(result.stdout, database?.progress ?? []),
        error: report?.error,
        logTail: result.exitCode === 0 ? undefined : (result.stdout + result.stderr).slice(-3000)
      }
    }
  )
  fs.rmSync(stepDir, { recursive: true, force: true })
  return outcome
}

// A progress line as the action writes it: `dump: 1,200 of about 4,800 rows (25%), 96.0 MiB; 40 rows/s, 3.2 MiB/s; about 1 min left`
const PROGRESS_LINE = /^([a-z -]+): .*\/s(; about (.+) left)?$/

/**
 * The progress lines of one run, by stage: how many, how many gave the time left, and the closest two lines
 * came (seconds, from the report's timeline); with the report's timeline itself.
 * @param {string} stdout @param {{ stage: string, at: number }[]} timeline
 */
function progressSeen(stdout, timeline) {
  /** @type {Record<string, { lines: number, withTimeLeft: number, closestSeconds?: number }>} */
  const byStage = {}
  for (const line of stdout.split('\n')) {
    const match = PROGRESS_LINE.exec(line.trim())
    if (!match) continue
    const seen = (byStage[match[1]] ??= { lines: 0, withTimeLeft: 0 })
    seen.lines++
    if (match[3]) seen.withTimeLeft++
  }
  for (const [stage, seen] of Object.entries(byStage)) {
    const times = timeline.filter((sample) => sample.stage === stage).map((sample) => sample.at)
    const gaps = times.slice(1).map((at, i) => at - times[i])
    if (gaps.length) seen.closestSeconds = round(Math.min(...gaps))
  }
  return { byStage, timeline }
}
