import type { Cancellation } from '../base/cancellation.js'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import {
  civoRequest,
  majorOf,
  postgresVersions,
  type CivoDatabaseItem,
  type CivoTarget,
  type CivoVersions
} from './civo-api.js'

/** A database to create when civo.database does not exist (a rehearsal's fresh target). */
export interface CivoCreate {
  /** A Civo database size, e.g. g3.db.small. */
  size: string
  /** The PostgreSQL version to create; default Civo's default, else the newest it offers. */
  version?: string
  /** Seconds to wait for the new database to be Ready. */
  waitSeconds: number
}

export interface EnsureContext {
  log: Log
  cancellation?: Cancellation
  timeoutSeconds: number
  /** The source's major: nothing older is created. */
  sourceMajor?: number
}

/** What ensureDatabase found or made, and the versions it chose from. */
export interface EnsuredDatabase {
  item: CivoDatabaseItem
  created: boolean
  versions: CivoVersions
}

/**
 * The database named civo.database, Ready: the existing one when it runs the major asked for, else a new
 * one created through the API. A same-named database of another major is refused, never replaced.
 */
export async function ensureDatabase(
  civo: CivoTarget,
  create: CivoCreate,
  items: CivoDatabaseItem[],
  context: EnsureContext
): Promise<EnsuredDatabase> {
  const versions = await postgresVersions(civo, context.timeoutSeconds)
  const version = chooseVersion(create.version, versions, context.sourceMajor)
  const existing = items.find((item) => item.name === civo.database || item.id === civo.database)
  if (existing) {
    const name = existing.name ?? civo.database
    if (majorOf(existing.software_version) !== majorOf(version)) {
      throw new MigrationError(
        'civo-exists-other-major',
        `Civo database "${name}" exists with PostgreSQL ${existing.software_version ?? '?'}, not the ${version} asked to create`,
        { facts: { name, version } }
      )
    }
    context.log.info(`Civo database "${name}" exists with PostgreSQL ${existing.software_version}: using it`)
    const ready = existing.status?.toLowerCase() === 'ready' || !existing.id
    const item = ready ? existing : await waitUntilReady(civo, existing.id ?? '', create, context)
    return { item, created: false, versions }
  }
  context.log.info(
    `creating Civo database "${civo.database}" in ${civo.region}: PostgreSQL ${version}, size ${create.size}, 1 node`
  )
  const body = await civoRequest(civo, 'POST', '/v2/databases', {
    timeoutSeconds: context.timeoutSeconds,
    body: { name: civo.database, size: create.size, software: 'PostgreSQL', software_version: version, nodes: 1 }
  })
  const id = (body as CivoDatabaseItem | undefined)?.id
  if (!id)
    throw new MigrationError('civo-http', 'the Civo API created a database but gave no id', {
      facts: { region: civo.region }
    })
  context.log.info(`Civo database "${civo.database}" is ${id}; waiting until it is Ready`)
  return { item: await waitUntilReady(civo, id, create, context), created: true, versions }
}

/**
 * The version asked for, if Civo offers its major; else Civo's default, else its newest. Never older
 * than the source: that would be a downgrade.
 */
function chooseVersion(asked: string | undefined, versions: CivoVersions, sourceMajor = 0): string {
  const offered = versions.offered.join(', ')
  if (asked) {
    const found = versions.offered.find((version) => version === asked || majorOf(version) === majorOf(asked))
    if (!found)
      throw new MigrationError(
        'civo-version-unavailable',
        `Civo offers no PostgreSQL ${asked} (it offers ${offered || 'none'})`,
        {
          facts: { offered }
        }
      )
    if (majorOf(found) < sourceMajor)
      throw new MigrationError(
        'downgrade',
        `PostgreSQL ${found}, asked for the new Civo database, is older than the source's ${sourceMajor}: a downgrade`,
        { hint: `create it with PostgreSQL ${sourceMajor} or newer (Civo offers ${offered})` }
      )
    return found
  }
  const candidates = [versions.default, ...versions.offered].filter((version): version is string => Boolean(version))
  const chosen = candidates.find((version) => majorOf(version) >= sourceMajor)
  if (!chosen)
    throw new MigrationError(
      'civo-version-unavailable',
      `Civo offers no PostgreSQL version as new as the source's ${sourceMajor} (it offers ${offered || 'none'})`,
      { facts: { offered } }
    )
  return chosen
}

/** Polls the database until Ready, with a progress line per poll, within create.waitSeconds. */
async function waitUntilReady(
  civo: CivoTarget,
  id: string,
  create: CivoCreate,
  context: EnsureContext
): Promise<CivoDatabaseItem> {
  const started = performance.now()
  const elapsed = (): number => Math.round((performance.now() - started) / 1000)
  for (let delaySeconds = 2; ; delaySeconds = Math.min(delaySeconds * 2, 15)) {
    context.cancellation?.throwIfCancelled()
    const item = (await civoRequest(civo, 'GET', `/v2/databases/${encodeURIComponent(id)}`, {
      timeoutSeconds: context.timeoutSeconds
    })) as CivoDatabaseItem | undefined
    const status = item?.status ?? 'unknown'
    if (item && status.toLowerCase() === 'ready') {
      context.log.info(`Civo database "${item.name ?? id}" is Ready after ${elapsed()} s`)
      return item
    }
    if (/fail|error/i.test(status))
      throw new MigrationError('civo-not-ready', `Civo database "${civo.database}" (${id}) is ${status}`)
    if (elapsed() + delaySeconds > create.waitSeconds) {
      throw new MigrationError(
        'civo-create-timeout',
        `Civo database "${civo.database}" (${id}) is still ${status} after ${elapsed()} s`,
        { facts: { id, waited: elapsed() } }
      )
    }
    context.log.info(`Civo database "${civo.database}": ${status} after ${elapsed()} s; next look in ${delaySeconds} s`)
    await pause(delaySeconds * 1000, context.cancellation)
  }
}

/** A wait that ends early when the run is cancelled. */
function pause(ms: number, cancellation: Cancellation | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      forget?.()
      resolve()
    }, ms)
    const forget = cancellation?.onCancel(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}
