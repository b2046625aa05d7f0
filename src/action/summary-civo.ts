import type { CivoReport } from './report.js'

/** The summary's own escaping and counting, so this part reads names as the rest of it does. */
export interface SummaryText {
  inline: (text: string) => string
  count: (n: number, singular: string) => string
}

/** Which Civo database, whether the run created it, and whom its firewall admitted for how long. */
export function civoLine(
  { name, databaseId, created, firewall: rule }: CivoReport,
  { inline, count }: SummaryText
): string {
  const lines = [`**Civo:** database ${inline(name)} (${inline(databaseId)})${created ? ', created by this run' : ''}.`]
  if (!rule) return lines[0]
  const how = rule.seconds === undefined ? 'while the step ran' : `for ${rule.seconds} s`
  const after =
    rule.removed === false
      ? `; ⚠️ the rule could not be removed: delete rule "${inline(rule.label)}"`
      : rule.removed
        ? ', then removed the rule'
        : ''
  lines.push(
    `Firewall ${inline(rule.firewallId)} admitted this runner's address ${rule.cidr} to port ${rule.port} ${how}${after}.`
  )
  const left = rule.leftoversRemoved
  if (left.length > 0)
    lines.push(`Removed ${count(left.length, 'rule')} that stopped runners left: ${inline(left.join(', '))}.`)
  return lines.join('\n')
}
