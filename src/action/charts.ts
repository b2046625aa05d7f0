import type { LagSample } from '../sync/lag.js'
import type { RunReport } from './report.js'
import type { StageTiming } from './stages.js'

/**
 * Mermaid charts for the job summary, which GitHub draws in place of a `mermaid` code block. Every
 * word in them is the action's own (stage names, fixed titles) or a number: a database name goes in
 * only when it is plain letters, digits and `_ . -`, since Mermaid has no escape that every diagram
 * type honours. The text beside the charts stays the record; a chart only shows its shape.
 */

/** A name Mermaid reads as plain text in a section title, else undefined. */
function plainName(name: string): string | undefined {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/.test(name) ? name : undefined
}

/** Stage words are the action's own; checked all the same, so a new stage cannot break the chart. */
function taskLabel(stage: string): string {
  return stage.replace(/[^A-Za-z0-9 ]/g, ' ').trim() || 'stage'
}

const STATUS_TAG: Record<StageTiming['status'], string> = {
  ok: 'done, ',
  failed: 'crit, ',
  running: 'active, ',
  skipped: ''
}

/**
 * The stages on a time line, one section per database: stages that ran side by side (the restore
 * beside the dump, the source's checksums beside the restore) are drawn overlapping. Times are the
 * run's own clock (`startedAt` plus each stage's start), shown as the reader's local time of day.
 */
export function stagesChart(report: Pick<RunReport, 'startedAt' | 'stages' | 'databases'>): string | undefined {
  const origin = Date.parse(report.startedAt)
  const timed = report.stages.filter(
    (s): s is StageTiming & { start: number } => s.start !== undefined && s.status !== 'skipped'
  )
  if (timed.length === 0 || Number.isNaN(origin)) return undefined
  const sections = new Map<string, string[]>()
  const databases = report.databases.map((d) => d.name)
  for (const stage of timed) {
    const index = stage.database === undefined ? -1 : databases.indexOf(stage.database)
    const title =
      stage.database === undefined
        ? 'Run'
        : (plainName(stage.database) ?? `Database ${index >= 0 ? index + 1 : databases.length + 1}`)
    const startMs = Math.round(origin + stage.start * 1000)
    // A bar at least 10 ms long: Mermaid draws nothing for one that ends where it starts.
    const endMs = Math.max(startMs + 10, Math.round(origin + (stage.start + stage.seconds) * 1000))
    const tasks = sections.get(title) ?? []
    tasks.push(`    ${taskLabel(stage.stage)} :${STATUS_TAG[stage.status]}${startMs}, ${endMs}`)
    sections.set(title, tasks)
  }
  const lines = [
    'gantt',
    '    title Stages over time',
    '    dateFormat x',
    '    axisFormat %H:%M:%S',
    `    tickInterval ${tickInterval(Math.max(...timed.map((s) => s.start + s.seconds)))}`,
    '    todayMarker off'
  ]
  for (const [title, tasks] of sections) lines.push(`    section ${title}`, ...tasks)
  return mermaidBlock(lines)
}

/** About ten ticks on the time axis, at a round interval: the axis shows seconds, so never finer than one. */
function tickInterval(seconds: number): string {
  const steps: [number, string][] = [
    [1, '1second'],
    [5, '5second'],
    [10, '10second'],
    [30, '30second'],
    [60, '1minute'],
    [300, '5minute'],
    [600, '10minute'],
    [1800, '30minute']
  ]
  return steps.find(([step]) => seconds / step <= 12)?.[1] ?? '1hour'
}

/**
 * The sync's lag as a line: seconds behind the source against seconds into the stream. The samples
 * are evenly spread already (thinSamples), which is how xychart-beta places a line's points.
 */
export function lagChart(samples: LagSample[] | undefined): string | undefined {
  if (!samples || samples.length < 2) return undefined
  const last = samples[samples.length - 1].at
  const highest = Math.max(...samples.map((s) => s.lag))
  const number = (value: number): string => String(Math.round(value * 100) / 100)
  return mermaidBlock([
    // Half the default height, so the chart sits in the text; the default line colour is too pale to read on white.
    '%%{init: {"xyChart": {"height": 260}, "themeVariables": {"xyChart": {"plotColorPalette": "#0969da"}}}}%%',
    'xychart-beta',
    '    title "Lag behind the source"',
    `    x-axis "Seconds into the sync" ${number(samples[0].at)} --> ${number(Math.max(last, samples[0].at + 1))}`,
    `    y-axis "Seconds behind" 0 --> ${number(Math.max(1, Math.ceil(highest)))}`,
    `    line [${samples.map((s) => number(s.lag)).join(', ')}]`
  ])
}

function mermaidBlock(lines: string[]): string {
  return ['```mermaid', ...lines, '```'].join('\n')
}
