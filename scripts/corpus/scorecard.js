// The scorecard: the numbers, as a table for people and as JSON, and the check against the allowance.
import { ALLOWED, GOAL } from './thresholds.js'

/** The numbers the check looks at, from the phases' results (absent when the phase did not run). */
export function measure(results) {
  const plan = results.plan
  const verify = results.verify
  /** @type {Partial<Record<keyof typeof GOAL, number>>} */
  const numbers = {}
  if (plan) {
    numbers.falseBlockers = plan.predicted.filter((p) => p.status === 'false').length
    numbers.unresolvedBlockers = plan.predicted.filter((p) => p.status === 'unresolved').length
    numbers.missedBlockers = plan.missed.missed.length
    numbers.revealedBlockers = plan.missed.revealed.length
  }
  if (verify) {
    numbers.superuserMissedBlockers = verify.runs.skip.missed.length + verify.runs.keep.missed.length
    numbers.unexpectedSkip = verify.runs.skip.unexpected.length
    numbers.unexpectedKeep = verify.runs.keep.unexpected.length
  }
  return numbers
}

/** Runs that stopped before an answer: their numbers are lower bounds, and the check fails on them. */
export function incomplete(results) {
  const stops = []
  if (results.plan?.confirmation.error) stops.push(`plan, confirmation: ${results.plan.confirmation.error.slice(-500)}`)
  if (results.plan && !results.plan.missed.passed) stops.push(`plan, missed blockers: ${results.plan.missed.stopped}`)
  for (const [name, run] of Object.entries(results.verify?.runs ?? {})) {
    if (!run.passed) stops.push(`verify ${name}: ${run.stopped}`)
    else if (!run.verified) stops.push(`verify ${name}: the run passed the restore but wrote no comparison`)
  }
  return stops
}

/**
 * @param {string} pair e.g. 14-17-suite15
 * @param {ReturnType<typeof measure>} numbers
 * @returns {{ failures: string[], tighten: string[], allowed: typeof GOAL }}
 */
export function check(pair, numbers) {
  const allowed = ALLOWED[pair] ?? GOAL
  const failures = []
  const tighten = []
  for (const [name, value] of Object.entries(numbers)) {
    const limit = allowed[/** @type {keyof typeof GOAL} */ (name)]
    if (value > limit) failures.push(`${name}: ${value}, allowed ${limit}`)
    else if (value < limit)
      tighten.push(`${name}: ${value}, allowed ${limit} (lower it in scripts/corpus/thresholds.js)`)
  }
  return { failures, tighten, allowed }
}

const LABELS = {
  falseBlockers: 'false blockers',
  unresolvedBlockers: 'blockers the corpus could not map to an object',
  missedBlockers: 'missed blockers',
  revealedBlockers: 'blockers named only once the first ones were dropped',
  superuserMissedBlockers: 'missed blockers (superuser target)',
  unexpectedSkip: 'unexpected differences, privileges skip',
  unexpectedKeep: 'unexpected differences, privileges keep'
}

