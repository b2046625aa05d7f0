import { count } from '../base/text.js'
import type { TargetWork } from './report.js'
import { inline } from './summary-markdown.js'

/** What the load asked of the target besides the rows: the index builds' memory, the statistics carried and analyzed. */
export function targetWorkNote(work: TargetWork): string | undefined {
  const lines: string[] = []
  const memory = work.indexMemory
  if (memory)
    lines.push(
      `Index builds ran with maintenance_work_mem ${inline(memory.setting)} in each of ${count(memory.sessions, 'session')} (the target's default: ${inline(memory.serverDefault)}).`
    )
  const analyze = work.analyze
  if (analyze && work.statisticsCarried)
    lines.push(
      `Planner statistics carried from the source (pg_dump --statistics): ${count(analyze.alreadyComplete, 'table')} needed no ANALYZE; ${count(analyze.analyzed, 'table')} analyzed (extended statistics, or none on the source).`
    )
  else if (analyze) lines.push(`ANALYZE ran on ${count(analyze.analyzed, 'table')}.`)
  return lines.length > 0 ? lines.join('\n') : undefined
}
