// A sync's held-back triggers and rules (created-at-cutover): listed from the dump before the
// cutover, so that only their creation is inside the downtime window.
import type { Log } from '../../base/log.js'
import { restoreEntries, restoreList, TRIGGERS_AND_RULES, type Restorer } from '../../tools/pg-restore.js'

/** The triggers' and rules' entries the restore held back (the sync's own publication left out). */
export async function heldBackEntries(restorer: Restorer, ownPublication: RegExp): Promise<string[]> {
  const whole = { ...restorer, options: { ...restorer.options, holdBack: ownPublication } }
  return (await restoreList(whole)).kept.filter((line) => TRIGGERS_AND_RULES.test(line))
}

/** The triggers and rules the restore held back, created now that no change is replayed any more. */
export async function createHeldBack(
  restorer: Restorer,
  ownPublication: RegExp,
  entries: string[],
  log: Log
): Promise<number> {
  const whole = { ...restorer, options: { ...restorer.options, holdBack: ownPublication } }
  if (entries.length > 0) await restoreEntries(whole, entries, undefined, 1)
  const created = entries.filter((line) => !/^\d+; \d+ \d+ COMMENT /.test(line)).length
  log.info(`sync: ${created} triggers and rules created on the target at cutover`)
  return created
}
