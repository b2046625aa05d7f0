import * as core from '@actions/core'
import os from 'node:os'
import path from 'node:path'
import { cancelledBy, CancelledError, cancelRun } from './cancel.js'
import { resolveCivoTarget, withCivoFirewallHint } from './targets/civo.js'
import { installClient, type Client } from './tools/client/install.js'
import { Passfile } from './pg/connection.js'
import { MigrationError, StageError } from './errors.js'
import { forgetSecretInputs, getInputs, type MigrateInputs } from './action/inputs.js'
import { fetchDump } from './artifact/fetch-dump.js'
import { dumpOnly, migrateDatabase, restoreOnly, validateDatabase } from './modes/migrate.js'
import { setOutputs } from './action/outputs.js'
import { assertNoBlockers, blockersOf, planMigration, type Plan } from './plan/plan.js'
import { newReport, timed, writeJsonReport, writeSummary, type RunReport } from './action/report.js'

/** The action: plan, install the client, then per database dump, restore and verify. */
export async function run(): Promise<void> {
  const report = newReport('migrate')
  const started = performance.now()
  // Where inputs.ts puts it by default; used when the inputs themselves are refused.
  let reportPath = path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'pg-migrate-report.json')
  const passfile = new Passfile()
  const cancel = (signal: NodeJS.Signals): void => {
    // Child processes are stopped and connections closed (hooks in run-tool.ts and connection.ts);
    // the stage in progress then fails and the report is written as for any failure.
    core.info(`received ${signal}: cancelling`)
    cancelRun(signal)
  }
  process.once('SIGTERM', cancel).once('SIGINT', cancel)
  try {
    const inputs = getInputs()
    forgetSecretInputs()
    report.mode = inputs.mode
    reportPath = inputs.reportPath
    if (inputs.civo && !inputs.target && inputs.mode !== 'dump') {
      const civo = inputs.civo
      inputs.target = await timed(report, 'Resolve Civo target', undefined, () =>
        resolveCivoTarget(civo, { targetDatabase: inputs.targetDatabase, connectTimeout: inputs.connectTimeout })
      )
    }
    const restoring =
      inputs.mode === 'restore' ? await timed(report, 'Check dump', undefined, () => fetchDump(inputs)) : undefined
    const plan = await timed(report, 'Plan', undefined, () =>
      planMigration(inputs, restoring?.manifest).catch((error: unknown) => {
        throw withCivoFirewallHint(error, inputs.target)
      })
    )
    recordPlan(report, plan)
    logFindings(plan)
    assertNoBlockers(plan)
    if (inputs.mode === 'plan') {
      report.result = 'planned'
      return
    }
    if (inputs.mode === 'validate') {
      for (const database of report.databases) await validateDatabase(inputs, database, report, plan)
    } else {
      const client = await timed(report, 'Install PostgreSQL client', undefined, () => installFor(plan, inputs))
      report.clientVersion = client.version
      report.dumpPath = restoring?.dir ?? inputs.dumpPath
      for (const database of report.databases) {
        const databasePlan = plan.databases.find((d) => d.source === database.name)
        if (!databasePlan) continue
        const context = { inputs, plan, databasePlan, database, report, client, passfile }
        if (restoring) await restoreOnly(context, restoring.dir, restoring.manifest)
        else if (inputs.mode === 'dump') await dumpOnly(context)
        else await migrateDatabase(context)
        if (cancelledBy()) break
      }
    }
    const signal = cancelledBy()
    if (signal) throw new CancelledError(signal)
    report.mismatches = report.databases.reduce(
      (n, d) => n + (d.comparison?.differences.filter((x) => !x.expected).length ?? 0),
      0
    )
    const failedDatabase = report.databases.find((d) => d.error)
    report.result = failedDatabase || report.mismatches > 0 ? 'failed' : 'passed'
    if (failedDatabase?.error) report.error = failedDatabase.error
    else if (report.mismatches > 0) {
      report.error = {
        stage: 'Verify',
        message: `${report.mismatches} differences between source and target`,
        hint: 'see the job summary and the JSON report for each table and the differing keys'
      }
    }
    if (report.result === 'failed' && inputs.mode !== 'validate' && !inputs.failOnMismatch && !failedDatabase) {
      core.warning(`${report.mismatches} differences found; fail-on-mismatch is false, so the step passes`)
    }
    finish(report, inputs)
  } catch (error) {
    recordError(report, error)
  } finally {
    process.off('SIGTERM', cancel).off('SIGINT', cancel)
    passfile.remove()
    report.durationSeconds = Math.round((performance.now() - started) / 10) / 100
    await writeResults(report, reportPath)
  }
}

