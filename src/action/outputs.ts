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
  DatabasesJson = 'databases-json'
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
    [Outputs.DatabasesJson]: JSON.stringify(report.databases.map((database) => database.name))
  }
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== '') runner.setOutput(name, value)
  }
}
