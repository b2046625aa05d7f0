// The benchmark's summary: medians per way, the action's ratios against each baseline measured in
// the same run, CPU per side, peak RSS, and a Markdown table to quote.
import { median, mib, round } from './processes.js'

/**
 * @typedef {{ seconds: number, cpu: { runner: number, source: number, target: number, bench: number },
 *   otherLoadPercent: number, rss: { mainBytes: number, treeBytes: number }, failed?: string }} WayRun
 */

/**
 * Medians of one way's runs (failed runs left out).
 * @param {WayRun[]} runs @param {number} cores
 */
export function summarise(runs, cores) {
  const ok = runs.filter((r) => !r.failed)
  const m = (/** @type {(r: WayRun) => number} */ pick) => round(median(ok.map(pick)), 1)
  const cpu = { runner: m((r) => r.cpu.runner), source: m((r) => r.cpu.source), target: m((r) => r.cpu.target) }
  return {
    runs: runs.length,
    failed: runs.length - ok.length,
    seconds: ok.map((r) => r.seconds),
    median: m((r) => r.seconds),
    cpu,
    cpuTotal: m((r) => r.cpu.runner + r.cpu.source + r.cpu.target),
    // No side can finish before its own CPU seconds are spent on the cores it has: with each side on
    // a machine of its own as big as this one, the copy cannot take less than this.
    threeMachineBound: m((r) => Math.max(r.cpu.runner, r.cpu.source, r.cpu.target) / cores),
    peakRss: {
      mainBytes: Math.max(0, ...ok.map((r) => r.rss.mainBytes)),
      treeBytes: Math.max(0, ...ok.map((r) => r.rss.treeBytes))
    },
    otherLoadPercent: { median: m((r) => r.otherLoadPercent), max: Math.max(0, ...ok.map((r) => r.otherLoadPercent)) }
  }
}

/**
 * The action's time over each baseline's: of the medians, and the median of each run's own ratio
 * (the ways of one run ran minutes apart, so it is steadier when the machine's speed drifts).
 * @param {Record<string, WayRun[]>} byWay @param {string} action
 */
export function ratios(byWay, action) {
  /** @type {Record<string, { ofMedians: number, perRun: number }>} */
  const out = {}
  const mine = byWay[action] ?? []
  for (const [way, runs] of Object.entries(byWay)) {
    if (way === action) continue
    const perRun = mine
      .map((r, i) => (r.failed || runs[i]?.failed ? NaN : r.seconds / runs[i].seconds))
      .filter(Number.isFinite)
    const okMine = mine.filter((r) => !r.failed).map((r) => r.seconds)
    const okTheirs = runs.filter((r) => !r.failed).map((r) => r.seconds)
    out[way] = { ofMedians: round(median(okMine) / median(okTheirs), 2), perRun: round(median(perRun), 2) }
  }
  return out
}

/**
 * A Markdown table of one size and layout.
 * @param {Record<string, ReturnType<typeof summarise>>} summaries @param {Record<string, { ofMedians: number, perRun: number }>} actionRatios
 * @param {Record<string, string>} labels @param {string} action
 */
export function markdownTable(summaries, actionRatios, labels, action) {
  const rows = [
    "| way | seconds (runs) | median | CPU s runner / source / target | three-machine bound | peak RSS (main / runner tree) | the action's ratio |",
    '| --- | --- | --- | --- | --- | --- | --- |'
  ]
  for (const [way, s] of Object.entries(summaries)) {
    const label = labels[way] ?? labels[way.replace(/\[.*$/, '')] ?? way
    const name = way === label ? way : `${label}${way.includes('[') ? ` ${way.slice(way.indexOf('['))}` : ''}`
    const ratio = way === action ? '–' : actionRatios[way] ? `${actionRatios[way].perRun.toFixed(2)}` : ''
    rows.push(
      `| ${name.replaceAll('|', '\\|')} | ${s.seconds.map((x) => x.toFixed(1)).join(' / ')}${s.failed ? ` (${s.failed} failed)` : ''} | ${s.median.toFixed(1)} s |` +
        ` ${s.cpu.runner} / ${s.cpu.source} / ${s.cpu.target} | ${s.threeMachineBound.toFixed(1)} s |` +
        ` ${mib(s.peakRss.mainBytes)} / ${mib(s.peakRss.treeBytes)} | ${ratio} |`
    )
  }
  return rows.join('\n')
}
