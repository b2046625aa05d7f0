import os from 'node:os'
import path from 'node:path'
import { admitRunner, type CloseAccess } from './action/civo-access.js'
import { conclude, failureLines, recordFailure } from './action/conclusion.js'
import type { HintContext } from './action/hints.js'
import { hintFor } from './action/hints.js'
import { Inputs, SECRET_INPUTS, type ActionInputs } from './action/inputs.js'
import { setOutputs } from './action/outputs.js'
import { getInputs } from './action/parse-inputs.js'
import { planRequestFor } from './action/plan-request.js'
import { DatabaseRecorder, newReport, scopeReport, writeJsonReport, type RunReport } from './action/report.js'
import { withoutRowValuesRunner, type ActionRunner } from './action/runner.js'
import { Stage, Stages } from './action/stages.js'
import { renderSummary } from './action/summary.js'
import { fetchDump } from './artifact/fetch-dump.js'
import { githubArtifactStore, type ArtifactStore } from './artifact/store.js'
import { repositoryVisibility, type Visibility } from './artifact/visibility.js'
import type { Cancellation } from './base/cancellation.js'
import { asMigrationError } from './base/errors.js'
import type { RunScope } from './base/scope.js'
import { dumpOnly } from './modes/dump.js'
import {
  dumpJobs,
  migrateJobs,
  restoreJobs,
  validateJobs,
  type CheckedDump,
  type ClientPrograms,
  type RunMeans
} from './modes/job.js'
import { migrateDatabase } from './modes/migrate.js'
import { restoreDump } from './modes/restore.js'
import { resumeMigration } from './modes/resume-migration.js'
import { validateDatabase } from './modes/validate.js'
import { Connector, serverVersionNumber } from './pg/connection.js'
import type { Endpoint } from './pg/endpoint.js'
import { Passfile } from './pg/passfile.js'
import { artifactExposure } from './plan/exposure.js'
import { blockedBy, planMigration, type Plan } from './plan/plan.js'
import { isCivoEndpoint, resolveCivoTarget } from './targets/civo.js'
import { installClient } from './tools/client/install.js'
import { ProcessRunner, type ToolRunner } from './tools/run-tool.js'
import { count } from './base/text.js'

/** What a run is given: the runner it reports to, its cancellation, and the means tests replace. */
export interface Runtime {
  runner: ActionRunner
  cancellation: Cancellation
  /** Runs the client programs; default: child processes. */
  tools?: (scope: RunScope) => ToolRunner
  /** Where dumps are uploaded and downloaded; default: GitHub's artifact service. */
  artifacts?: ArtifactStore
}

/** The run's means, set before its inputs are read. */
interface RunContext {
  runtime: Runtime
  visibility: Visibility
  runner: ActionRunner
  scope: RunScope
  report: RunReport
  stages: Stages
  passfile: Passfile
}

/** What the run learns on its way that its failure, its hints and its results are written with. */
interface RunState {
  reportPath: string
  failOnMismatch: boolean
  hints: HintContext
  closeAccess?: CloseAccess
}

/**
 * The action: inputs → target → plan → client → each database's job → report. The report, the
 * outputs and the job summary are written in every outcome, before the step is failed.
 */
export async function run(runtime: Runtime): Promise<RunReport> {
  const { cancellation } = runtime
  const visibility = repositoryVisibility(runtime.runner.env)
  const runner = visibility === 'public' ? withoutRowValuesRunner(runtime.runner) : runtime.runner
  const log = runner.log
  const scope: RunScope = { log, cancellation }
  const report = newReport('migrate')
  const stages = new Stages(report.stages, log)
  const started = performance.now()
  const temp = runner.env.RUNNER_TEMP || os.tmpdir()
  const state: RunState = { reportPath: path.join(temp, 'pg-migrate-report.json'), failOnMismatch: true, hints: {} }
  const passfile = new Passfile(temp)
  report.visibility = visibility
  const context: RunContext = { runtime, visibility, runner, scope, report, stages, passfile }
  try {
    const planned = await planRun(context, state)
    if (planned.inputs.mode === 'plan') {
      report.result = 'planned'
      return report
    }
    await runJobs(context, state, planned)
  } catch (caught) {
    recordFailure(report, asMigrationError(caught), cancellation, state.hints)
    log.debug(asMigrationError(caught).stack ?? '')
  } finally {
    passfile.remove()
    // Before the results: the summary says how long the runner was admitted.
    await state.closeAccess?.()
    report.durationSeconds = Math.round((performance.now() - started) / 10) / 100
    await writeResults(runner, report, state.reportPath)
    const lines = failureLines(report, state.failOnMismatch)
    for (const line of lines.slice(0, -1)) log.error(line)
    if (lines.length > 0) runner.setFailed(lines[lines.length - 1])
  }
  return report
}