/** The table people read; details follow it, grouped. */
export function formatScorecard(results, numbers, allowed) {
  const lines = []
  const row = (label, value, key) =>
    lines.push(
      `  ${label.padEnd(52)} ${String(value).padStart(7)}${key ? `${String(allowed[key]).padStart(9)}${String(GOAL[key]).padStart(6)}` : ''}`
    )
  const { facts } = results
  lines.push(
    `Corpus scorecard: PostgreSQL ${facts.sourceVersion} → ${facts.targetVersion}, regression suite ${facts.suiteVersion}` +
      ` (${facts.relations} relations, ${facts.tables} tables, ${(facts.bytes / 1048576).toFixed(1)} MiB)`
  )
  lines.push(`  ${''.padEnd(52)} ${'measured'.padStart(7)}${'allowed'.padStart(9)}${'goal'.padStart(6)}`)
  if (results.plan) {
    const p = results.plan.predicted
    lines.push('Plan, target login without superuser (admin), privileges skip')
    row('blockers predicted (objects)', p.length)
    for (const id of new Set(p.map((x) => x.finding))) {
      const of = p.filter((x) => x.finding === id)
      const confirmed = of.filter((x) => x.status === 'confirmed').length
      row(`  ${id} (${confirmed} confirmed)`, of.length)
    }
    row('  confirmed by the restore as admin', p.filter((x) => x.status === 'confirmed').length)
    row('    of which only by "does not exist" (a consequence)', p.filter((x) => x.onlyConsequence).length)
    row(LABELS.falseBlockers, numbers.falseBlockers, 'falseBlockers')
    row(LABELS.unresolvedBlockers, numbers.unresolvedBlockers, 'unresolvedBlockers')
    row(LABELS.missedBlockers, numbers.missedBlockers, 'missedBlockers')
    row(LABELS.revealedBlockers, numbers.revealedBlockers, 'revealedBlockers')
    row('  restore rounds on the copy', results.plan.missed.rounds)
    row('  failed TOC entries in the confirming restore', results.plan.confirmation.failedEntries)
    row('  of which no predicted blocker owns', results.plan.confirmation.unexplained.length)
  }
  if (results.verify) {
    lines.push('Verify, target login superuser (postgres)')
    row('blockers predicted (objects), removed from the copy', results.verify.findings.flatMap((f) => f.objects).length)
    row(LABELS.superuserMissedBlockers, numbers.superuserMissedBlockers, 'superuserMissedBlockers')
    for (const name of ['skip', 'keep']) {
      const run = results.verify.runs[name]
      const key = name === 'skip' ? 'unexpectedSkip' : 'unexpectedKeep'
      row(LABELS[key], numbers[key], key)
      for (const [kind, n] of byKind(run.unexpected)) row(`  ${kind}`, n)
      row(`expected differences, privileges ${name}`, run.expected.length)
      for (const [kind, n] of byKind(run.expected)) row(`  ${kind}`, n)
    }
  }
  lines.push('Wall time')
  for (const t of results.timings) lines.push(`  ${t.phase.padEnd(52)} ${`${t.seconds} s`.padStart(9)}`)
  return lines.join('\n')
}

/** @param {{ kind: string }[]} differences */
export function byKind(differences) {
  const counts = new Map()
  for (const d of differences) counts.set(d.kind, (counts.get(d.kind) ?? 0) + 1)
  return [...counts.entries()]
}

/** The lists behind the numbers, for the log: every false, unresolved and missed blocker, every unexpected difference. */
export function formatDetails(results) {
  const lines = []
  if (results.plan) {
    const wrong = results.plan.predicted.filter((p) => p.status !== 'confirmed')
    if (wrong.length) lines.push('False or unresolved blockers:')
    for (const p of wrong)
      lines.push(
        `  [${p.status}] ${p.finding}: ${p.object}${p.ownedBy ? ` (owned by ${p.ownedBy})` : ''}${p.toc.length ? ` — TOC: ${p.toc.join('; ')}` : ' — no TOC entry of its own'}`
      )
    if (results.plan.missed.revealed.length)
      lines.push('Blockers the plan named only once the first ones were dropped from the copy:')
    for (const r of results.plan.missed.revealed) lines.push(`  ${r.finding}: ${r.object}`)
    const failedDrops = results.plan.missed.drops.filter((d) => d.status === 'failed')
    if (failedDrops.length) lines.push('Objects the corpus could not drop from the copy:')
    for (const d of failedDrops) lines.push(`  ${d.sql}: ${d.error}`)
    if (results.plan.missed.missed.length) lines.push('Missed blockers (non-superuser target):')
    for (const m of results.plan.missed.missed)
      lines.push(`  ${m.entry}: ${m.errors[0] ?? ''}${m.dropped ? ` → ${m.dropped}` : ''}`)
  }
  for (const [name, run] of Object.entries(results.verify?.runs ?? {})) {
    if (run.missed.length) lines.push(`Missed blockers (superuser target, privileges ${name}):`)
    for (const m of run.missed) lines.push(`  ${m.entry}: ${m.errors[0] ?? ''}${m.dropped ? ` → ${m.dropped}` : ''}`)
    if (run.unexpected.length) lines.push(`Unexpected differences, privileges ${name}:`)
    for (const d of run.unexpected) lines.push(`  ${d.kind} ${d.object}: ${d.detail}`)
  }
  return lines.join('\n')
}
