import { splitPatterns } from '../scope/patterns.js'
import { isScoped, type ScopePatterns } from '../scope/types.js'
import { refused, type InputReader } from './input-reader.js'
import { Inputs } from './inputs.js'

const SCOPE_INPUTS: Record<keyof ScopePatterns, Inputs> = {
  schemas: Inputs.Schemas,
  excludeSchemas: Inputs.ExcludeSchemas,
  tables: Inputs.Tables,
  excludeTables: Inputs.ExcludeTables,
  excludeTableData: Inputs.ExcludeTableData
}

/** pg_dump's filters, each input a comma or newline separated list of its patterns. */
export function parseScope(read: InputReader): ScopePatterns {
  const lists = Object.entries(SCOPE_INPUTS).map(([list, input]) => [list, splitPatterns(read.text(input))])
  return Object.fromEntries(lists) as ScopePatterns
}

/** The first filter input that is set, by its action.yml name. */
function firstFilter(scope: ScopePatterns): string | undefined {
  return Object.entries(SCOPE_INPUTS).find(([list]) => scope[list as keyof ScopePatterns].length > 0)?.[1]
}

/** A restore restores the dump's own scope, recorded in its manifest; filters belong to the dump job. */
export function refuseScope(read: InputReader): void {
  const scope = parseScope(read)
  if (!isScoped(scope)) return
  throw refused(
    `${firstFilter(scope)} is set in restore mode`,
    "a restore restores exactly the dump's scope, recorded in its manifest: set the filters on the job that dumps"
  )
}

/**
 * A sync publishes every table of the database from a snapshot of its own: it cannot move a part
 * (the publication and the plan's replica identity checks read the whole database), nor continue a
 * copy made from an earlier snapshot.
 */
export function refuseWithSync({ scope, ifTargetNotEmpty }: { scope: ScopePatterns; ifTargetNotEmpty: string }): void {
  const given = firstFilter(scope)
  if (given)
    throw refused(
      `${Inputs.Sync}: logical is set with ${given}`,
      `a sync moves the whole database: clear ${given}, or move the part with ${Inputs.Sync}: none`
    )
  if (ifTargetNotEmpty === 'resume')
    throw refused(
      `${Inputs.Sync}: logical is set with ${Inputs.IfTargetNotEmpty}: resume`,
      `a sync starts from a snapshot of its own: run again with ${Inputs.IfTargetNotEmpty}: clean`
    )
}