/** What the plan leaves the jobs: the inputs, the servers, the dump a restore reads, the plan. */
interface PlannedRun {
  inputs: ActionInputs
  connector: Connector
  artifacts: ArtifactStore
  target: Endpoint | undefined
  dump: { dir: string; manifest: CheckedDump['manifest'] } | undefined
  plan: Plan
}

/** Inputs → target (and the runner admitted to it) → the dump a restore reads → the plan; a blocker stops the run. */
async function planRun(context: RunContext, state: RunState): Promise<PlannedRun> {
  const { runtime, visibility, runner, scope, report, stages } = context
  const log = runner.log
  const inputs = getInputs(runner)
  runner.forgetInputs(SECRET_INPUTS)
  report.mode = inputs.mode
  state.reportPath = inputs.reportPath
  state.failOnMismatch = 'failOnMismatch' in inputs ? inputs.failOnMismatch : true
  // plan and validate write nothing anywhere: their sessions are made unable to.
  const connector = new Connector(scope, { readOnly: inputs.mode === 'plan' || inputs.mode === 'validate' })
  const artifacts = runtime.artifacts ?? githubArtifactStore()

  const target = await resolveTarget(inputs, stages, scope, connector)
  if (isCivoEndpoint(target) && 'target' in inputs && 'civo' in inputs.target) {
    state.hints.civo = { ref: target.civo, port: target.port, firewall: Boolean(inputs.target.firewall) }
    const onClose = (close: CloseAccess) => (state.closeAccess = close)
    await admitRunner(inputs.target, target, { stages, scope, env: runner.env, report, onClose })
  }
  const dump =
    inputs.mode === 'restore'
      ? await stages.run(Stage.CheckDump, undefined, () => fetchDump(inputs, artifacts, log, (report.progress ??= [])))
      : undefined
  const plan = await stages.run(Stage.Plan, undefined, () =>
    planMigration(
      planRequestFor(inputs, { endpoint: target, fromCivo: isCivoEndpoint(target) }, dump?.manifest),
      connector,
      log
    )
  )
  const exposure = artifactExposure(visibility, {
    uploads: 'uploadArtifact' in inputs && inputs.uploadArtifact,
    encrypted: 'encryptionKey' in inputs && inputs.encryptionKey !== undefined
  })
  if (exposure) for (const job of plan.jobs) job.findings.push(exposure)
  recordPlan(report, plan)
  logFindings(log, plan)
  const blocked = blockedBy(plan)
  if (blocked) throw blocked
  return { inputs, connector, artifacts, target, dump, plan }
}

/** Client → each database's job, one after the other; a failed job fails its database, not the run. */
async function runJobs(context: RunContext, state: RunState, planned: PlannedRun): Promise<void> {
  const { runtime, visibility, runner, scope, report, stages, passfile } = context
  const { cancellation } = runtime
  const log = runner.log
  const { inputs, connector, artifacts, target, dump, plan } = planned
  const requirement = plan.client
  const client = requirement
    ? await stages.run(Stage.InstallClient, undefined, () =>
        installClient(requirement, {
          downloadTemplate: 'clientDownloadUrl' in inputs ? inputs.clientDownloadUrl : '',
          env: runner.env,
          log
        })
      )
    : undefined
  if (client) {
    report.clientVersion = client.version
    runner.addPath(client.binDir)
  }
  report.dumpPath = dump?.dir ?? ('dumpPath' in inputs ? inputs.dumpPath : undefined)
  const means: RunMeans = { connector, stages, log, artifacts, cancellation, visibility }
  const programs = client && { client, runner: runtime.tools?.(scope) ?? new ProcessRunner(scope), passfile }
  const jobs = modeJobs(inputs, plan, { source: 'source' in inputs ? inputs.source : undefined, target }, means, {
    programs,
    dump: dump && { dumpFolder: dump.dir, manifest: dump.manifest },
    env: runner.env
  })
  for (const [index, job] of jobs.entries()) {
    const record = new DatabaseRecorder(report.databases[index], report)
    await job(record).catch((caught: unknown) => {
      const error = asMigrationError(caught)
      record.failed(error, hintFor(error, { ...state.hints, targetTouched: record.report.targetTouched }))
      log.info(`${plan.jobs[index].source}: ${error.stage ?? 'run'} failed`)
    })
    if (cancellation.signal) break
  }
  cancellation.throwIfCancelled()
  conclude(report, state.failOnMismatch, log)
}

