import type { Endpoint } from '../pg/endpoint.js'
import type { DiskRequest } from '../plan/disk.js'
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
  const writing = (from: WritingInputs) => writingRules(from, target.endpoint, targetUrlDatabase)
  switch (inputs.mode) {
    case 'migrate':
    case 'plan':
      return {
        ...writing(inputs),
        source: inputs.source,
        databases: inputs.databases,
        sync: inputs.sync,
        scope: inputs.scope,
        ...(inputs.mode === 'migrate' ? { disk: diskRequest(inputs) } : {})
      }
    case 'validate':
      return {
        ...rules,
        purpose: 'compare',
        source: inputs.source,
        scope: inputs.scope,
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
        clientVersion: inputs.postgresVersion,
        scope: inputs.scope
      }
    case 'restore':
      return { ...writing(inputs), dumped, databases: [] }
  }
}

type WritingInputs = Extract<ActionInputs, { mode: 'migrate' | 'plan' | 'restore' }>

/** The target of a copy is written by these rules, whether the source is live or a dump. */
function writingRules(from: WritingInputs, target: Endpoint | undefined, targetUrlDatabase: string | undefined) {
  return {
    purpose: 'copy' as const,
    target,
    targetDatabase: from.targetDatabase,
    targetUrlDatabase,
    clientVersion: from.postgresVersion,
    ifTargetNotEmpty: from.ifTargetNotEmpty,
    privileges: from.privileges,
    roles: from.roles,
    acceptSourceCode: from.acceptSourceCode,
    validationQueries: from.validationQueries
  }
}

/** What migrate asks of the dump folder: the plan weighs the disk under it against the dump. */
function diskRequest(inputs: Extract<ActionInputs, { mode: 'migrate' }>): DiskRequest {
  const { dumpPath, copyMethod, compression, uploadArtifact, sync } = inputs
  return { dumpPath, copyMethod, compression, uploadArtifact, sync }
}
