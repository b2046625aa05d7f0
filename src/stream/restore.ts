import { MigrationError } from '../base/errors.js'
import { LATE_ACL } from '../tools/follow.js'
import type { DumpProgress } from '../tools/pg-dump.js'
import { partialCopy, restoreEntries, restoreList, type Restorer, type RestoreResult } from '../tools/pg-restore.js'
import { progressReporter } from '../tools/run-tool.js'
import { streamTables, type StreamRequest, type StreamResult } from './engine.js'
import type { StreamResume } from './pieces.js'

export interface RestoreAroundStream {
  restorer: Restorer
  /**
   * Called once the dump is complete, before anything touches the target: readies the target
   * database. Returns the stream's request, whose target sessions may need what it made (the
   * restore role).
   */
  prepareTarget: () => Promise<StreamRequest>
  /** Called once every row is in, before the rest of the restore: the source's fingerprint can start beside it. */
  onStreamed?: (streamed: StreamResult) => void
  /**
   * if-target-not-empty: resume. Given the restore list and the pieces this run plans, says which
   * pieces the target holds already and which entries it lacks (stream/pieces.ts).
   */
  resume?: (lines: string[], request: StreamRequest) => Promise<StreamResume>
}

export interface StreamedCopy {
  restored: RestoreResult
  streamed: StreamResult
  /** A resumed copy: what it kept, emptied and created. */
  resumed?: StreamResume
}

/**
 * The restore of a dump that holds no rows of the streamed tables: pg_restore makes the schema's
 * pre-data (tables, types, functions; no index, constraint or trigger yet), the stream fills the
 * tables, and pg_restore does the rest in parallel (the dump's own rows, sequences, large objects,
 * indexes, constraints, triggers, grants), as after any data load. Undefined when the dump failed.
 */
export async function restoreAroundStream(
  dump: DumpProgress,
  setup: RestoreAroundStream
): Promise<StreamedCopy | undefined> {
  const dumped = await dump.done.then(
    () => true,
    () => false
  )
  // pg_dump's own error explains more than a restore it cut short.
  if (!dumped) return undefined
  const started = performance.now()
  const request = await setup.prepareTarget()
  const { restorer } = setup
  const list = await restoreList(restorer)
  const preData = new Set((await restoreList(restorer, 'pre-data')).kept.map(entryId))
  const resumed = await setup.resume?.(list.kept, request)
  const wanted = (line: string): boolean => resumed?.entries.has(line) ?? true
  // Grants come last, as pg_restore orders them, so the loads run before them.
  const inSchema = new Set(list.kept.filter((line) => preData.has(entryId(line)) && !LATE_ACL.test(line)).map(entryId))
  const schema = list.kept.filter((line) => inSchema.has(entryId(line)) && wanted(line))
  await restoreEntries(restorer, schema, undefined, 1)
  const streamed = await streamTables({ ...request, kept: resumed?.kept }).catch((error: unknown) => {
    if (error instanceof MigrationError) throw partialCopy(error)
    throw new MigrationError('partial-copy', `the streaming copy stopped: ${(error as Error).message}`)
  })
  setup.onStreamed?.(streamed)
  const report = progressReporter(restorer.log, 'tables restored')
  let done = 0
  const rest = list.kept.filter((line) => !inSchema.has(entryId(line)) && wanted(line))
  await restoreEntries(restorer, rest, (table) => report(++done, list.dataItems, table))
  return {
    restored: {
      items: list.kept.length,
      skipped: list.skipped,
      seconds: (performance.now() - started) / 1000
    },
    streamed,
    ...(resumed ? { resumed } : {})
  }
}

const entryId = (line: string): string => line.slice(0, line.indexOf(';'))
