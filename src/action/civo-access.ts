import type { RunScope } from '../base/scope.js'
import type { CivoEndpoint } from '../targets/civo.js'
import type { CivoTarget } from '../targets/civo-api.js'
import { closeFirewall, openFirewall, waitForPort, type RunIdentity } from '../targets/civo-firewall.js'
import type { CivoInputs } from './inputs.js'
import type { CivoReport, RunReport } from './report.js'
import { Stage, type Stages } from './stages.js'

/** Removes what admitRunner added; safe to call once in every outcome. */
export type CloseAccess = () => Promise<void>

/**
 * Records the Civo database in the report and, with civo-firewall: open, admits this runner to it for
 * the run. What removes the rule goes to onClose as soon as the rule exists, before the wait for it
 * to apply, so a run cancelled while waiting still removes it.
 */
export async function admitRunner(
  civo: { civo: CivoTarget } & CivoInputs,
  target: CivoEndpoint,
  context: {
    stages: Stages
    scope: RunScope
    env: NodeJS.ProcessEnv
    report: RunReport
    onClose: (close: CloseAccess) => void
  }
): Promise<void> {
  const { stages, scope, report } = context
  const civoReport: CivoReport = {
    databaseId: target.civo.id,
    name: target.civo.name,
    created: target.civo.created ?? false
  }
  report.civo = civoReport
  const firewall = civo.firewall
  if (!firewall) return
  await stages.run(Stage.OpenCivoFirewall, undefined, async () => {
    const rule = await openFirewall(
      civo.civo,
      { ref: target.civo, port: target.port },
      { ...firewall, run: runIdentity(context.env) },
      scope
    )
    if (!rule) return
    const record: NonNullable<CivoReport['firewall']> = {
      firewallId: rule.firewallId,
      cidr: rule.cidr,
      port: rule.port,
      label: rule.label,
      openedAt: new Date(rule.openedAt).toISOString(),
      leftoversRemoved: rule.leftoversRemoved
    }
    civoReport.firewall = record
    context.onClose(async () => {
      const closed = await closeFirewall(civo.civo, rule, scope.log)
      Object.assign(record, { seconds: closed.seconds, removed: closed.removed })
    })
    await waitForPort(target.host, target.port, scope)
  })
}

/** Who opens: the run, its attempt and the job, as the runner names them (a local run has none). */
function runIdentity(env: NodeJS.ProcessEnv): RunIdentity {
  return {
    id: env.GITHUB_RUN_ID || `local-${process.pid}`,
    attempt: Number(env.GITHUB_RUN_ATTEMPT) || 1,
    job: env.GITHUB_JOB || ''
  }
}
