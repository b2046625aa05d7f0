// The application corpus's scorecard: per pair and app, the plan's blockers against the real restore
// and the differences each verified migration reports that it does not expect. The goal of every
// number but "predicted" and "confirmed" is 0, and --check holds it there.
import { APPS_ALLOWED } from './thresholds.js'

/**
 * @typedef {{ app: string, seconds: number, predicted: number, confirmed: number, falseBlockers: number,
 *   missed: number, superuserMissed: number, adminDiffs: number, keepDiffs: number,
 *   expected: number, expectedKinds: Record<string, number>, incomplete: string[], lists: { falseBlockers: string[], missed: string[],
 *   differences: { run: string, kind: string, object: string, detail: string, source?: unknown, target?: unknown }[] } }} AppScore
 */

/** @returns {AppScore} */
export function scoreApp(app, plan, verify, seconds) {
  const incomplete = []
  if (plan.error) incomplete.push(`plan phase: ${plan.error.split('\n')[0]}`)
  if (verify.error) incomplete.push(`verify phase: ${verify.error.split('\n')[0]}`)
  const predicted = plan.predicted ?? []
  const loop = plan.missed
  if (loop && !loop.passed) incomplete.push(`admin migration: ${loop.stopped}`)
  const runs = Object.entries(verify.runs ?? {})
  for (const [name, run] of runs) {
    if (!run.passed) incomplete.push(`superuser migration, privileges ${name}: ${run.stopped}`)
    else if (!run.verified) incomplete.push(`superuser migration, privileges ${name}: no comparison in the report`)
  }
  const unexpected = (run, list) =>
    (list ?? [])
      .filter((d) => !d.expected)
      .map((d) => ({ run, kind: d.kind, object: d.object, detail: d.detail, source: d.source, target: d.target }))
  const differences = [
    ...unexpected('admin', loop?.differences),
    ...runs.flatMap(([name, run]) => unexpected(`superuser ${name}`, run.unexpected))
  ]
  const missedEntries = [
    ...(loop?.missed ?? []).map((m) => `admin: ${m.entry}: ${m.errors[0] ?? ''}`),
    ...(loop?.revealed ?? []).map((r) => `admin, named only later: ${r.finding}: ${r.object}`)
  ]
  const superuserMissed = [
    ...runs.flatMap(([name, run]) => run.missed.map((m) => `superuser ${name}: ${m.entry}: ${m.errors[0] ?? ''}`)),
    ...(verify.revealed ?? []).map((r) => `superuser, named only later: ${r.finding}: ${r.object}`)
  ]
  const wrong = predicted.filter((p) => p.status !== 'confirmed')
  const expected = [...(loop?.differences ?? []), ...runs.flatMap(([, run]) => run.expected)].filter((d) => d.expected)
  return {
    app,
    seconds,
    predicted: predicted.length,
    confirmed: predicted.length - wrong.length,
    falseBlockers: wrong.length,
    missed: missedEntries.length,
    superuserMissed: superuserMissed.length,
    adminDiffs: differences.filter((d) => d.run === 'admin').length,
    keepDiffs: differences.filter((d) => d.run === 'superuser keep').length,
    expected: expected.length,
    expectedKinds: Object.fromEntries(
      [...new Set(expected.map((d) => d.kind))].map((kind) => [kind, expected.filter((d) => d.kind === kind).length])
    ),
    incomplete,
    lists: {
      falseBlockers: wrong.map((p) => `[${p.status}] ${p.finding}: ${p.object}`),
      missed: [...missedEntries, ...superuserMissed],
      differences
    }
  }
}

const COLUMNS = /** @type {const} */ ([
  ['predicted', 'blockers predicted (admin)'],
  ['confirmed', 'confirmed'],
  ['falseBlockers', 'false'],
  ['missed', 'missed (admin)'],
  ['superuserMissed', 'missed (superuser)'],
  ['adminDiffs', 'differences admin (skip)'],
  ['keepDiffs', 'differences superuser (keep)']
])

/** One table per pair: an app per row, the numbers per column, the apps' total last. */
export function formatAppScorecard(results) {
  const lines = []
  for (const pair of results.pairs) {
    lines.push(`Applications, PostgreSQL ${pair.source} → ${pair.target} (${pair.seconds} s)`)
    lines.push(
      `  ${'app'.padEnd(18)}${COLUMNS.map(([, label]) => label.padStart(label.length + 2)).join('')}   seconds`
    )
    const total = Object.fromEntries(COLUMNS.map(([key]) => [key, 0]))
    for (const score of pair.scores) {
      for (const [key] of COLUMNS) total[key] += score[key]
      const flag = score.incomplete.length ? '  INCOMPLETE' : ''
      lines.push(`  ${score.app.padEnd(18)}${cells(score)}${`${score.seconds}`.padStart(10)}${flag}`)
    }
    lines.push(`  ${'total'.padEnd(18)}${cells(total)}`)
  }
  const failedLoads = results.loads.filter((l) => !l.loaded)
  for (const load of failedLoads) lines.push(`not loaded on ${load.sourceMajor}: ${load.app}: ${load.error}`)
  lines.push(
    `Packages: ${results.apps.map((a) => a.versions.map((v) => `${v.package} ${v.version}`).join(' + ')).join(', ')}`
  )
  lines.push(`Wall time: ${results.seconds} s`)
  return lines.join('\n')
}

function cells(score) {
  return COLUMNS.map(([key, label]) => `${score[key]}`.padStart(label.length + 2)).join('')
}

/** The lists behind the numbers, for the log. */
export function formatAppDetails(results) {
  const lines = []
  for (const pair of results.pairs) {
    for (const score of pair.scores) {
      const { falseBlockers, missed, differences } = score.lists
      if (!falseBlockers.length && !missed.length && !differences.length && !score.incomplete.length) continue
      lines.push(`${pair.source} → ${pair.target} ${score.app}:`)
      for (const line of [...score.incomplete.map((i) => `incomplete: ${i}`), ...falseBlockers, ...missed])
        lines.push(`  ${line}`)
      for (const d of differences) lines.push(`  [${d.run}] ${d.kind} ${d.object}: ${d.detail}`)
    }
  }
  return lines.join('\n')
}

/**
 * What --check fails on: every number whose goal is 0 above what APPS_ALLOWED allows, a run that
 * stopped, an app that did not load; and where a number is below its allowance, a note to tighten it.
 * @param {any} results @param {Record<string, Record<string, Record<string, number>>>} [allowed]
 */
export function appFailures(results, allowed = APPS_ALLOWED) {
  const failures = results.loads.filter((l) => !l.loaded).map((l) => `${l.app} did not load on ${l.sourceMajor}`)
  const tighten = []
  for (const pair of results.pairs) {
    for (const score of pair.scores) {
      const where = `${pair.source} → ${pair.target} ${score.app}`
      const allowance = allowed[`${pair.source}-${pair.target}`]?.[score.app] ?? {}
      for (const [key, label] of COLUMNS.slice(2)) {
        const limit = allowance[key] ?? 0
        if (score[key] > limit) failures.push(`${where}: ${label} ${score[key]} (allowed ${limit})`)
        else if (score[key] < limit) tighten.push(`${where}: ${label} ${score[key]}, allowed ${limit}`)
      }
      for (const stop of score.incomplete) failures.push(`${where}: ${stop}`)
    }
  }
  return { failures, tighten }
}
