// The plan's catalog checks: everything the source's catalog says will fail or change on the target.
import type { Finding, Severity } from '../findings.js'
import { crosses } from './catalog.js'
import {
  adminpackProbe,
  extensionCommentProbe,
  extensionNeedsSuperuserProbe,
  extensionSchemaProbe,
  extensionUnavailableProbe,
  python2Probe
} from './extensions.js'
import { generatedInheritanceProbe } from './generated-columns.js'
import { intervalTextProbe } from './interval-output.js'
import { publicSchemaCreateProbe } from './public-schema.js'
import {
  removedBuiltinsInCodeProbe,
  removedBuiltinsProbe,
  removedSettingInDatabaseProbe,
  removedSettingInFunctionProbe,
  validationQueriesProbe
} from './removed.js'
import {
  aclGrantorProbe,
  missingRolesProbe,
  ownerNotAssignableProbe,
  ownerWithPowerProbe,
  restoreRoleNotCreatableProbe,
  rolesNotCreatableProbe
} from './roles.js'
import { searchPathProbe, searchPathUnverifiedProbe } from './search-path.js'
import { columnOrderProbe } from './column-order.js'
import { databaseSettingsProbe } from './settings-not-carried.js'
import {
  eventTriggersProbe,
  foreignServerUsageProbe,
  functionSettingsProbe,
  publicationsProbe,
  subscriptionsProbe,
  superuserObjectsProbe,
  untrustedFunctionsProbe
} from './superuser.js'
import { SYNC_PROBES } from './sync.js'
import type { Probe, ProbeContext } from './types.js'

export { extensionsUsed, type ExtensionUse } from './extensions.js'
export { rolesReferenced } from './roles.js'
export type { Probe, ProbeContext } from './types.js'

/** Every probe, in the order findings are reported: what the target can take first, then what the versions change. */
export const PROBES: readonly Probe[] = [
  missingRolesProbe,
  rolesNotCreatableProbe,
  ownerNotAssignableProbe,
  ownerWithPowerProbe,
  restoreRoleNotCreatableProbe,
  aclGrantorProbe,
  extensionUnavailableProbe,
  extensionNeedsSuperuserProbe,
  extensionSchemaProbe,
  extensionCommentProbe,
  untrustedFunctionsProbe,
  superuserObjectsProbe,
  functionSettingsProbe,
  foreignServerUsageProbe,
  eventTriggersProbe,
  publicationsProbe,
  subscriptionsProbe,
  searchPathProbe,
  searchPathUnverifiedProbe,
  removedBuiltinsProbe,
  removedBuiltinsInCodeProbe,
  removedSettingInFunctionProbe,
  removedSettingInDatabaseProbe,
  databaseSettingsProbe,
  validationQueriesProbe,
  python2Probe,
  publicSchemaCreateProbe,
  intervalTextProbe,
  generatedInheritanceProbe,
  columnOrderProbe,
  adminpackProbe,
  // sync: logical only, but for the leftovers of an earlier sync, which every plan names
  ...SYNC_PROBES
]

/** A version-crossing probe runs only when its release lies between the source and the target. */
export function probeApplies(probe: Probe, ctx: Pick<ProbeContext, 'sourceMajor' | 'targetMajor'>): boolean {
  return !probe.appliesTo || crosses(ctx.sourceMajor, ctx.targetMajor, probe.appliesTo.crossing)
}

export function severityOf(probe: Probe, ctx: ProbeContext): Severity {
  return typeof probe.severity === 'function' ? probe.severity(ctx) : probe.severity
}

/** Runs one probe and words its finding; nothing found, no finding. */
export async function runProbe(probe: Probe, ctx: ProbeContext): Promise<Finding | undefined> {
  const objects = [...new Set(await probe.find(ctx))]
  if (objects.length === 0) return undefined
  const finding: Finding = {
    id: probe.id,
    severity: severityOf(probe, ctx),
    message: probe.message(objects, ctx),
    objects,
    hint: typeof probe.hint === 'function' ? probe.hint(ctx, objects) : probe.hint
  }
  if (probe.reference) finding.reference = probe.reference
  return finding
}

/**
 * Runs every probe that applies, one after the other on the same connections (read only; both must
 * be outside a transaction). A probe that cannot run becomes a warning saying so: the plan goes on,
 * and the user sees which rule went unchecked.
 */
export async function runChecks(ctx: ProbeContext, probes: readonly Probe[] = PROBES): Promise<Finding[]> {
  const findings: Finding[] = []
  for (const probe of probes) {
    if (!probeApplies(probe, ctx)) continue
    try {
      const finding = await runProbe(probe, ctx)
      if (finding) findings.push(finding)
    } catch (error) {
      findings.push({
        id: probe.id,
        severity: 'warning',
        message: `could not run this check: ${(error as Error).message}`,
        objects: [],
        hint: 'the migration may still fail on what this check looks for; the source login may lack access to a catalog',
        ...(probe.reference ? { reference: probe.reference } : {})
      })
    }
  }
  return findings
}
