// Continuing a load that ended early, from the dump it was loading: tables whose rows on the target
// match the dump's source fingerprint stay; the others are emptied and loaded again; the entries
// whose objects the target lacks (schema, indexes, constraints, triggers…) are restored, and
// nothing else: one pg_restore --use-list over exactly those entries.
import type { DatabaseRecorder, ResumeReport } from '../../action/report.js'
import type { TableFingerprint } from '../../verify/fingerprint/index.js'
import type { Manifest } from '../../artifact/manifest.js'
import type { Log } from '../../base/log.js'
import type { Connector } from '../../pg/connection.js'
import type { Endpoint } from '../../pg/endpoint.js'
import { addressKey, clearForReload, relationKey } from '../../pg/loaded-objects.js'
import { restoreEntries, restoreList, type Restorer, type RestoreResult } from '../../tools/pg-restore.js'
import { progressReporter } from '../../tools/run-tool.js'
import { parseTocLine, type TocObject } from '../../tools/toc.js'
import type { CheckedDump } from '../job.js'
import { readTargetState, type TargetState } from './target-state.js'
import { openWriter, readyTarget, type TargetMeans, type TargetPreparation } from './target.js'

/** Large objects are loaded all or none: their entries carry no names the target could be asked about. */
const LARGE_OBJECTS = /^(BLOB|BLOBS|BLOB METADATA|LARGE OBJECT|LARGE OBJECTS) /
const TABLE_DATA = /^TABLE DATA /
const MATVIEW_DATA = /^MATERIALIZED VIEW DATA /

/**
 * The load of a resumed run (migrate, or restore) from the dump its target was being loaded from:
 * the target readied again, the writer opened, what it lacks loaded. Returns the kept tables.
 */
export async function resumeLoad(
  load: {
    step: TargetPreparation
    restorer: Restorer
    dump: CheckedDump
    /** Whether the dump is the earlier run's, or one made anew by this run. */
    from: ResumeReport['dump']
  },
  means: TargetMeans,
  record: DatabaseRecorder
): Promise<TableFingerprint[]> {
  const { step, restorer, dump } = load
  const started = performance.now()
  record.targetTouched(true)
  await readyTarget(step, means, record)
  await openWriter(step, means, restorer, record)
  const { connector, log } = means
  const target = step.target.endpoint
  const { resume, restored, kept } = await loadWhatIsMissing({ connector, log, target, restorer, dump })
  record.restored(restored)
  record.resumed({
    runId: dump.manifest.runId ?? step.database.runId,
    dump: load.from,
    ...resume,
    seconds: (performance.now() - started) / 1000
  })
  return kept
}

interface ResumeLoad {
  connector: Connector
  log: Log
  target: Endpoint
  restorer: Restorer
  dump: { manifest: Manifest }
}

/** Loads into the target what it lacks of the dump; returns what was kept, loaded again and created. */
async function loadWhatIsMissing(load: ResumeLoad): Promise<{
  resume: Omit<ResumeReport, 'runId' | 'dump' | 'seconds'>
  restored: RestoreResult
  /** The kept tables as they were read: their rows stay as they are, so the verify need not read them again. */
  kept: TableFingerprint[]
}> {
  const { connector, log, target, restorer, dump } = load
  const started = performance.now()
  const toc = dump.manifest.toc ?? {}
  const list = await restoreList(restorer)
  const before = await readTargetState(connector, target, dump.manifest, { jobs: restorer.options.jobs, log })
  const tables = dataEntries(list.kept, toc)
  const complete = completeTables(before, dump.manifest)
  const reload = tables.filter((table) => !complete.has(relationKey(...table)))
  const reloadLargeObjects = !sameLargeObjects(before, dump.manifest)
  await connector.withConnection(target, (db) => clearForReload(db, reload, reloadLargeObjects, log))
  // Read again: what clearing dropped (foreign keys and triggers of reloaded tables) is missing now.
  const state = reload.length > 0 ? await readTargetState(connector, target, dump.manifest, { jobs: 1, log }) : before
  const reloading = new Set(reload.map((table) => relationKey(...table)))
  const entries: string[] = []
  const created: string[] = []
  for (const line of list.kept) {
    const entry = parseTocLine(line)
    if (!entry) continue
    const object = toc[entry.id]
    const relation = object?.address?.names
    let take: boolean
    if (LARGE_OBJECTS.test(entry.rest)) take = reloadLargeObjects
    else if (TABLE_DATA.test(entry.rest))
      take = relation !== undefined && reloading.has(relationKey(relation[0], relation[1]))
    // A materialized view is refreshed when it is made, or when rows it reads came in again.
    else if (MATVIEW_DATA.test(entry.rest)) take = reload.length > 0 || !exists(state, object)
    else if (object?.attach) {
      take = !state.attached.has(relationKey(object.attach.schema, object.attach.name))
      if (take) created.push(`attach ${object.attach.kind} ${object.attach.schema}.${object.attach.name}`)
    } else if (object?.address && entry.catalog !== 0) {
      take = !exists(state, object)
      if (take) created.push(`${object.address.type} ${object.address.names.join('.')}`)
    }
    // Comments, grants, sequence values and ownership, row security: setting them again changes nothing.
    else take = entry.catalog === 0
    if (take) entries.push(line)
  }
  const report = progressReporter(log, 'tables restored')
  let done = 0
  log.info(
    `resume: ${complete.size} tables complete, ${reload.length} to load again, ${created.length} missing items to create`
  )
  if (entries.length > 0) await restoreEntries(restorer, entries, (table) => report(++done, reload.length, table))
  const name = ([schema, relation]: [string, string]): string => `${schema}.${relation}`
  return {
    resume: {
      kept: tables.filter((table) => complete.has(relationKey(...table))).map(name),
      reloaded: reload.map(name),
      created
    },
    restored: { items: entries.length, skipped: list.skipped, seconds: (performance.now() - started) / 1000 },
    kept: before.tables.filter((t) => complete.has(relationKey(t.schema, t.name)))
  }
}

function exists(state: TargetState, object: TocObject | undefined): boolean {
  return object?.address !== undefined && state.objects.has(addressKey(object.address))
}

/** The tables the dump loads, by the names the manifest recorded for their TABLE DATA entries. */
function dataEntries(lines: string[], toc: Record<string, TocObject>): [string, string][] {
  return lines.flatMap((line) => {
    const entry = parseTocLine(line)
    const names = entry && TABLE_DATA.test(entry.rest) ? toc[entry.id]?.address?.names : undefined
    return names && names.length === 2 ? [[names[0], names[1]] as [string, string]] : []
  })
}

/** Tables whose rows on the target are the source's: same count, and same checksum where one was taken. */
function completeTables(state: TargetState, manifest: Manifest): Set<string> {
  const complete = new Set<string>()
  const source = manifest.sourceFingerprint
  // Without the source fingerprint (verify: none) nothing can be shown complete: all load again.
  if (!source) return complete
  const onTarget = new Map(state.tables.map((t) => [relationKey(t.schema, t.name), t]))
  for (const wanted of source.tables) {
    const found = onTarget.get(relationKey(wanted.schema, wanted.name))
    if (found && found.rows === wanted.rows && (wanted.checksum === null || found.checksum === wanted.checksum))
      complete.add(relationKey(wanted.schema, wanted.name))
  }
  return complete
}

function sameLargeObjects(state: TargetState, manifest: Manifest): boolean {
  const source = manifest.sourceFingerprint?.largeObjects
  if (!source) return state.largeObjects.count === 0
  return source.count === state.largeObjects.count && source.checksum === state.largeObjects.checksum
}
