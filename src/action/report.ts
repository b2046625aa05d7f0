import * as core from '@actions/core'
import fs from 'node:fs'
import path from 'node:path'
import type { UploadedArtifact, UploadSkipped } from '../artifact/store.js'
import type { Comparison } from '../verify/compare.js'
import type { Fingerprint } from '../verify/fingerprint/index.js'
import type { Mode } from './inputs.js'
import type { Finding } from '../plan/findings.js'

export type RunResult = 'passed' | 'failed' | 'planned'

/** How long one stage took; the summary's first table and the log's groups read the same. */
export interface StageTiming {
  stage: string
  database?: string
  seconds: number
  /** `running` while it runs: a cancelled run's report shows what was cut short. */
  status: 'ok' | 'failed' | 'skipped' | 'running'
  detail?: string
}

/** One database's part of the run. */
export interface DatabaseReport {
  /** Source database name. */
  name: string
  /** Target database name. */
  target: string
  findings: Finding[]
  /** What `clean` dropped from the target before the restore. */
  cleaned?: string[]
  /** Roles created NOLOGIN on the target because the dump names them. */
  createdRoles?: string[]
  dump?: { path: string; bytes: number; files: number; snapshot?: string; seconds: number }
  /** The run wrote to the target database and did not undo it: a cancelled run says so. */
  targetTouched?: boolean
  /** `followed`: tables loaded while pg_dump wrote them (see restore-follow.ts). */
  restore?: { seconds: number; items: number; followed?: string[] }
  /** Transactions that wrote on the source server (any database) while the migration ran: not in the copy, by design of the snapshot. */
  writesDuringRun?: number
  sourceFingerprint?: Fingerprint
  targetFingerprint?: Fingerprint
  comparison?: Comparison
  /** A few primary keys of differing rows, per table. */
  differingRows?: Record<string, string[]>
  error?: { stage: string; message: string; hint?: string }
}

/** The whole run: the JSON report is this value, the summary and outputs are read from it. */
export interface RunReport {
  mode: Mode
  result: RunResult
  startedAt: string
  durationSeconds: number
  sourceVersion?: string
  targetVersion?: string
  clientVersion?: string
  dumpPath?: string
  mismatches: number
  stages: StageTiming[]
  databases: DatabaseReport[]
  artifact?: UploadedArtifact | UploadSkipped | { failed: string }
  error?: { stage?: string; message: string; hint?: string }
  /** The signal that cancelled the run (the runner sends SIGINT, then SIGTERM). */
  cancelled?: NodeJS.Signals
}

export function newReport(mode: Mode): RunReport {
  return {
    mode,
    result: 'failed',
    startedAt: new Date().toISOString(),
    durationSeconds: 0,
    mismatches: 0,
    stages: [],
    databases: []
  }
}

/**
 * Runs a stage inside a log group and records its timing, also when it throws. A stage that runs
 * beside another (the upload) passes grouped false: log groups cannot overlap.
 */
export async function timed<T>(
  report: RunReport,
  stage: string,
  database: string | undefined,
  work: () => Promise<T>,
  grouped = true
): Promise<T> {
  const timing = startTiming(report, stage, database)
  try {
    const value = grouped ? await core.group(database ? `${stage}: ${database}` : stage, work) : await work()
    timing.ok()
    return value
  } catch (error) {
    timing.failed(error)
    throw error
  }
}

/** A stage's timing, started now and shown as running until it ends: for a stage that begins inside another. */
export function startTiming(
  report: RunReport,
  stage: string,
  database: string | undefined
): { ok(): void; failed(error: unknown): void } {
  const started = performance.now()
  const timing: StageTiming = { stage, database, seconds: 0, status: 'running' }
  report.stages.push(timing)
  return {
    ok: () => Object.assign(timing, { seconds: elapsed(started), status: 'ok' }),
    failed: (error) =>
      Object.assign(timing, { seconds: elapsed(started), status: 'failed', detail: (error as Error).message })
  }
}

const elapsed = (started: number): number => Math.round((performance.now() - started) / 10) / 100

export function writeJsonReport(report: RunReport, reportPath: string): void {
  fs.mkdirSync(path.dirname(reportPath), { recursive: true })
  fs.writeFileSync(reportPath, JSON.stringify(report, null, 2) + '\n')
}

const ICON: Record<RunResult, string> = { passed: '✅', failed: '❌', planned: '📋' }

function headline(report: RunReport): string {
  const versions = [
    report.sourceVersion && `source ${report.sourceVersion}`,
    report.targetVersion && `target ${report.targetVersion}`,
    report.clientVersion && `client ${report.clientVersion}`
  ]
    .filter(Boolean)
    .join(', ')
  return `${ICON[report.result]} pg-migrate ${report.mode}: ${report.result}${versions ? ` (${versions})` : ''} in ${report.durationSeconds}s`
}

/** The job summary: what happened, per stage, then per database with differences first. */
export async function writeSummary(report: RunReport): Promise<void> {
  const summary = core.summary.addHeading(headline(report), 2)
  if (report.error) {
    summary.addRaw(
      `**${report.error.stage ? `${report.error.stage} failed` : 'Failed'}:** ${escape(report.error.message)}`,
      true
    )
    if (report.error.hint) summary.addRaw(`\n\n**Fix:** ${escape(report.error.hint)}`, true)
  }
  summary.addTable(
    filled([
      [
        { data: 'Stage', header: true },
        { data: 'Database', header: true },
        { data: 'Seconds', header: true },
        { data: 'Status', header: true }
      ],
      ...report.stages.map((s) => [
        s.stage,
        s.database ?? '',
        s.seconds.toFixed(2),
        s.status === 'ok' ? 'ok' : `${s.status}${s.detail ? `: ${escape(s.detail)}` : ''}`
      ])
    ])
  )
  if (report.artifact) summary.addRaw(`\n**Artifact:** ${artifactLine(report.artifact)}\n`, true)
  for (const database of report.databases) addDatabase(database)
  if (process.env.GITHUB_STEP_SUMMARY) await summary.write()
}

