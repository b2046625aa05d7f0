/** Blockers stop a run before the target is written; warnings are reported and the run goes on. */
export type Severity = 'blocker' | 'warning'

/** One thing the plan found, in the words the summary, the log and the JSON report all use. */
export interface Finding {
  /** Stable identifier, e.g. `missing-role` or `pg15-public-schema-create`. */
  id: string
  severity: Severity
  /** What is wrong, one line. */
  message: string
  /** Qualified names of the affected objects (may be empty). */
  objects: string[]
  /** What the user should do about it. */
  hint: string
  /** Where the rule comes from, e.g. a release-notes section. */
  reference?: string
}

export function blocker(id: string, message: string, objects: string[], hint: string): Finding {
  return { id, severity: 'blocker', message, objects, hint }
}
