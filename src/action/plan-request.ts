import type { Endpoint } from '../pg/endpoint.js'
import type { DumpedSource, PlanRequest } from '../plan/plan.js'
import type { ActionInputs } from './inputs.js'

/** How each mode plans: what is read, what will be written, and by which rules. */
export function planRequestFor(
  inputs: ActionInputs,
  target: { endpoint?: Endpoint; fromCivo: boolean },
  dumped?: DumpedSource
): PlanRequest {
  const rules: Pick<PlanRequest, 'ifTargetNotEmpty' | 'privileges' | 'roles' | 'validationQueries'> = {
    ifTargetNotEmpty: 'fail',
    privileges: 'skip',
    roles: 'fail',
    validationQueries: []
  }
  // A Civo target's URL names the maintenance database, not the one to migrate into.
  const targetUrlDatabase = target.fromCivo ? undefined : target.endpoint?.database
  switch (inputs.mode) {
    case 'migrate':
    case 'plan':
      return {
        purpose: 'copy',
        source: inputs.source,
        target: target.endpoint,
        databases: inputs.databases,
        targetDatabase: inputs.targetDatabase,
        targetUrlDatabase,
        clientVersion: inputs.postgresVersion,
        ifTargetNotEmpty: inputs.ifTargetNotEmpty,
        privileges: inputs.privileges,
        roles: inputs.roles,
        validationQueries: inputs.validationQueries
      }
    case 'validate':
      return {
        ...rules,
        purpose: 'compare',
        source: inputs.source,
        target: target.endpoint,
        databases: inputs.databases,
        targetDatabase: inputs.targetDatabase,
        targetUrlDatabase,
        privileges: inputs.privileges
      }
    case 'dump':
      return {
        ...rules,
        purpose: 'copy',
        source: inputs.source,
        databases: inputs.databases,
        clientVersion: inputs.postgresVersion
      }
    case 'restore':
      return {
        purpose: 'copy',
        target: target.endpoint,
        dumped,
        databases: [],
        targetDatabase: inputs.targetDatabase,
        targetUrlDatabase,
        clientVersion: inputs.postgresVersion,
        ifTargetNotEmpty: inputs.ifTargetNotEmpty,
        privileges: inputs.privileges,
        roles: inputs.roles,
        validationQueries: inputs.validationQueries
      }
  }
}
