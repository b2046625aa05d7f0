import type { RunReport } from './report.js'
import type { ActionRunner } from './runner.js'

export enum Outputs {
  Result = 'result',
  Mismatches = 'mismatches',
  ReportPath = 'report-path',
  SourceVersion = 'source-version',
  TargetVersion = 'target-version',
  ClientVersion = 'client-version',
  DumpPath = 'dump-path',
  DurationSeconds = 'duration-seconds',
  ArtifactId = 'artifact-id',
  ArtifactName = 'artifact-name',
  ArtifactUrl = 'artifact-url',
  ArtifactDigest = 'artifact-digest',
  DatabasesJson = 'databases-json',
  DowntimeSeconds = 'downtime-seconds',
  CutoverLagSeconds = 'cutover-lag-seconds',
  SyncLagJson = 'sync-lag-json',
  CivoDatabaseId = 'civo-database-id'
}

/** Every output, set in one place from the report, before the step is failed. */
export function setOutputs(runner: ActionRunner, report: RunReport, reportPath: string): void {
  const values: Record<Outputs, string | number | undefined> = {
    [Outputs.Result]: report.result,
    [Outputs.Mismatches]: report.mismatches,
    [Outputs.ReportPath]: reportPath,
    [Outputs.SourceVersion]: report.sourceVersion,
    [Outputs.TargetVersion]: report.targetVersion,
    [Outputs.ClientVersion]: report.clientVersion,
    [Outputs.DumpPath]: report.dumpPath,
    [Outputs.DurationSeconds]: report.durationSeconds,
    [Outputs.ArtifactId]: report.artifact && 'id' in report.artifact ? report.artifact.id : undefined,
    [Outputs.ArtifactName]: report.artifact && 'name' in report.artifact ? report.artifact.name : undefined,
    [Outputs.ArtifactUrl]: report.artifact && 'url' in report.artifact ? report.artifact.url : undefined,
    [Outputs.ArtifactDigest]: report.artifact && 'digest' in report.artifact ? report.artifact.digest : undefined,
    [Outputs.DatabasesJson]: JSON.stringify(report.databases.map((database) => database.name)),
    ...syncOutputs(report),
    [Outputs.CivoDatabaseId]: report.civo?.databaseId
  }
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== '') runner.setOutput(name, value)
  }
}

/** sync: logical: the longest downtime window and lag at cutover over the databases, and each one's lag over time. */
function syncOutputs(
  report: RunReport
): Record<Outputs.DowntimeSeconds | Outputs.CutoverLagSeconds | Outputs.SyncLagJson, string | number | undefined> {
  const synced = report.databases.filter((database) => database.sync)
  const most = (values: (number | undefined)[]): number | undefined => {
    const known = values.filter((value): value is number => value !== undefined)
    return known.length > 0 ? Math.max(...known) : undefined
  }
  return {
    [Outputs.DowntimeSeconds]: most(synced.map((database) => database.sync?.downtime?.seconds)),
    [Outputs.CutoverLagSeconds]: most(synced.map((database) => database.sync?.lagAtCutoverSeconds)),
    [Outputs.SyncLagJson]:
      synced.length === 0
        ? undefined
        : JSON.stringify(
            Object.fromEntries(
              synced.map((database) => [database.name, (database.sync?.lag ?? []).map((s) => [s.at, s.lag])])
            )
          )
  }
}
