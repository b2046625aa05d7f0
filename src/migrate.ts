import * as core from '@actions/core'
import path from 'node:path'
import type pg from 'pg'
import type { Client } from './client/install.js'
import { compareFingerprints } from './compare.js'
import { carryDatabaseSettings } from './database-settings.js'
import { connect, withConnection, withDatabase, type Endpoint, type Passfile } from './connection.js'
import { compressionArgument, dumpDatabase, holdSnapshot, type HeldSnapshot } from './dump.js'
import { StageError } from './errors.js'
import { fingerprintDatabase, fingerprintSequences, type Fingerprint } from './fingerprint/index.js'
import type { MigrateInputs } from './inputs.js'
import { locateDifferingRows } from './locate.js'
import { writeManifest, type Manifest } from './manifest.js'
import { rolesReferenced } from './plan/checks/index.js'
import type { DatabasePlan, Plan } from './plan.js'
import type { UploadedArtifact, UploadSkipped } from './artifact.js'
import type { DatabaseReport, RunReport } from './report.js'
import { startTiming, timed } from './report.js'
import { quoteIdent } from './sql.js'
import { dataFileReader, followableTables, followDump } from './restore-follow.js'
import { progressReporter } from './run-tool.js'
import {
  analyzeTarget,
  cleanTarget,
  createMissingRoles,
  ensureTargetDatabase,
  grantRolesToLogin,
  restoreDatabase
} from './restore.js'

export interface MigrateContext {
  inputs: MigrateInputs
  plan: Plan
  databasePlan: DatabasePlan
  database: DatabaseReport
  report: RunReport
  client: Client
  passfile: Passfile
}

/**
 * The next transaction id: how far it moves during the run counts the transactions that wrote on the
 * source server. The statistics counters would name rows, but they reach readers up to a second late.
 */
async function nextTransactionId(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ xid: string }>(
    'SELECT txid_snapshot_xmax(txid_current_snapshot())::text AS xid'
  )
  return Number(rows[0].xid)
}

function fingerprintOptions(inputs: MigrateInputs, snapshot?: string) {
  return {
    level: inputs.verify === 'counts' ? ('counts' as const) : ('full' as const),
    jobs: inputs.jobs,
    snapshot,
    validationQueries: inputs.validationQueries,
    onProgress: progressReporter('tables fingerprinted')
  }
}

/** Where one database's dump goes: the folder itself, or a subfolder per database when there are several. */
export function dumpFolder(inputs: MigrateInputs, report: RunReport, database: string): string {
  return report.databases.length > 1 ? path.join(inputs.dumpPath, database) : inputs.dumpPath
}

/**
 * One database: dump from a held snapshot while the target is restored (see restore-follow.ts), the
 * source fingerprinted inside that snapshot and the dump uploaded; then fingerprint the target and compare.
 */
export async function migrateDatabase(context: MigrateContext): Promise<void> {
  const { inputs, databasePlan, database, report } = context
  const source = withDatabase(inputs.source as Endpoint, databasePlan.source)
  let upload: Promise<void> = Promise.resolve()
  await failingStage(database, 'Dump', async (stage) => {
    const writesBefore = await withConnection(source, nextTransactionId)
    const startUploading = (dumpDir: string): void => {
      if (inputs.uploadArtifact) upload = settledLater(startUpload(inputs, database, dumpDir, report))
    }
    const restore = (snapshot: HeldSnapshot, dumpDir: string): Promise<RestoreAlongside> =>
      restoreAlongside(context, snapshot, dumpDir, () => stage('Restore'))
    const { fingerprint } = await dumpStage(context, restore, startUploading)
    database.writesDuringRun = Math.max(0, (await withConnection(source, nextTransactionId)) - writesBefore)
    if (database.writesDuringRun > 0) {
      core.warning(
        `${database.writesDuringRun} transactions wrote on the source server during the run: the copy of ${database.name} holds the snapshot from the dump's start`
      )
    }
    stage('Verify')
    await analyzeAndVerify(context, fingerprint, source)
    stage('Upload artifact')
    await upload
  })
}

