import { count, thousands } from '../base/text.js'
import type { SyncRecord, SyncVerifyRecord } from '../sync/types.js'
import { lagChart } from './charts.js'
import { abbreviate, details, inline, table } from './summary-markdown.js'

/** The summary's blocks for a sync: what it replayed, its cutover and downtime window, its verify, its lag. */
export function syncBlocks(sync: SyncRecord): string[] {
  const lines: string[] = []
  const applied = sync.applied
  if (applied)
    lines.push(
      `**Sync:** ${count(applied.transactions, 'source transaction')} replayed in ${sync.streamSeconds ?? 0} s (${count(applied.inserts, 'insert')}, ${count(applied.updates, 'update')}, ${count(applied.deletes, 'delete')}, ${count(applied.truncates, 'truncate')}).`
    )
  else lines.push(`**Sync:** stopped before the change stream caught up; the target holds a partial copy.`)
  if (sync.reason)
    lines.push(`Cutover (${sync.cutover}): ${inline(sync.reason)}; lag at cutover ${sync.lagAtCutoverSeconds} s.`)
  if (sync.downtime)
    lines.push(
      `**Downtime window: ${sync.downtime.seconds} s** from the source's last write to the end of verify (waiting for cutover ${sync.downtime.waitingSeconds} s, cutover ${sync.downtime.cutoverSeconds} s, verify ${sync.downtime.verifySeconds} s).`
    )
  const parts = Object.entries(sync.downtime?.parts ?? {})
  if (parts.length > 0)
    lines.push(
      `Cutover and verify, part by part (some side by side; the slot's drop outside the window): ${parts.map(([part, seconds]) => `${PART_NAMES[part] ?? part} ${seconds} s`).join(', ')}.`
    )
  lines.push(
    sync.triggers === 'replica-role'
      ? 'Triggers: changes were applied with session_replication_role = replica, so no trigger fired twice.'
      : `Triggers: the target login may not set session_replication_role, so the dump's triggers and rules were held back and created at cutover${sync.triggersCreated !== undefined ? ` (${sync.triggersCreated})` : ''}.`
  )
  if (sync.sequences !== undefined) lines.push(`Sequences set from the source at cutover: ${sync.sequences}.`)
  lines.push(...syncVerifyLines(sync.verify, inline))
  lines.push(`Replication slot and publication \`${sync.slot}\` on the source: dropped.`)
  const blocks = [lines.join('\n')]
  const chart = lagChart(sync.lag)
  if (chart) blocks.push(chart)
  if (sync.lag?.length)
    blocks.push(
      details(
        `Lag over time (${sync.lag.length} samples)`,
        table(
          ['Seconds into the sync', 'Seconds behind the source'],
          sync.lag.map((sample) => [String(sample.at), String(sample.lag)])
        )
      )
    )
  return blocks
}

/** The parts of the cutover and its verify, as the summary names them. */
const PART_NAMES: Record<string, string> = {
  schemaCheck: 'schema check',
  sequences: 'sequences',
  triggers: 'triggers and rules',
  slotDrop: 'slot and publication dropped',
  changedRows: 'changed rows and statistics',
  sourceFingerprint: "source's fingerprint",
  targetVerify: "target's settings, fingerprint and comparison"
}

/**
 * The summary's lines for a sync's two-part verify: what was read in bulk beside the sync, and
 * what at cutover. `escape` makes a table's name safe in markdown.
 */
function syncVerifyLines(verify: SyncVerifyRecord | undefined, escape: (text: string) => string): string[] {
  if (!verify) return []
  const { bulk, atCutover } = verify
  const lines = [
    `Verified in bulk beside the sync: ${count(bulk.tables, 'table')}, ${thousands(bulk.rows)} rows read on the target in ${bulk.seconds} s, in a snapshot taken before the first replayed change, against the source at the slot's snapshot.`
  ]
  const { early } = verify
  if (early && early.checks > 0)
    lines.push(
      `Verified before cutover, while the source was quiet (${count(early.checks, 'check')}, ${early.seconds} s): ${count(early.keys, 'changed row')} by key, ${count(early.whole.length, 'table')} read whole${early.whole.length ? ` (${escape(abbreviate(early.whole))})` : ''}; each stands until the stream changes it again.`
    )
  if (!atCutover) return lines
  const standing = atCutover.standing
  if (standing && (standing.keys > 0 || standing.whole.length > 0))
    lines.push(
      `Standing from before cutover: ${count(standing.keys, 'changed row')} and ${count(standing.whole.length, 'table')} read whole, not changed again.`
    )
  const byKey = atCutover.byKey.map((table) => `${table.table} ${thousands(table.keys)}`)
  const whole = atCutover.whole.map((table) => `${table.table}: ${table.why}`)
  lines.push(
    `Verified at cutover in ${atCutover.seconds} s: ${count(atCutover.keys, 'changed row')} by key on both sides${byKey.length ? ` (${escape(abbreviate(byKey))})` : ''}, ${count(whole.length, 'table')} read whole${whole.length ? ` (${escape(abbreviate(whole))})` : ''}, ${count(atCutover.untouched, 'table')} untouched since the bulk verify; schema, sequences and large objects as without a sync.`
  )
  return lines
}
