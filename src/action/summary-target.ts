import { count } from '../base/text.js'
import type { TargetWork } from './report.js'

/** What ANALYZE did after the load, and what the statistics carried from the source spared it. */
export function targetWorkNote(work: TargetWork): string | undefined {
  const { analyze } = work
  if (!analyze) return undefined
  if (!work.statisticsCarried) return `ANALYZE ran on ${count(analyze.analyzed, 'table')}.`
  return `Planner statistics carried from the source (pg_dump --statistics): ${count(analyze.alreadyComplete, 'table')} needed no ANALYZE; ${count(analyze.analyzed, 'table')} analyzed (extended statistics, or none on the source).`
}