/** A failed result fails the step, unless it is only a mismatch the user asked to tolerate. */
function finish(report: RunReport, inputs: MigrateInputs): void {
  if (report.result !== 'failed') return
  const failed = report.databases.filter((d) => d.error)
  if (failed.length === 0 && !inputs.failOnMismatch) return
  // One line per failed database, naming the stage and the fix; the last one fails the step.
  const lines = failed.map(
    ({ name, error }) => `${name}: ${error?.stage} failed: ${error?.message}${error?.hint ? ` — ${error.hint}` : ''}`
  )
  if (lines.length === 0)
    lines.push(
      report.error ? `${report.error.message}${report.error.hint ? ` — ${report.error.hint}` : ''}` : 'migration failed'
    )
  for (const line of lines.slice(0, -1)) core.error(line)
  core.setFailed(lines[lines.length - 1])
}

function recordPlan(report: RunReport, plan: Plan): void {
  report.sourceVersion = plan.source?.version
  report.targetVersion = plan.target?.version
  report.databases = plan.databases.map((d) => ({ name: d.source, target: d.target, findings: d.findings }))
}

function logFindings(plan: Plan): void {
  for (const database of plan.databases) {
    for (const finding of database.findings) {
      // Most messages already name their objects; the rest get the first few appended.
      const named = finding.objects.length === 0 || finding.message.includes(finding.objects[0])
      const objects = named
        ? ''
        : ` (${finding.objects.slice(0, 5).join(', ')}${finding.objects.length > 5 ? ', …' : ''})`
      const line = `${database.source}: ${finding.message}${objects}`
      if (finding.severity === 'warning') core.warning(`${line} — ${finding.hint}`)
      else core.info(`blocker: ${line}`)
    }
  }
  const blockers = blockersOf(plan).length
  core.info(`plan: ${plan.databases.length} database(s), ${blockers} blocker(s)`)
}

async function installFor(plan: Plan, inputs: MigrateInputs): Promise<Client> {
  if (!plan.client) throw new MigrationError('no client version was chosen', 'set postgres-version')
  return installClient(plan.client, inputs.clientDownloadUrl)
}

function recordError(report: RunReport, caught: unknown): void {
  // Once cancelled, whatever failed failed because of it (a closed connection, a stopped child).
  const signal = cancelledBy()
  if (signal) report.cancelled = signal
  const error = signal ? cancellation(report, signal) : caught
  const stage = error instanceof StageError ? error.stage : report.stages.find((s) => s.status === 'failed')?.stage
  const message = error instanceof Error ? error.message : String(error)
  const hint = error instanceof MigrationError ? error.hint : undefined
  report.result = 'failed'
  report.error = { stage, message, hint }
  if (error instanceof Error && error.stack) core.debug(error.stack)
  core.setFailed(hint ? `${message} — ${hint}` : message)
}

const BESIDE_STAGES = ['Fingerprint source', 'Upload artifact']

/** What a cancelled run says: the stage it stopped in, and whether the target may hold a partial copy. */
function cancellation(report: RunReport, signal: NodeJS.Signals): StageError {
  // The main stage that was cut short; the source fingerprint and the upload only run beside one.
  const cut = report.stages.filter((s) => s.status === 'failed' || s.status === 'running')
  const stage =
    cut.find((s) => !BESIDE_STAGES.includes(s.stage))?.stage ??
    cut[0]?.stage ??
    report.databases.find((d) => d.error)?.error?.stage ??
    'Start'
  const touched = report.databases.some((d) => d.targetTouched)
  return new StageError(
    stage,
    `the run was cancelled (${signal}) during ${stage}: child processes stopped, connections closed`,
    touched
      ? 'the target may hold a partial copy: run again with if-target-not-empty: clean'
      : 'nothing was written to the target: run the step again'
  )
}

/** Outputs, report and summary: written in every outcome, so gates downstream can read them. */
async function writeResults(report: RunReport, reportPath: string): Promise<void> {
  try {
    writeJsonReport(report, reportPath)
  } catch (error) {
    core.warning(`could not write the report to ${reportPath}: ${(error as Error).message}`)
  }
  setOutputs(report, reportPath)
  await writeSummary(report).catch((error) =>
    core.warning(`could not write the job summary: ${(error as Error).message}`)
  )
}