/** The target endpoint: the URL's, or resolved through Civo's API; none in dump mode. */
async function resolveTarget(
  inputs: ActionInputs,
  stages: Stages,
  scope: RunScope,
  connector: Connector
): Promise<Endpoint | undefined> {
  if (!('target' in inputs)) return undefined
  if ('url' in inputs.target) return inputs.target.url
  const { civo, create } = inputs.target
  return stages.run(Stage.ResolveCivoTarget, undefined, async () =>
    resolveCivoTarget(
      civo,
      {
        input: Inputs.CivoDatabase,
        targetDatabase: inputs.targetDatabase,
        connectTimeout: inputs.connectTimeout,
        create,
        // A database is never created older than the source: the plan would refuse it only afterwards.
        sourceMajor:
          create && 'source' in inputs
            ? await connector.withConnection(inputs.source, async (client) =>
                Math.floor((await serverVersionNumber(client)) / 10000)
              )
            : undefined,
        cancellation: scope.cancellation
      },
      scope.log
    )
  )
}

/**
 * Each database's job, resolved once from the inputs and the plan, bound to the function of the mode
 * that moves or compares it. What a mode needs and the run lacks is an internal error, found here.
 */
function modeJobs(
  inputs: ActionInputs,
  plan: Plan,
  servers: { source?: Endpoint; target?: Endpoint },
  means: RunMeans,
  run: { programs?: ClientPrograms; dump?: CheckedDump; env: NodeJS.ProcessEnv }
): ((record: DatabaseRecorder) => Promise<void>)[] {
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`internal: ${what} is missing for mode ${inputs.mode}`)
    return value
  }
  const source = (): Endpoint => need(servers.source, 'the source')
  const target = (): Endpoint => need(servers.target, 'the target')
  const programs = (): ClientPrograms => need(run.programs, 'the client')
  switch (inputs.mode) {
    case 'migrate': {
      const copy = { ...means, programs: programs() }
      const servers = { source: source(), target: target() }
      // A run that ended early in a target is continued there: from its dump, or by the stream,
      // which keeps the pieces it committed and streams the rest (stream/pieces.ts).
      return migrateJobs(inputs, plan, servers, copy.programs.client, run.env).map((job) => {
        const marker = job.database.resume
        return marker && job.copy.method !== 'stream'
          ? (record) => resumeMigration(job, marker, record, copy)
          : (record) => migrateDatabase(job, record, copy)
      })
    }
    case 'dump': {
      const copy = { ...means, programs: programs() }
      return dumpJobs(inputs, plan, source(), run.env).map((job) => (record) => dumpOnly(job, record, copy))
    }
    case 'restore': {
      const copy = { ...means, programs: programs() }
      const dump = need(run.dump, 'the checked dump')
      return restoreJobs(inputs, plan, target(), copy.programs.client, dump).map(
        (job) => (record) => restoreDump(job, record, copy)
      )
    }
    case 'validate':
      return validateJobs(inputs, plan, { source: source(), target: target() }).map(
        (job) => (record) => validateDatabase(job, record, means)
      )
    case 'plan':
      return []
  }
}

function recordPlan(report: RunReport, plan: Plan): void {
  report.sourceVersion = plan.source?.version
  report.targetVersion = plan.target?.version
  report.databases = plan.jobs.map((job) => ({
    name: job.source,
    target: job.target,
    findings: job.findings,
    ...(job.scope ? { scope: scopeReport(job.scope) } : {}),
    ...(job.disk ? { disk: job.disk } : {})
  }))
}

/**
 * Warnings as warnings; blockers as plain lines, each with its fix, all before the run stops: the
 * step's one error line is the failure itself (see failureLines).
 */
function logFindings(log: ActionRunner['log'], plan: Plan): void {
  for (const job of plan.jobs) {
    for (const finding of job.findings) {
      // Most messages already name their objects; the rest get the first few appended.
      const named = finding.objects.length === 0 || finding.message.includes(finding.objects[0])
      const objects = named
        ? ''
        : `: ${finding.objects.slice(0, 5).join(', ')}${finding.objects.length > 5 ? ', …' : ''}`
      const line = `${job.source}: ${finding.message}${objects} — ${finding.hint}`
      if (finding.severity === 'warning') log.warning(line)
      else log.info(`blocker: ${line}`)
    }
  }
  const blockers = plan.jobs.flatMap((job) => job.findings.filter((f) => f.severity === 'blocker')).length
  log.info(`plan: ${count(plan.jobs.length, 'database')}, ${count(blockers, 'blocker')}`)
}

/** Report, outputs and summary: written in every outcome, so gates downstream can read them. */
async function writeResults(runner: ActionRunner, report: RunReport, reportPath: string): Promise<void> {
  try {
    writeJsonReport(report, reportPath)
  } catch (error) {
    runner.log.warning(`could not write the report to ${reportPath}: ${(error as Error).message}`)
  }
  setOutputs(runner, report, reportPath)
  await runner
    .writeSummary(renderSummary(report))
    .catch((error: Error) => runner.log.warning(`could not write the job summary: ${error.message}`))
}