/** The restore of a migrate, beside its dump: fed pg_dump's lines, told when pg_dump has exited. */
interface RestoreAlongside {
  onDumpLine?: (line: string) => void
  /** Resolves when the target is restored; after a failed dump, once nothing is running. */
  dumpDone(succeeded: boolean): Promise<void>
}

/**
 * Follows the dump when the data files can be read as they are written (several jobs, and a
 * compression Node can stream); otherwise restores once the dump is complete.
 */
async function restoreAlongside(
  context: MigrateContext,
  snapshot: HeldSnapshot,
  dumpDir: string,
  onStart: () => void
): Promise<RestoreAlongside> {
  const { inputs, plan, databasePlan, database, report, client, passfile } = context
  const reader = inputs.jobs > 1 ? dataFileReader(compressionArgument(inputs.compression, client.major)) : undefined
  if (!reader) {
    return {
      async dumpDone(succeeded) {
        if (!succeeded) return
        onStart()
        await restoreStage(context, dumpDir)
      }
    }
  }
  const target = withDatabase(inputs.target as Endpoint, databasePlan.target)
  let timing: ReturnType<typeof startTiming> | undefined
  let createdTarget = false
  const follower = followDump({
    client,
    endpoint: target,
    dumpDir,
    options: restoreOptions(context),
    passfile,
    encoding: databasePlan.encoding,
    targetMajor: plan.target?.major ?? client.major,
    tables: await followableTables(snapshot.client),
    reader,
    async prepareTarget() {
      onStart()
      timing = startTiming(report, 'Restore', database.name)
      await prepareTarget(inputs, databasePlan, database, target, () => (createdTarget = true))
    }
  })
  return {
    onDumpLine: (line) => follower.onDumpLine(line),
    async dumpDone(succeeded) {
      if (!succeeded) {
        // What the restore says now only follows from the dump's failure, which is reported.
        await follower.dumpDone(false).catch(() => undefined)
        // A database this run created holds nothing anyone had: it goes, and the target is as it was.
        if (createdTarget) await dropCreatedTarget(inputs, databasePlan, database, plan.target?.major ?? 0)
        const undone = createdTarget ? '; the database it had created was dropped' : ''
        timing?.failed(new Error(`stopped: the dump failed${undone}`))
        return
      }
      try {
        const result = await follower.dumpDone(true)
        if (result) database.restore = { seconds: result.seconds, items: result.items, followed: result.followed }
        timing?.ok()
      } catch (error) {
        timing?.failed(error)
        throw error
      }
    }
  }
}

