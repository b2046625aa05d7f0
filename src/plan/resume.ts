// if-target-not-empty: resume, as the plan sees it: the target must carry the mark of a run of this
// action that ended early, for the same source database, from the same dump (restore) or with the
// same filters (migrate, which finds or makes its dump itself). Anything else stops the run before
// it writes.
import type { RunMarker } from '../pg/run-marker.js'
import { scopeKey } from '../scope/types.js'
import { count } from './checks/catalog.js'
import { blocker, type Finding } from './findings.js'
import type { DatabaseJob, PlanRequest } from './types.js'

export function resumeFindings(request: PlanRequest, job: DatabaseJob, marker: RunMarker | undefined): Finding[] {
  if (!marker)
    return [
      blocker(
        'resume-nothing',
        `target database "${job.target}" holds ${count(job.targetObjects.length, 'object')} but no run of this action that ended early: there is nothing to resume`,
        job.targetObjects,
        'a run that passes removes its mark, so the copy there is complete; set if-target-not-empty: clean to copy again, or leave it'
      )
    ]
  if (marker.database !== job.source)
    return [
      blocker(
        'resume-other-database',
        `target database "${job.target}" was being loaded from database ${marker.database}, not ${job.source}`,
        [],
        'resume with the source database of that run, or set if-target-not-empty: clean to start over'
      )
    ]
  if (request.dumped && request.dumped.runId !== marker.runId)
    return [
      blocker(
        'resume-other-dump',
        `this dump (run ${request.dumped.runId ?? 'unknown: made by an older version'}) is not the one target database "${job.target}" was being loaded from (run ${marker.runId}, started ${marker.startedAt}); the target was not touched`,
        [],
        "give this job that run's dump (its artifact-name and artifact-run-id, or dump-path), or set if-target-not-empty: clean to start over"
      )
    ]
  if (!request.dumped && marker.scope !== scopeKey(request.scope))
    return [
      blocker(
        'resume-other-filters',
        `the run that ended early in target database "${job.target}" moved ${describeScope(marker.scope)}; this one asks for ${describeScope(scopeKey(request.scope))}`,
        [],
        'resume with the same schemas, tables and exclude inputs, or set if-target-not-empty: clean to start over'
      )
    ]
  return [
    {
      id: 'resume',
      severity: 'warning',
      message: `target database "${job.target}" holds run ${marker.runId} (started ${marker.startedAt}), which ended early: this run resumes it`,
      objects: [],
      hint: 'nothing to do: tables whose rows are complete are kept, the rest is loaded again, what is missing is created, and the whole is verified'
    }
  ]
}

function describeScope(key: string): string {
  return key === '{}' ? 'the whole database' : `only what these filters select: ${key}`
}
