import type { RunScope } from '../base/scope.js'
import type { CivoEndpoint } from '../targets/civo.js'
import type { CivoTarget } from '../targets/civo-api.js'
import { closeFirewall, openFirewall, waitForPort, type RunIdentity } from '../targets/civo-firewall.js'
import type { CivoInputs } from './inputs.js'
import type { RunReport } from './report.js'
import { Stage, type Stages } from './stages.js'

/** Removes what admitRunner added; safe to call once in every outcome. */
export type CloseAccess = () => Promise<void>

/**
 * civo-firewall: open — admits this runner to the Civo target for the run and returns what removes
 * the rule again. The rule is handed back before the wait for it to apply, so a run cancelled while
 * waiting still removes it.
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
  report.civo = { databaseId: target.civo.id, name: target.civo.name, created: target.civo.created ?? false }
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
    const record = {
      firewallId: rule.firewallId,
      cidr: rule.cidr,
      port: rule.port,
      label: rule.label,
      openedAt: new Date(rule.openedAt).toISOString(),
      leftoversRemoved: rule.leftoversRemoved
    }
    report.civo = { ...report.civo, firewall: record } as RunReport['civo']
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