function artifactLine(artifact: NonNullable<RunReport['artifact']>): string {
  if ('failed' in artifact) return `upload failed: ${escape(artifact.failed)}`
  if ('skipped' in artifact) return escape(artifact.reason)
  return `${artifact.url ? `[${artifact.name}](${artifact.url})` : artifact.name} (${artifact.size} bytes, ${artifact.digest})`
}

function addDatabase(database: DatabaseReport): void {
  const summary = core.summary
  const title = database.name === database.target ? database.name : `${database.name} → ${database.target}`
  summary.addHeading(`Database ${escape(title)}`, 3)
  if (database.error) summary.addRaw(`**${database.error.stage} failed:** ${escape(database.error.message)}\n`, true)
  if (database.findings.length > 0) {
    summary.addTable(
      filled([
        [
          { data: 'Severity', header: true },
          { data: 'Finding', header: true },
          { data: 'Objects', header: true },
          { data: 'What to do', header: true }
        ],
        ...[...database.findings]
          .sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'blocker' ? -1 : 1))
          .map((f) => [f.severity, escape(f.message), escape(abbreviate(f.objects)), escape(f.hint)])
      ])
    )
  }
  if (database.cleaned?.length)
    summary.addRaw(`Cleaned from the target first: ${escape(abbreviate(database.cleaned))}\n`, true)
  if (database.createdRoles?.length)
    summary.addRaw(`Roles created NOLOGIN on the target: ${escape(database.createdRoles.join(', '))}\n`, true)
  if (database.restore?.followed?.length)
    summary.addRaw(
      `Restored while the dump ran: schema first, then ${database.restore.followed.length} tables loaded as pg_dump wrote them (${escape(abbreviate(database.restore.followed))}).\n`,
      true
    )
  if (database.writesDuringRun) {
    summary.addRaw(
      `⚠️ ${database.writesDuringRun} transactions wrote on the source server during the run; the copy holds the snapshot taken at the dump's start.\n`,
      true
    )
  }
  const comparison = database.comparison
  if (!comparison) return
  const unexpected = comparison.differences.filter((d) => !d.expected)
  summary.addRaw(
    `\nVerification: ${unexpected.length === 0 ? 'no differences' : `**${unexpected.length} differences**`}`,
    true
  )
  const expected = comparison.differences.length - unexpected.length
  if (expected > 0)
    summary.addRaw(` (${expected} expected from the chosen options, e.g. owners and privileges skipped)`, true)
  summary.addRaw('\n', true)
  if (unexpected.length > 0) {
    summary.addTable(
      filled([
        [
          { data: 'Kind', header: true },
          { data: 'Object', header: true },
          { data: 'Source', header: true },
          { data: 'Target', header: true },
          { data: 'Detail', header: true }
        ],
        ...unexpected
          .slice(0, 100)
          .map((d) => [
            d.kind,
            escape(d.object),
            escape(String(d.source ?? '')),
            escape(String(d.target ?? '')),
            escape(detailWithRows(d.detail, database.differingRows?.[d.object]))
          ])
      ])
    )
  }
  const source = database.sourceFingerprint
  const target = database.targetFingerprint
  if (source && target) {
    const targetTables = new Map(target.tables.map((t) => [`${t.schema}.${t.name}`, t]))
    const rows = source.tables.map((t) => {
      const key = `${t.schema}.${t.name}`
      const other = targetTables.get(key)
      const same = other !== undefined && other.rows === t.rows && other.checksum === t.checksum
      return {
        key,
        same,
        cells: [
          escape(key),
          String(t.rows),
          String(other?.rows ?? 'missing'),
          t.checksum === null ? 'not computed' : same ? 'equal' : 'differs'
        ]
      }
    })
    rows.sort((a, b) => Number(a.same) - Number(b.same) || a.key.localeCompare(b.key))
    summary.addDetails(
      `Tables (${rows.length})`,
      '\n\n' +
        markdownTable(
          ['Table', 'Source rows', 'Target rows', 'Checksum'],
          rows.slice(0, 500).map((r) => r.cells)
        )
    )
  }
}

function detailWithRows(detail: string | undefined, keys: string[] | undefined): string {
  const rows = keys?.length ? `differing keys: ${keys.join(', ')}` : ''
  return [detail, rows].filter(Boolean).join('; ')
}

function markdownTable(header: string[], rows: string[][]): string {
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n') + '\n'
}

function abbreviate(items: string[], limit = 10): string {
  return items.length <= limit
    ? items.join(', ')
    : `${items.slice(0, limit).join(', ')} and ${items.length - limit} more`
}

/** core.summary writes an empty cell as an unclosed `<td>`, which breaks the table: show a dash. */
function filled<T>(rows: (string | T)[][]): (string | T)[][] {
  return rows.map((row) => row.map((cell) => (cell === '' ? '—' : cell)))
}

/** Object names come from the database: never let them become markup. */
function escape(text: string): string {
  return text.replace(/[&<>|]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '|': '\\|' })[c] as string)
}