async function dropCreatedTarget(
  inputs: MigrateInputs,
  databasePlan: DatabasePlan,
  database: DatabaseReport,
  targetMajor: number
): Promise<void> {
  const maintenance = withDatabase(inputs.target as Endpoint, maintenanceDatabase(inputs, databasePlan))
  // Our own sessions in it may still be on their way out.
  const force = targetMajor >= 13 ? ' WITH (FORCE)' : ''
  try {
    await withConnection(
      maintenance,
      (admin) => admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(databasePlan.target)}${force}`),
      { afterCancel: true }
    )
    database.targetTouched = false
    core.info(`dropped the target database ${databasePlan.target}: this run had created it, and the dump failed`)
  } catch (error) {
    core.warning(`could not drop ${databasePlan.target}, which this run created: ${(error as Error).message}`)
  }
}

/** dump mode: the source side only, the dump and its manifest uploaded for a restore elsewhere. */
export async function dumpOnly(context: MigrateContext): Promise<void> {
  const { inputs, database, report } = context
  await failingStage(database, 'Dump', async (stage) => {
    const { dumpDir } = await dumpStage(context)
    stage('Upload artifact')
    if (inputs.uploadArtifact) await startUpload(inputs, database, dumpDir, report)
  })
}

/** restore mode: a checked dump into the target, verified against the fingerprint in its manifest. */
export async function restoreOnly(context: MigrateContext, dumpDir: string, manifest: Manifest): Promise<void> {
  const { inputs, database } = context
  await failingStage(database, 'Restore', async (stage) => {
    await restoreStage(context, dumpDir)
    stage('Verify')
    database.sourceFingerprint = manifest.sourceFingerprint
    await analyzeAndVerify(context, inputs.verify === 'none' ? undefined : manifest.sourceFingerprint)
  })
}

/**
 * ANALYZE the restored tables beside the target's fingerprint: both only read the data, and the
 * fingerprint's sequential scans do not wait for the statistics.
 */
async function analyzeAndVerify(
  context: MigrateContext,
  sourceFingerprint: Fingerprint | undefined,
  source?: Endpoint
): Promise<void> {
  const { inputs, databasePlan, database, report } = context
  const target = withDatabase(inputs.target as Endpoint, databasePlan.target)
  // Database settings and comment are not in a dump made without --create: set here, after the restore
  // (some would change how it runs) and before the verify, which compares them (see database-settings.ts).
  await carryDatabaseSettings(target, { source, fingerprint: sourceFingerprint })
  if (!sourceFingerprint) {
    await timed(report, 'Analyze', database.name, () => analyzeTarget(target))
    return
  }
  await timed(report, 'Verify', database.name, async () => {
    await Promise.all([analyzeTarget(target), verifyTarget(inputs, database, sourceFingerprint, target, source)])
  })
}

/** Runs a database's stages; a failure is recorded against the stage it happened in, and the run goes on to the report. */
async function failingStage(
  database: DatabaseReport,
  first: string,
  work: (stage: (name: string) => void) => Promise<void>
): Promise<void> {
  let current = first
  try {
    await work((name) => (current = name))
  } catch (error) {
    const stage = error instanceof StageError ? error.stage : current
    // main.ts reports it, once, with the hint, when every database has had its turn.
    database.error = { stage, message: (error as Error).message, hint: (error as { hint?: string }).hint }
    core.info(`${database.name}: ${stage} failed`)
  }
}

/** Marks a promise handled now, so a rejection before anyone awaits it cannot end the process. */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined)
  return promise
}

/**
 * Dumps from a held snapshot and fingerprints the source inside it. With a restore beside (migrate),
 * the checksums start when pg_dump is done, beside the rest of the restore, so work on the two
 * servers overlaps instead of the checksums competing with pg_dump; the snapshot stays open until
 * both are done. With nothing to overlap (dump mode) the checksums run beside pg_dump.
 * `onManifest` is called once the manifest is written (migrate starts the upload there).
 */
async function dumpStage(
  context: MigrateContext,
  startRestore?: (snapshot: HeldSnapshot, dumpDir: string) => Promise<RestoreAlongside>,
  onManifest?: (dumpDir: string) => void
): Promise<{ dumpDir: string; fingerprint?: Fingerprint }> {
  const { inputs, plan, databasePlan, database, report, client, passfile } = context
  const source = withDatabase(inputs.source as Endpoint, databasePlan.source)
  const dumpDir = dumpFolder(inputs, report, databasePlan.source)
  const snapshot = await holdSnapshot(source)
  // Read before pg_dump reads them: see FingerprintOptions.sequences.
  const sequences = await fingerprintSequences(snapshot.client)
  const fingerprintSource = (): Promise<Fingerprint | undefined> =>
    inputs.verify === 'none'
      ? Promise.resolve(undefined)
      : settledLater(
          timed(
            report,
            'Fingerprint source',
            database.name,
            () => fingerprintDatabase(() => connect(source), { ...fingerprintOptions(inputs, snapshot.id), sequences }),
            false
          )
        )
  let fingerprinting = startRestore ? undefined : fingerprintSource()
  try {
    const restore = await startRestore?.(snapshot, dumpDir)
    const options = { dir: dumpDir, jobs: inputs.jobs, compression: inputs.compression, onLine: restore?.onDumpLine }
    const dump = await timed(report, 'Dump', database.name, () =>
      dumpDatabase(client, source, snapshot, options, passfile)
    ).catch(async (error: unknown) => {
      await restore?.dumpDone(false).catch(() => undefined)
      throw error
    })
    database.dump = {
      path: dump.path,
      bytes: dump.bytes,
      files: dump.files,
      snapshot: dump.snapshot,
      seconds: dump.seconds
    }
    fingerprinting ??= fingerprintSource()
    const manifestWritten = fingerprinting.then(async (fingerprint) => {
      database.sourceFingerprint = fingerprint
      await writeManifest(dumpDir, {
        database: databasePlan.source,
        encoding: databasePlan.encoding,
        extensions: dump.extensions,
        dump,
        client,
        sourceVersion: plan.source?.version ?? '',
        snapshotTakenAt: snapshot.takenAt,
        fingerprint
      })
      onManifest?.(dumpDir)
      return fingerprint
    })
    // Both finish before this returns, so a failure of one leaves nothing running; the restore's own
    // error explains more than a fingerprint cut short by it.
    const [written, restored] = await Promise.allSettled([manifestWritten, restore?.dumpDone(true)])
    if (restored.status === 'rejected') throw restored.reason
    if (written.status === 'rejected') throw written.reason
    return { dumpDir, fingerprint: written.value }
  } finally {
    await fingerprinting?.catch(() => undefined)
    await snapshot.close()
  }
}

function restoreOptions({ inputs, plan }: MigrateContext) {
  return { jobs: inputs.jobs, privileges: inputs.privileges, superuser: plan.target?.superuser ?? false }
}

async function restoreStage(context: MigrateContext, dumpDir: string): Promise<void> {
  const { inputs, databasePlan, database, report, client, passfile } = context
  const target = withDatabase(inputs.target as Endpoint, databasePlan.target)
  await timed(report, 'Restore', database.name, async () => {
    await prepareTarget(inputs, databasePlan, database, target)
    const result = await restoreDatabase(client, target, dumpDir, restoreOptions(context), passfile)
    database.restore = { seconds: result.seconds, items: result.items }
  })
}

/** Readies the target database; `onCreated` hears at once when this run creates it. */
async function prepareTarget(
  inputs: MigrateInputs,
  databasePlan: DatabasePlan,
  database: DatabaseReport,
  target: Endpoint,
  onCreated?: () => void
): Promise<void> {
  const created = await withConnection(withDatabase(target, maintenanceDatabase(inputs, databasePlan)), (admin) =>
    ensureTargetDatabase(admin, databasePlan.target, databasePlan.encoding)
  )
  // From here on the target is written to; a CREATE DATABASE cut short by a cancel wrote nothing.
  database.targetTouched = true
  if (created) onCreated?.()
  await withConnection(target, async (db) => {
    if (databasePlan.targetObjects.length > 0 && inputs.ifTargetNotEmpty === 'clean')
      database.cleaned = await cleanTarget(db)
    if (!inputs.source || (inputs.roles !== 'create-missing' && inputs.privileges !== 'keep')) return
    const roles = await withConnection(withDatabase(inputs.source, databasePlan.source), (source) =>
      rolesReferenced(source, inputs.privileges)
    )
    if (inputs.roles === 'create-missing') database.createdRoles = await createMissingRoles(db, roles)
    if (inputs.privileges === 'keep') await grantRolesToLogin(db, roles)
  })
}

/** Where to connect to create the target database: the URL's own when it exists, else postgres. */
function maintenanceDatabase(inputs: MigrateInputs, databasePlan: DatabasePlan): string {
  return databasePlan.targetExists
    ? databasePlan.target
    : inputs.target?.database === databasePlan.target
      ? 'postgres'
      : (inputs.target?.database ?? 'postgres')
}

async function verifyTarget(
  inputs: MigrateInputs,
  database: DatabaseReport,
  sourceFingerprint: Fingerprint,
  target: Endpoint,
  source?: Endpoint
): Promise<void> {
  // Hash each table as the source side did, so the checksums compare.
  const options = { ...fingerprintOptions(inputs), like: sourceFingerprint.tables }
  const targetFingerprint = await fingerprintDatabase(() => connect(target), options)
  database.targetFingerprint = targetFingerprint
  database.comparison = compareFingerprints(sourceFingerprint, targetFingerprint, {
    privileges: inputs.privileges,
    restoredFromSnapshot: true
  })
  if (source) await locateRows(database, source, target)
  summariseComparison(database)
}

async function locateRows(database: DatabaseReport, source: Endpoint, target: Endpoint): Promise<void> {
  const comparison = database.comparison
  if (!comparison || !database.sourceFingerprint) return
  const sourceTables = database.sourceFingerprint.tables
  for (const difference of comparison.differences.filter(
    (d) => !d.expected && (d.kind === 'checksum' || d.kind === 'rows')
  )) {
    const table = sourceTables.find((t) => t.schema === difference.table?.schema && t.name === difference.table?.name)
    if (!table || table.primaryKey.length === 0) continue
    const keys = await locateDifferingRows(
      () => connect(source),
      () => connect(target),
      table,
      { limit: 5 }
    ).catch((error) => {
      core.debug(`locating rows in ${difference.object}: ${(error as Error).message}`)
      return []
    })
    if (keys.length) (database.differingRows ??= {})[difference.object] = keys
  }
}

function summariseComparison(database: DatabaseReport): void {
  const differences = database.comparison?.differences.filter((d) => !d.expected) ?? []
  if (differences.length === 0) {
    core.info(`${database.name}: verified, no differences (${database.targetFingerprint?.tables.length ?? 0} tables)`)
    return
  }
  for (const d of differences.slice(0, 50)) {
    const keys = database.differingRows?.[d.object]
    core.error(
      `${database.name}: ${d.kind} differs for ${d.object}${d.detail ? `: ${d.detail}` : ''}${keys ? ` (keys ${keys.join(', ')})` : ''}`
    )
  }
}

function startUpload(
  inputs: MigrateInputs,
  database: DatabaseReport,
  dumpDir: string,
  report: RunReport
): Promise<void> {
  const name = inputs.artifactName ?? defaultArtifactName(database.name)
  // Best effort unless required: a failed upload must not hide the migration's result.
  // Loaded on use: the artifact client is most of the bundle, and most runs on a laptop never upload.
  const upload = async (): Promise<UploadedArtifact | UploadSkipped> => {
    const { uploadDump } = await import('./artifact.js')
    return uploadDump(dumpDir, { name, retentionDays: inputs.retentionDays })
  }
  return timed(report, 'Upload artifact', database.name, upload, false)
    .then((artifact) => {
      report.artifact = artifact
      if ('skipped' in artifact) core.info(artifact.reason)
    })
    .catch((error: Error) => {
      report.artifact = { failed: error.message }
      if (inputs.artifactRequired)
        throw new StageError(
          'Upload artifact',
          error.message,
          'artifact-required is true; fix the upload or set it to false'
        )
      core.warning(`artifact upload failed (the dump stays at ${dumpDir}): ${error.message}`)
    })
}

export function defaultArtifactName(database: string): string {
  const run = process.env.GITHUB_RUN_ID ? `-${process.env.GITHUB_RUN_ID}` : ''
  return `pg-dump-${database.replace(/[^A-Za-z0-9._-]/g, '_')}${run}`
}

/** validate: both live databases, each side inside its own snapshot, compared as after a migration. */
export async function validateDatabase(
  inputs: MigrateInputs,
  database: DatabaseReport,
  report: RunReport,
  plan: Plan
): Promise<void> {
  // Both sides must hash alike, and hash_record_extended needs PostgreSQL 14 on each.
  const textOnly = Math.min(plan.source?.major ?? 0, plan.target?.major ?? 0) < 14
  const source = withDatabase(inputs.source as Endpoint, database.name)
  const target = withDatabase(inputs.target as Endpoint, database.target)
  try {
    await timed(report, 'Validate', database.name, async () => {
      const [sourceSnapshot, targetSnapshot] = await Promise.all([holdSnapshot(source), holdSnapshot(target)])
      try {
        const [sourceFingerprint, targetFingerprint] = await Promise.all([
          fingerprintDatabase(() => connect(source), { ...fingerprintOptions(inputs, sourceSnapshot.id), textOnly }),
          fingerprintDatabase(() => connect(target), { ...fingerprintOptions(inputs, targetSnapshot.id), textOnly })
        ])
        database.sourceFingerprint = sourceFingerprint
        database.targetFingerprint = targetFingerprint
        database.comparison = compareFingerprints(sourceFingerprint, targetFingerprint, {
          privileges: inputs.privileges
        })
      } finally {
        await Promise.all([sourceSnapshot.close(), targetSnapshot.close()])
      }
      await locateRows(database, source, target)
      summariseComparison(database)
    })
  } catch (error) {
    database.error = { stage: 'Validate', message: (error as Error).message, hint: (error as { hint?: string }).hint }
  }
}
