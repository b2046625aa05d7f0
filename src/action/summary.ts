import { count, thousands } from '../base/text.js'
import type { Finding } from '../plan/findings.js'
import type { Difference } from '../verify/compare.js'
import type { Fingerprint } from '../verify/fingerprint/index.js'
import type { DatabaseReport, ResumeReport, RunReport, RunResult } from './report.js'
import { stagesChart } from './charts.js'
import { civoLine } from './summary-civo.js'
import { diskNote, streamNote } from './summary-stream.js'
import { abbreviate, details, inline, table } from './summary-markdown.js'
import { syncBlocks } from './summary-sync.js'
import { targetWorkNote } from './summary-target.js'

/**
 * The job summary as GitHub renders it (GitHub Flavored Markdown): blocks apart by blank lines,
 * tables with escaped cells, long lists folded in <details>. Every count a reader can check; no
 * checksum sums, which mean nothing to a person.
 */
export function renderSummary(report: RunReport): string {
  const blocks: string[] = [`## ${headline(report)}`]
  if (report.error) {
    const where = report.error.stage ? `${report.error.stage} failed` : 'Failed'
    blocks.push(`**${where}:** ${inline(report.error.message)}`)
    if (report.error.hint) blocks.push(`**Fix:** ${inline(report.error.hint)}`)
  }
  if (report.stages.length > 0) {
    blocks.push(
      table(
        ['Stage', 'Database', 'Seconds', 'Status'],
        report.stages.map((s) => [
          s.stage,
          s.database ?? '',
          s.seconds.toFixed(2),
          s.status === 'ok' ? 'ok' : `${s.status}${s.detail ? `: ${s.detail}` : ''}`
        ])
      )
    )
    const overlapping = sideBySide(report.stages)
    if (overlapping.length > 0)
      blocks.push(
        `${inline(overlapping.join(', '))} ran side by side, so the stages' seconds add up to more than the run's ${report.durationSeconds} s.`
      )
    const chart = stagesChart(report)
    if (chart) blocks.push(chart)
  }
  if (report.civo) blocks.push(civoLine(report.civo, { inline, count }))
  if (report.artifact) blocks.push(`**Artifact:** ${artifactLine(report.artifact)}`)
  // A public repository's summary is public: it names tables and counts, never a row's key.
  const shown: KeysShown = report.visibility === 'public' ? 'counted' : 'listed'
  for (const database of report.databases) blocks.push(...databaseBlocks(database, shown))
  return blocks.join('\n\n') + '\n'
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

/** The stages whose time overlaps another's (the restore follows the dump, checksums run beside it). */
function sideBySide(stages: RunReport['stages']): string[] {
  const timed = stages.flatMap((s) => (s.start === undefined ? [] : [{ ...s, start: s.start }]))
  const overlap = (a: (typeof timed)[number], b: (typeof timed)[number]): boolean =>
    a.start < b.start + b.seconds && b.start < a.start + a.seconds
  const overlapping = timed.filter((a) => timed.some((b) => b !== a && overlap(a, b)))
  return [...new Set(overlapping.map((s) => s.stage))]
}

function artifactLine(artifact: NonNullable<RunReport['artifact']>): string {
  if ('failed' in artifact) return `upload failed: ${inline(artifact.failed)}`
  if ('skipped' in artifact) return `not uploaded: ${inline(artifact.reason)}; ${inline(artifact.instead)}`
  const name = artifact.url ? `[${inline(artifact.name)}](${artifact.url})` : inline(artifact.name)
  return `${name} (${count(artifact.size, 'byte')}, ${artifact.digest}${artifact.encrypted ? ', encrypted with age' : ''})`
}

/** Keys of differing rows: listed, or in a public repository only counted. */
type KeysShown = 'listed' | 'counted'

function databaseBlocks(database: DatabaseReport, shown: KeysShown): string[] {
  const title = database.name === database.target ? database.name : `${database.name} → ${database.target}`
  const blocks = [`### Database ${inline(title)}`]
  if (database.error) blocks.push(`**${database.error.stage ?? 'Run'} failed:** ${inline(database.error.message)}`)
  if (database.findings.length > 0) blocks.push(...findingBlocks(database.findings))
  blocks.push(...scopeAndResumeBlocks(database))
  const notes: string[] = []
  if (database.cleaned?.length) notes.push(`Cleaned from the target first: ${inline(abbreviate(database.cleaned))}.`)
  if (database.createdRoles?.length)
    notes.push(`Roles created NOLOGIN on the target: ${inline(database.createdRoles.join(', '))}.`)
  if (database.restoredAs)
    notes.push(
      `Restored as ${inline(database.restoredAs)}, which owns what it restored and cannot log in after the run: the source's functions ran without the target login's rights.`
    )
  const targetWork = database.targetWork && targetWorkNote(database.targetWork)
  if (targetWork) notes.push(targetWork)
  if (database.disk) notes.push(diskNote(database.disk, database.copyMethod?.method))
  if (database.stream) notes.push(streamNote(database.stream, database.copyMethod?.why))
  else if (database.restore) {
    const followed = database.restore.followed ?? []
    notes.push(
      followed.length > 0
        ? `Restored while the dump ran: schema first, then ${count(followed.length, 'table')} loaded as pg_dump wrote them (${inline(abbreviate(followed))}).`
        : `Restored the dump: ${count(database.restore.items, 'entry', 'entries')} (the schema's objects and the tables' rows).`
    )
  }
  if (database.writesDuringRun)
    notes.push(
      `⚠️ ${count(database.writesDuringRun, 'transaction')} wrote on the source server during the run; the copy holds the snapshot taken at the dump's start.`
    )
  if (notes.length > 0) blocks.push(notes.join('\n'))
  if (database.sync) blocks.push(...syncBlocks(database.sync))
  if (database.comparison) blocks.push(...verificationBlocks(database, shown))
  return blocks
}

/** What the sync replayed, how it ended, how triggers were kept from firing twice, and the downtime window. */
function findingBlocks(findings: Finding[]): string[] {
  const blockers = findings.filter((f) => f.severity === 'blocker').length
  const warnings = findings.length - blockers
  const ordered = [...findings].sort((a, b) => Number(a.severity !== 'blocker') - Number(b.severity !== 'blocker'))
  return [
    `Plan: ${count(blockers, 'blocker')}, ${count(warnings, 'warning')}.`,
    table(
      ['Severity', 'Finding', 'What to do'],
      ordered.map((f) => [f.severity, withObjects(f), f.hint])
    )
  ]
}

/** The message, and the objects it does not already name (most messages list the first few). */
function withObjects(finding: Finding): string {
  const unnamed = finding.objects.filter((object) => !finding.message.includes(object))
  if (unnamed.length === 0) return finding.message
  return `${finding.message} (${count(finding.objects.length, 'object')}${finding.objects.length <= 10 ? `: ${finding.objects.join(', ')}` : ''})`
}

function verificationBlocks(database: DatabaseReport, shown: KeysShown): string[] {
  const differences = database.comparison?.differences ?? []
  const unexpected = differences.filter((d) => !d.expected)
  const expected = differences.filter((d) => d.expected)
  const checked = database.targetFingerprint ? ` — compared ${coverage(database.targetFingerprint)}` : ''
  const blocks = [
    unexpected.length === 0
      ? `**Verification: no differences**${checked}${expected.length ? ` (${count(expected.length, 'expected difference')}, listed below)` : ''}.`
      : `**Verification: ${count(unexpected.length, 'difference')}**${checked}.`
  ]
  if (unexpected.length > 0) {
    blocks.push(table(['Kind', 'Count', 'Objects'], byKind(unexpected)))
    blocks.push(
      details(`Differences (${unexpected.length})`, differenceTable(unexpected, database.differingRows, shown))
    )
  }
  if (expected.length > 0) blocks.push(...expectedBlocks(expected))
  const tables = tableRows(database)
  if (tables) blocks.push(tables)
  return blocks
}

/**
 * Expected differences by kind, each with its reason; column orders one by one, since positional
 * `INSERT … VALUES` and `SELECT *` see the new order. Every one is in the JSON report.
 */
function expectedBlocks(expected: Difference[]): string[] {
  const reasons = new Map<string, Difference[]>()
  for (const d of expected) {
    const reason = /\(([^()]+)\)$/.exec(d.detail)?.[1] ?? d.detail
    const key = `${d.kind}\u0000${reason}`
    reasons.set(key, [...(reasons.get(key) ?? []), d])
  }
  const rows = [...reasons].map(([key, ds]) => {
    const [kind, reason] = key.split('\u0000')
    return [
      kind,
      String(ds.length),
      reason,
      abbreviate(
        ds.map((d) => d.object),
        5
      )
    ]
  })
  const blocks = [
    details(`Expected differences (${expected.length})`, table(['Kind', 'Count', 'Why', 'Objects'], rows))
  ]
  const orders = expected.filter((d) => d.kind === 'column-order')
  if (orders.length > 0)
    blocks.push(
      details(
        `Column orders the restore could not keep (${orders.length}): positional INSERT … VALUES and SELECT * see the target's order`,
        differenceTable(orders)
      )
    )
  return blocks
}

/** What was compared, counted: the reader sees that every part was verified. */
function coverage(fingerprint: Fingerprint): string {
  const rows = fingerprint.tables.reduce((sum, table) => sum + table.rows, 0)
  return [
    `${count(fingerprint.tables.length, 'table')} (${count(rows, 'row')})`,
    count(fingerprint.sequences.length, 'sequence'),
    count(fingerprint.largeObjects.count, 'large object'),
    count(fingerprint.queries.length, 'validation query', 'validation queries'),
    count(fingerprint.inventory.length, 'schema object')
  ].join(', ')
}

function byKind(differences: Difference[]): string[][] {
  const kinds = new Map<string, string[]>()
  for (const d of differences) kinds.set(d.kind, [...(kinds.get(d.kind) ?? []), d.object])
  return [...kinds].map(([kind, objects]) => [kind, String(objects.length), abbreviate(objects, 5)])
}

/** Checksums stay in the JSON report; the summary shows what a person can act on. */
function differenceTable(
  differences: Difference[],
  keys: Record<string, string[]> = {},
  shown: KeysShown = 'listed'
): string {
  const value = (d: Difference, side: 'source' | 'target'): string =>
    d.kind === 'checksum' || (d.kind === 'large-objects' && typeof d[side] === 'string') ? '' : String(d[side] ?? '')
  return table(
    ['Kind', 'Object', 'Source', 'Target', 'Detail'],
    differences
      .slice(0, 200)
      .map((d) => [
        d.kind,
        d.object,
        value(d, 'source'),
        value(d, 'target'),
        keys[d.object]?.length ? `${d.detail}; ${differingKeys(keys[d.object], shown)}` : d.detail
      ])
  )
}

function differingKeys(keys: string[], shown: KeysShown): string {
  if (shown === 'listed') return `differing keys: ${keys.join(', ')}`
  return `${count(keys.length, 'differing row')} located; their keys are in the JSON report on the runner (report-path)`
}

function tableRows(database: DatabaseReport): string | undefined {
  const source = database.sourceFingerprint
  const target = database.targetFingerprint
  if (!source || !target) return undefined
  const targetTables = new Map(target.tables.map((t) => [`${t.schema}.${t.name}`, t]))
  const rows = source.tables.map((t) => {
    const key = `${t.schema}.${t.name}`
    const other = targetTables.get(key)
    const same = other !== undefined && other.rows === t.rows && other.checksum === t.checksum
    const content = t.checksum === null ? 'not compared' : same ? 'equal' : 'differs'
    return { key, same, cells: [key, thousands(t.rows), other ? thousands(other.rows) : 'missing', content] }
  })
  rows.sort((a, b) => Number(a.same) - Number(b.same) || a.key.localeCompare(b.key))
  return details(
    `Tables (${rows.length})`,
    table(
      ['Table', 'Source rows', 'Target rows', 'Content'],
      rows.slice(0, 500).map((r) => r.cells)
    )
  )
}

/** What the filters moved and left out, and what a resumed run kept, loaded again and created. */
function scopeAndResumeBlocks(database: DatabaseReport): string[] {
  const blocks: string[] = []
  const { scope, resume } = database
  if (scope) {
    const given = Object.entries(scope.patterns)
      .filter(([, patterns]) => patterns.length > 0)
      .map(([list, patterns]) => `${list.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${patterns.join(', ')}`)
    blocks.push(`**Scope:** only what these filters select moved (${inline(given.join('; '))}).`)
    if (scope.leftOut.length > 0)
      blocks.push(
        details(
          `Left out (${scope.leftOut.length})`,
          table(
            ['Left out', 'Why'],
            scope.leftOut.slice(0, 200).map((l) => [l.what, l.why])
          )
        )
      )
    const made = [
      ...scope.prerequisites.schemas.map((s) => `schema ${s}`),
      ...scope.prerequisites.extensions.map((e) => `extension ${e.name}`)
    ]
    if (made.length > 0)
      blocks.push(
        `Created on the target before the restore, as the moving objects need them: ${inline(made.join(', '))}.`
      )
  }
  if (resume?.pieces) blocks.push(streamResumed(resume, resume.pieces, database.comparison !== undefined))
  else if (resume) {
    const from =
      resume.dump === 'earlier'
        ? `from the dump of run ${resume.runId}`
        : `with a new dump (run ${resume.runId}): the earlier run's dump was gone, so only tables whose rows match the new dump were kept, compared by count and checksum, not assumed; objects the earlier run had created were kept, so the source must not have changed in between (the verification below compares everything)`
    blocks.push(
      `**Resumed** ${inline(from)} in ${resume.seconds.toFixed(1)}s: kept ${count(resume.kept.length, 'table')} whose rows were complete${resume.kept.length ? ` (${inline(abbreviate(resume.kept))})` : ''}; loaded ${count(resume.reloaded.length, 'table')} again${resume.reloaded.length ? ` (${inline(abbreviate(resume.reloaded))})` : ''}; created ${count(resume.created.length, 'missing item')}${resume.created.length ? ` (${inline(abbreviate(resume.created))})` : ''}.`
    )
  }
  return blocks
}

/** A resumed stream: the pieces the earlier run committed were kept, the rest streamed from a new snapshot. */
function streamResumed(resume: ResumeReport, pieces: { kept: number; streamed: number }, verified: boolean): string {
  const list = (names: string[]): string => (names.length ? ` (${inline(abbreviate(names))})` : '')
  const emptied = resume.emptied ?? []
  return (
    `**Resumed** the stream of run ${inline(resume.runId)} from a new snapshot in ${resume.seconds.toFixed(1)}s: kept ${count(pieces.kept, 'piece')} the earlier run had committed, streamed ${count(pieces.streamed, 'piece')}. ` +
    `Kept whole: ${count(resume.kept.length, 'table')}${list(resume.kept)}; kept in part, the rest of their block ranges streamed: ${count(resume.reloaded.length, 'table')}${list(resume.reloaded)}; streamed whole: ${count(resume.streamedWhole ?? 0, 'table')}` +
    `${emptied.length ? `; emptied and streamed again, as their size had changed on the source: ${count(emptied.length, 'table')}${list(emptied)}` : ''}; created ${count(resume.created.length, 'missing item')}${list(resume.created)}. ` +
    (verified
      ? 'The kept rows were checksummed on both sides in the verification below, the source in the new snapshot.'
      : '')
  )
}
