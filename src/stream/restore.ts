import { MigrationError } from '../base/errors.js'
import { LATE_ACL } from '../tools/follow.js'
import type { DumpProgress } from '../tools/pg-dump.js'
import { partialCopy, restoreEntries, restoreList, type Restorer, type RestoreResult } from '../tools/pg-restore.js'
import { progressReporter } from '../tools/run-tool.js'
import { streamTables, type StreamRequest, type StreamResult } from './engine.js'

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
}

export interface StreamedCopy {
  restored: RestoreResult
  streamed: StreamResult
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
  // Grants come last, as pg_restore orders them, so the loads run before them.
  const schema = list.kept.filter((line) => preData.has(entryId(line)) && !LATE_ACL.test(line))
  await restoreEntries(restorer, schema, undefined, 1)
  const streamed = await streamTables(request).catch((error: unknown) => {
    if (error instanceof MigrationError) throw partialCopy(error)
    throw new MigrationError('partial-copy', `the streaming copy stopped: ${(error as Error).message}`)
  })
  setup.onStreamed?.(streamed)
  const report = progressReporter(restorer.log, 'tables restored')
  let done = 0
  const inSchema = new Set(schema.map(entryId))
  const rest = list.kept.filter((line) => !inSchema.has(entryId(line)))
  await restoreEntries(restorer, rest, (table) => report(++done, list.dataItems, table))
  return {
    restored: {
      items: list.kept.length,
      skipped: list.skipped,
      seconds: (performance.now() - started) / 1000
    },
    streamed
  }
}

const entryId = (line: string): string => line.slice(0, line.indexOf(';'))
