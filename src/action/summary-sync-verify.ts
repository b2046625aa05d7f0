import { count, thousands } from '../base/text.js'
import type { SyncVerifyRecord } from '../sync/types.js'

/**
 * The summary's lines for a sync's two-part verify: what was read in bulk beside the sync, and
 * what at cutover. `escape` makes a table's name safe in markdown.
 */
export function syncVerifyLines(verify: SyncVerifyRecord | undefined, escape: (text: string) => string): string[] {
  if (!verify) return []
  const { bulk, atCutover } = verify
  const lines = [
    `Verified in bulk beside the sync: ${count(bulk.tables, 'table')}, ${thousands(bulk.rows)} rows read on the target in ${bulk.seconds} s, in a snapshot taken before the first replayed change, against the source at the slot's snapshot.`
  ]
  if (!atCutover) return lines
  const byKey = atCutover.byKey.map((table) => `${table.table} ${thousands(table.keys)}`)
  const whole = atCutover.whole.map((table) => `${table.table}: ${table.why}`)
  lines.push(
    `Verified at cutover in ${atCutover.seconds} s: ${count(atCutover.keys, 'changed row')} by key on both sides${byKey.length ? ` (${escape(abbreviate(byKey))})` : ''}, ${count(whole.length, 'table')} read whole${whole.length ? ` (${escape(abbreviate(whole))})` : ''}, ${count(atCutover.untouched, 'table')} untouched since the bulk verify; schema, sequences and large objects as without a sync.`
  )
  return lines
}

function abbreviate(items: string[], limit = 10): string {
  return items.length <= limit
    ? items.join(', ')
    : `${items.slice(0, limit).join(', ')} and ${items.length - limit} more`
}
