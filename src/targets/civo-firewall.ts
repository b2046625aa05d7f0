import net from 'node:net'
import type { Cancellation } from '../base/cancellation.js'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import { civoRequest, type CivoTarget } from './civo-api.js'
import type { CivoDatabaseRef } from './civo.js'

/** Every rule this action adds starts so: how a later run finds one a dead runner left. */
export const RULE_PREFIX = 'pg-migrate-action run'

/**
 * How long a rule may be in use: GitHub ends a hosted job after 6 hours. An older rule of another run
 * is one its runner could not remove (killed, lost), and the next run removes it.
 */
export const RULE_LIFETIME_HOURS = 6

/** The run that opens: GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT and GITHUB_JOB. */
export interface RunIdentity {
  id: string
  attempt: number
  job: string
}

export interface FirewallRequest {
  /** The runner's public IPv4 address, when the workflow gives it. */
  runnerIp?: string
  /** Answers GET with the caller's public IPv4 address as text. */
  ipEchoUrl: string
  run: RunIdentity
}

/** A rule this run added, to be removed when the run ends. */
export interface OpenedRule {
  firewallId: string
  ruleId: string
  /** `203.0.113.7/32` */
  cidr: string
  port: number
  label: string
  /** Date.now() when the rule was added. */
  openedAt: number
  /** Labels of rules left by runners that stopped before closing them, removed by this run. */
  leftoversRemoved: string[]
}

interface CivoRule {
  id?: string
  label?: string | null
  cidr?: string[]
}

/** `pg-migrate-action run 123.1 migrate until 2026-12-07T21:30Z` */
export function ruleLabel(run: RunIdentity, openedAt: number): string {
  const until = new Date(openedAt + RULE_LIFETIME_HOURS * 3600_000).toISOString().slice(0, 16)
  const job = run.job.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40) || '-'
  return `${RULE_PREFIX} ${run.id.replace(/[^A-Za-z0-9_-]/g, '')}.${run.attempt} ${job} until ${until}Z`
}

/**
 * Why a rule another run left may be removed, or undefined while it may still be in use: its time
 * is up, or it belongs to an earlier attempt of this run (GitHub starts an attempt after the last ended).
 */
export function leftoverReason(label: string, me: RunIdentity, now: number): string | undefined {
  const parsed = /^pg-migrate-action run (\S+)\.(\d+) (\S+) until (\S+)$/.exec(label)
  if (!parsed) return undefined
  const [, runId, attempt, , until] = parsed
  const ends = Date.parse(until)
  if (Number.isFinite(ends) && ends < now) return `its ${RULE_LIFETIME_HOURS} hours ended at ${until}`
  if (runId === me.id && Number(attempt) < me.attempt) return `attempt ${attempt} of this run has ended`
  return undefined
}

/** The runner's public IPv4 address: the one given, else the IP echo service's answer. */
export async function runnerAddress(request: FirewallRequest): Promise<string> {
  if (request.runnerIp) return request.runnerIp
  let text: string
  try {
    // No redirects: the answer decides whom the firewall admits, so it comes from the URL given or not at all.
    const response = await fetch(request.ipEchoUrl, { redirect: 'error', signal: AbortSignal.timeout(10_000) })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    text = (await response.text()).trim()
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message
    throw new MigrationError(
      'runner-address',
      `could not ask ${request.ipEchoUrl} for this runner's address (${cause})`
    )
  }
  if (!isIPv4(text))
    throw new MigrationError(
      'runner-address',
      `${request.ipEchoUrl} answered with something that is not an IPv4 address`
    )
  return text
}

export function isIPv4(text: string): boolean {
  const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  return Boolean(parts && parts.slice(1).every((part) => Number(part) <= 255))
}

export interface FirewallContext {
  log: Log
  cancellation: Cancellation
  now?: () => number
}

/**
 * Admits this runner to the database's port through its Civo firewall: removes rules dead runners
 * left and adds one ingress rule for the runner's address /32 labelled with the run. Refuses in one
 * line when the key may not manage the firewall.
 */
