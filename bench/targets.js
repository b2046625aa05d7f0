// The targets of the two issues the bench measures (the stream: a database bigger than the runner's disk,
// ahead of the best peer; near-zero downtime at production rates), read from one run's results, the
// value bench/run.js writes as JSON: per target the value measured, the goal, and whether it was met.
// Nothing here runs anything, so a saved results file reads the same way.

/** The small-disk case's dump folder at the target's size: 1 GB for a 5 GB database. */
export const SMALL_DISK_FOLDER_BYTES = 1e9
/** The database size the small-disk target is stated for, in the bench's GB (--sizes). */
const SMALL_DISK_TARGET_GB = 5
/** The sync's initial copy is compared at 1 GB; the downtime window at 1 and 5 GB. */
const SYNC_COPY_TARGET_GB = 1
const WINDOW_TARGET_GB = [1, 5]
const PEAK_RSS_GOAL_BYTES = 200e6

/**
 * @typedef {{ issue: number, target: string, measured: string, goal: string,
 *   status: 'met' | 'not met' | 'not run' | 'no goal', note?: string }} TargetRow
 *   note: what makes a met target weaker than stated (measured at another size, say).
 */

const round = (/** @type {number} */ x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits
const isNumber = (/** @type {unknown} */ x) => typeof x === 'number' && Number.isFinite(x)
/** @param {unknown} message */
const short = (message) => String(message).split('\n')[0].slice(0, 120)
const megabytes = (/** @type {number} */ bytes) => `${(bytes / 1e6).toFixed(0)} MB`

/**
 * The small-disk case's dump folder: what the target gives (1 GB), or a quarter of a smaller database, so
 * the folder is always far smaller than the database it would have to hold.
 * @param {number} databaseBytes
 */
export function smallDiskFolderBytes(databaseBytes) {
  return Math.min(SMALL_DISK_FOLDER_BYTES, Math.floor(databaseBytes / 4))
}

/** @param {number} issue @param {string} target @param {string} goal @param {string} measured @param {boolean} ok */
const judged = (issue, target, goal, measured, ok) => ({
  issue,
  target,
  goal,
  measured,
  status: ok ? 'met' : 'not met'
})
/** @param {number} issue @param {string} target @param {string} goal @param {unknown} [why] */
const notRun = (issue, target, goal, why) => ({
  issue,
  target,
  goal,
  measured: why ? `not run: ${short(why)}` : 'not run',
  status: 'not run'
})
/**
 * A case that threw: the target is not shown met, and the error says why.
 * @param {number} issue @param {string} target @param {string} goal @param {unknown} error
 */
const failedCase = (issue, target, goal, error) =>
  judged(issue, target, goal, `the case failed: ${short(error)}`, false)
/** A met target measured at another size than the one it names. @param {any} row @param {number} sizeGb @param {number[]} sizes */
const atSize = (row, sizeGb, sizes) =>
  row.status === 'met' && !sizes.includes(sizeGb)
    ? { ...row, note: `at ${sizeGb} GB; the target is at ${sizes.join(' and ')} GB` }
    : row

const SMALL_DISK_LINES = [
  ['a 5 GB database migrates, and verifies, with a 1 GB dump folder', 'passes, 5 GB with a 1 GB folder'],
  ["the runner's disk use during that migration", '< 1 % of the database'],
  ['peak RSS during that migration', "≤ 200 MB (the runner's whole process tree)"]
]

/** The small-disk case: the migration passes, the runner's disk and memory stay small. @param {any} smallDisk */
export function smallDiskTargets(smallDisk) {
  if (smallDisk?.failed) return SMALL_DISK_LINES.map(([target, goal]) => failedCase(23, target, goal, smallDisk.failed))
  if (!smallDisk || smallDisk.skipped)
    return SMALL_DISK_LINES.map(([target, goal]) => notRun(23, target, goal, smallDisk?.skipped))
  const [folder, disk, memory] = SMALL_DISK_LINES.map(
    ([target, goal]) =>
      (/** @type {string} */ measured, /** @type {boolean} */ ok) =>
        judged(23, target, goal, measured, ok)
  )
  const passed = smallDisk.exitCode === 0 && smallDisk.result === 'passed' && smallDisk.mismatches === 0
  const outcome = passed ? 'passed' : `${smallDisk.result ?? 'failed'}, exit ${smallDisk.exitCode}`
  const unless = passed ? '' : ' (the migration did not pass)'
  const percent = (100 * smallDisk.peakUsedBytes) / smallDisk.databaseBytes
  const { treeBytes, mainBytes } = smallDisk.rss
  return [
    atSize(
      folder(
        `${outcome} at ${smallDisk.sizeGb} GB (${megabytes(smallDisk.databaseBytes)}) with a ${megabytes(smallDisk.diskBytes)} folder, copy-method ${smallDisk.copyMethod ?? 'unknown'}`,
        passed
      ),
      smallDisk.sizeGb,
      [SMALL_DISK_TARGET_GB]
    ),
    disk(
      `${percent.toFixed(3)} % (at most ${(smallDisk.peakUsedBytes / 1024).toFixed(0)} KiB used)${unless}`,
      passed && percent < 1
    ),
    memory(
      `${megabytes(treeBytes)} (the action's process ${megabytes(mainBytes)})${unless}`,
      passed && treeBytes <= PEAK_RSS_GOAL_BYTES
    )
  ]
}

const BASELINE_TARGETS = [
  { way: 'pgcopydb', goal: 0.8, name: 'pgcopydb clone + compare data' },
  { way: 'hand', goal: 1.1, stretch: 1.0, name: 'the hand-tuned unverified copy' }
]

/**
 * The action's time over each baseline's, per layout and size: the median of each run's own ratio, as
 * the bench's tables give it. @param {any[]} summary @param {string | undefined} action
 */
function ratioTargets(summary, action) {
  const rows = []
  for (const { way, goal, stretch, name } of BASELINE_TARGETS) {
    for (const layout of ['shared', 'three']) {
      const target = `action ≤ ${goal.toFixed(2)} × ${name}, ${layout === 'three' ? '--layout three' : 'both servers on 2 shared cores'}`
      const wanted = `≤ ${goal.toFixed(2)}${stretch ? ` (stretch ≤ ${stretch.toFixed(2)})` : ''}`
      const sizes = summary.filter((s) => action && s.layouts[layout]?.ratios?.[way])
      if (!sizes.length) rows.push(notRun(23, target, wanted, ratioNotRun(summary, action, layout, way)))
      for (const size of sizes) {
        const { summaries, ratios } = size.layouts[layout]
        const ratio = ratios[way]
        if (!isNumber(ratio.perRun)) {
          rows.push(notRun(23, `${target}, ${size.sizeGb} GB`, wanted, 'no run where both passed'))
          continue
        }
        const measured = `${ratio.perRun.toFixed(2)} (${summaries[action].median} s against ${summaries[way].median} s; of the medians ${ratio.ofMedians})`
        const row = judged(23, `${target}, ${size.sizeGb} GB`, wanted, measured, ratio.perRun <= goal)
        rows.push(stretch && ratio.perRun <= stretch ? { ...row, note: 'stretch met' } : row)
      }
    }
  }
  return rows
}

/** Why no size has the action's ratio to `way` in `layout`. @param {any[]} summary @param {string | undefined} action @param {string} layout @param {string} way */
function ratioNotRun(summary, action, layout, way) {
  if (!action) return '--ways leaves the action out'
  if (!summary.some((s) => s.layouts[layout]))
    return `--layout ${layout === 'three' ? 'three' : 'shared'} (or both) not asked for`
  return `--ways leaves ${way} out`
}

/**
 * Every resumed-over-whole fraction the resume case returned: its own (a restore from the dump), and
 * any other kind it reports as a field of its own (the stream's, say), named by that field or by the
 * copy-method it names.
 * @param {any} resume
 */
export function resumeFractions(resume) {
  if (!resume || typeof resume !== 'object') return []
  const kinds = [['mode restore, from the dump', resume]]
  for (const [key, value] of Object.entries(resume))
    if (value && typeof value === 'object' && !Array.isArray(value)) kinds.push([key, value])
  return kinds
    .filter(([, value]) => isNumber(value.resumedOverWhole))
    .map(([kind, value]) => ({
      kind: value.copyMethod ? `copy-method ${value.copyMethod}` : kind,
      fraction: value.resumedOverWhole,
      killedAt: value.killedAtCopyFraction ?? value.killedAtByteFraction,
      cpuFraction: value.resumedCpuOverWhole,
      resumedSeconds: value.resumedSeconds,
      wholeSeconds: value.wholeSeconds
    }))
}

/** @param {any} resume */
function resumeTargets(resume) {
  const target = 'resume after a kill at half the rows'
  const goal = '≤ 0.60 × a full run'
  const found = resumeFractions(resume)
  if (resume?.failed) return [failedCase(23, target, goal, resume.failed)]
  if (!found.length) return [notRun(23, target, goal, resume?.skipped)]
  return found.map((r) =>
    judged(
      23,
      `${target} (${r.kind})`,
      goal,
      `${r.fraction} (${r.resumedSeconds} s against ${r.wholeSeconds} s${isNumber(r.cpuFraction) ? `, CPU ${r.cpuFraction}` : ''}; killed at ${isNumber(r.killedAt) ? `${Math.round(100 * r.killedAt)} %` : 'an unknown share'} of the data)`,
      r.fraction <= 0.6
    )
  )
}

/** sync: logical's initial copy: its sessions, and its time against the plain migrate's. @param {any} sync @param {number} jobs */
function syncCopyTargets(sync, jobs) {
  const sessions = "sync: logical's initial copy uses `jobs` sessions"
  const speed = "sync: logical's initial copy no slower than a plain migrate's"
  const sessionsGoal = `${jobs} pairs (jobs)`
  const speedGoal = "≤ 1.00 × the plain migrate's dump, restore and checksums, at 1 GB"
  if (sync?.failed)
    return [failedCase(23, sessions, sessionsGoal, sync.failed), failedCase(23, speed, speedGoal, sync.failed)]
  if (!sync || sync.skipped)
    return [notRun(23, sessions, sessionsGoal, sync?.skipped), notRun(23, speed, speedGoal, sync?.skipped)]
  const copy = sync.initialCopy ?? {}
  const unless = sync.result === 'passed' ? '' : ' (the sync did not pass)'
  const passed = sync.result === 'passed'
  const rows = [
    judged(
      23,
      sessions,
      sessionsGoal,
      `${copy.sessions ?? 'no'} pairs, copy-method ${copy.copyMethod ?? 'unknown'}${unless}`,
      passed && copy.sessions >= jobs
    )
  ]
  const against = copy.againstMigrate
  if (!against)
    rows.push(notRun(23, speed, speedGoal, 'no passing run of the action way with both servers on shared cores'))
  else
    rows.push(
      atSize(
        judged(
          23,
          `${speed}: ${sync.sizeGb} GB`,
          speedGoal,
          `${against.ratio} (${copy.seconds} s against ${against.migrateSeconds} s, median of ${against.runs})${unless}`,
          passed && against.ratio <= 1
        ),
        sync.sizeGb,
        [SYNC_COPY_TARGET_GB]
      )
    )
  return rows
}

/**
 * The downtime window after the quiet period, at the size the sync case ran (the largest database);
 * each size the target names that the run did not reach shows as not run.
 * @param {any} sync
 */
function windowTargets(sync) {
  const target = 'the downtime window after the quiet period (cutover + verify)'
  const goal = '≤ 3 s'
  const atOthers = (/** @type {number | undefined} */ measuredGb) =>
    WINDOW_TARGET_GB.filter((sizeGb) => sizeGb !== measuredGb).map((sizeGb) =>
      notRun(24, `${target}: ${sizeGb} GB`, goal, `the sync case runs on the largest database only: --sizes ${sizeGb}`)
    )
  if (sync?.failed) return [failedCase(24, target, goal, sync.failed)]
  if (!sync || sync.skipped)
    return WINDOW_TARGET_GB.map((sizeGb) => notRun(24, `${target}: ${sizeGb} GB`, goal, sync?.skipped))
  const downtime = sync.downtime
  const passed = sync.result === 'passed'
  const measured = (/** @type {number} */ afterQuiet) =>
    `${afterQuiet} s (cutover ${downtime.cutoverSeconds} s, verify ${downtime.verifySeconds} s; whole window ${downtime.seconds} s)${passed ? '' : ' (the sync did not pass)'}`
  const afterQuiet = downtime && round(downtime.cutoverSeconds + downtime.verifySeconds)
  const row = downtime
    ? judged(24, `${target}: ${sync.sizeGb} GB`, goal, measured(afterQuiet), passed && afterQuiet <= 3)
    : judged(24, `${target}: ${sync.sizeGb} GB`, goal, `no window: the sync ended ${sync.result ?? 'failed'}`, false)
  return [atSize(row, sync.sizeGb, WINDOW_TARGET_GB), ...atOthers(sync.sizeGb)]
}

/** The apply's rate, and its lag at each writer rate. @param {any} rates */
function applyTargets(rates) {
  const apply = "apply rate on the bench's change mix (a replayed backlog)"
  const lag = 'lag with a writer at 1,000 TPS, for the whole sync'
  if (rates?.failed)
    return [failedCase(24, apply, '≥ 30,000 rows/s', rates.failed), failedCase(24, lag, '< 5 s', rates.failed)]
  if (!rates || rates.skipped)
    return [notRun(24, apply, '≥ 30,000 rows/s', rates?.skipped), notRun(24, lag, '< 5 s', rates?.skipped)]
  const backlog = rates.backlog ?? {}
  const rows = [
    isNumber(backlog.rowsPerSecond)
      ? judged(
          24,
          apply,
          '≥ 30,000 rows/s',
          `${backlog.rowsPerSecond.toLocaleString('en')} rows/s (${backlog.perCpuSecond?.toLocaleString('en') ?? '?'} per CPU second)`,
          backlog.rowsPerSecond >= 30_000
        )
      : notRun(24, apply, '≥ 30,000 rows/s', `the backlog was not replayed (${backlog.result ?? 'no result'})`)
  ]
  for (const run of rates.rates ?? []) {
    const target = `lag with a writer at ${run.rate.toLocaleString('en')} TPS, after the catch-up`
    const goal = run.rate === 1000 ? '< 5 s' : 'none (reported)'
    if (!run.steadyLag) {
      rows.push(notRun(24, target, goal, `no lag sample after the catch-up (${short(run.result)})`))
      continue
    }
    const measured = `highest ${run.steadyLag.max} s, median ${run.steadyLag.median} s; the writer reached ${run.writerRate}/s; ${run.result}`
    if (run.rate !== 1000) rows.push({ issue: 24, target, goal, measured, status: 'no goal' })
    else rows.push(judged(24, target, goal, measured, run.result === 'passed' && run.steadyLag.max < 5))
  }
  if (!(rates.rates ?? []).some((/** @type {any} */ run) => run.rate === 1000)) rows.push(notRun(24, lag, '< 5 s'))
  return rows
}

/**
 * Every target of the two issues the bench can measure, from one run's results (bench/run.js's JSON):
 * `config.jobs`, `action` (the way whose ratios the summary holds), `summary`, and the cases' results.
 * A target the run did not measure says `not run`, and why when the run says.
 * @param {any} output
 * @returns {TargetRow[]}
 */
export function issueTargets(output) {
  return /** @type {TargetRow[]} */ ([
    ...smallDiskTargets(output.smallDisk),
    ...ratioTargets(output.summary ?? [], output.action),
    ...resumeTargets(output.resume),
    ...syncCopyTargets(output.sync, output.config?.jobs),
    ...applyTargets(output.syncRates),
    ...windowTargets(output.sync)
  ])
}

/** One Markdown table of the targets, and a line that counts them. @param {TargetRow[]} rows */
export function targetsTable(rows) {
  const cell = (/** @type {string} */ text) => text.replaceAll('|', '\\|')
  const lines = ['| issue | target | measured | goal | status |', '| --- | --- | --- | --- | --- |']
  for (const row of rows)
    lines.push(
      `| ${row.issue} | ${cell(row.target)} | ${cell(row.measured)} | ${cell(row.goal)} | ${row.status}${row.note ? ` (${cell(row.note)})` : ''} |`
    )
  const count = (/** @type {string} */ status) => rows.filter((row) => row.status === status).length
  lines.push('', `${count('met')} met, ${count('not met')} not met, ${count('not run')} not run`)
  return lines.join('\n')
}