export async function openFirewall(
  civo: CivoTarget,
  target: { ref: CivoDatabaseRef; port: number },
  request: FirewallRequest,
  context: FirewallContext
): Promise<OpenedRule | undefined> {
  const { log } = context
  const firewallId = target.ref.firewallId
  if (!firewallId) {
    log.info(`Civo database "${target.ref.name}" has no firewall: nothing to open`)
    return undefined
  }
  const call = firewallCall(target.ref, firewallId)
  const rulesPath = `/v2/firewalls/${encodeURIComponent(firewallId)}/rules`
  const rules = asRules(await civoRequest(civo, 'GET', rulesPath, call))
  const now = context.now?.() ?? Date.now()
  const leftoversRemoved = await removeLeftovers(civo, { rules, rulesPath, call }, request.run, now, context)
  const address = await runnerAddress(request)
  const cidr = `${address}/32`
  const label = ruleLabel(request.run, now)
  log.info(`Civo firewall ${firewallId}: opening tcp ${target.port} to ${cidr} for this run ("${label}")`)
  const added = (await civoRequest(civo, 'POST', rulesPath, {
    ...call,
    body: {
      protocol: 'tcp',
      start_port: String(target.port),
      end_port: String(target.port),
      cidr: [cidr],
      direction: 'ingress',
      action: 'allow',
      label
    }
  })) as CivoRule | undefined
  const ruleId =
    added?.id ?? asRules(await civoRequest(civo, 'GET', rulesPath, call)).find((rule) => rule.label === label)?.id
  if (!ruleId) throw new MigrationError('civo-http', `the Civo API added no rule "${label}" to firewall ${firewallId}`)
  return { firewallId, ruleId, cidr, port: target.port, label, openedAt: now, leftoversRemoved }
}

/** Removes the run's rule; a rule already gone is fine. Never throws: the run's result stands. */
export async function closeFirewall(
  civo: CivoTarget,
  rule: OpenedRule,
  log: Log
): Promise<{ seconds: number; removed: boolean }> {
  const seconds = Math.round((Date.now() - rule.openedAt) / 1000)
  const path = `/v2/firewalls/${encodeURIComponent(rule.firewallId)}/rules/${encodeURIComponent(rule.ruleId)}`
  try {
    await civoRequest(civo, 'DELETE', path, { timeoutSeconds: 5, notFoundIsFine: true })
  } catch (error) {
    log.warning(
      `could not remove firewall rule "${rule.label}" (${rule.cidr}) from Civo firewall ${rule.firewallId}: ${(error as Error).message}; delete it now, or a run after ${rule.label.split(' until ')[1]} removes it`
    )
    return { seconds, removed: false }
  }
  log.info(`Civo firewall ${rule.firewallId}: removed the rule for ${rule.cidr} after ${seconds} s`)
  return { seconds, removed: true }
}

/** A 403 on the firewall means the key may read databases but not manage their firewall. */
function firewallCall(ref: CivoDatabaseRef, firewallId: string) {
  return {
    onForbidden: (status: number, reason: string) =>
      new MigrationError(
        'civo-firewall-refused',
        `the Civo API key may not manage firewall ${firewallId} of database "${ref.name}" (HTTP ${status})${reason}`,
        { facts: { firewall: firewallId, name: ref.name, region: ref.region } }
      )
  }
}

function asRules(body: unknown): CivoRule[] {
  if (Array.isArray(body)) return body as CivoRule[]
  const items = (body as { items?: unknown } | undefined)?.items
  return Array.isArray(items) ? (items as CivoRule[]) : []
}

async function removeLeftovers(
  civo: CivoTarget,
  { rules, rulesPath, call }: { rules: CivoRule[]; rulesPath: string; call: ReturnType<typeof firewallCall> },
  me: RunIdentity,
  now: number,
  context: FirewallContext
): Promise<string[]> {
  const removed: string[] = []
  for (const rule of rules) {
    const label = rule.label ?? ''
    if (!rule.id || !label.startsWith(RULE_PREFIX)) continue
    const reason = leftoverReason(label, me, now)
    const cidr = (rule.cidr ?? []).join(', ')
    if (!reason) {
      context.log.info(`leaving firewall rule "${label}" (${cidr}): its run may still be using it`)
      continue
    }
    await civoRequest(civo, 'DELETE', `${rulesPath}/${encodeURIComponent(rule.id)}`, { ...call, notFoundIsFine: true })
    context.log.info(`removed firewall rule "${label}" (${cidr}) that a stopped runner left: ${reason}`)
    removed.push(label)
  }
  return removed
}

/** A Civo rule takes a moment to apply: wait until the port accepts a connection, at most a minute. */
export async function waitForPort(host: string, port: number, context: FirewallContext): Promise<void> {
  const started = Date.now()
  while (Date.now() - started < 60_000) {
    context.cancellation.throwIfCancelled()
    if (await answers(host, port)) return
    context.log.info(`waiting for the firewall rule to apply: ${host}:${port} does not answer yet`)
    await new Promise((resolve) => setTimeout(resolve, 2000))
  }
  context.log.info(`${host}:${port} still does not answer after 60 s; trying anyway`)
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 3000 })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once('connect', () => done(true))
    socket.once('timeout', () => done(false))
    socket.once('error', () => done(false))
  })
}
