// The database's own settings and comment: what a dump without --create leaves out, carried apart.
import { createHash } from 'node:crypto'
import type pg from 'pg'
import type { Difference } from '../differences.js'

/** One `ALTER DATABASE … SET` (role null) or `ALTER ROLE role IN DATABASE … SET`, as stored. */
export interface DatabaseSetting {
  role: string | null
  name: string
  /** The value, or for a custom setting read for a fingerprint `sha256:<hex>` of it (see valueOf). */
  value: string
  /** Set when value is the hash: the value stayed in the database. */
  hashed?: true
}

/** What the target login could not set, so the verify expects it missing: see carryDatabaseSettings. */
export interface NotCarried {
  /** As in the plan's findings and the verify's differences: `ALTER DATABASE SET work_mem`, `COMMENT ON DATABASE`. */
  object: string
  reason: string
}

export interface DatabaseSettingsFingerprint {
  comment: string | null
  settings: DatabaseSetting[]
  /** Set on the source's fingerprint once the migration has tried to carry them. */
  notCarried?: NotCarried[]
}

export const COMMENT_OBJECT = 'COMMENT ON DATABASE'

/** How a setting reads in findings, logs and differences. */
export function settingObject(setting: Pick<DatabaseSetting, 'role' | 'name'>): string {
  return setting.role === null
    ? `ALTER DATABASE SET ${setting.name}`
    : `ALTER ROLE ${setting.role} IN DATABASE SET ${setting.name}`
}

/**
 * Settings whose value is a list of names, stored with each name quoted as an identifier: the same
 * list as pg_dump's variable_is_guc_list_quote. Quoting follows the server's keywords (17 quotes
 * `json`, 14 does not), so they are compared name by name.
 */
export const LIST_SETTINGS = new Set([
  'local_preload_libraries',
  'search_path',
  'session_preload_libraries',
  'shared_preload_libraries',
  'temp_tablespaces',
  'unix_socket_directories'
])

/** Splits a stored list value into its names, unquoted (the server's SplitGUCList). */
export function splitList(value: string): string[] {
  const names: string[] = []
  let i = 0
  const skipSpace = () => {
    while (i < value.length && /\s/.test(value[i])) i++
  }
  skipSpace()
  if (i === value.length) return names
  for (;;) {
    let name = ''
    if (value[i] === '"') {
      for (i++; i < value.length; i++) {
        if (value[i] === '"') {
          if (value[i + 1] !== '"') break
          i++
        }
        name += value[i]
      }
      i++
    } else {
      while (i < value.length && value[i] !== ',' && !/\s/.test(value[i])) name += value[i++]
    }
    names.push(name)
    skipSpace()
    if (value[i] !== ',') return names
    i++
    skipSpace()
  }
}

function comparable(setting: DatabaseSetting): string {
  return LIST_SETTINGS.has(setting.name.toLowerCase()) ? JSON.stringify(splitList(setting.value)) : setting.value
}

/**
 * Custom settings (a dotted name: `app.jwt_secret`, PostgREST's and many apps' way to hand the
 * database a secret) travel in fingerprints as a hash of their value: fingerprints go into the
 * manifest, which travels in the artifact, and into the report. Built-in parameters are
 * configuration (work_mem, search_path) and travel as they are, so a restore job can set them.
 * Both sides hash alike, so the verify still compares them; a guessable value can be guessed back.
 */
function valueOf(name: string, value: string, values: 'all' | 'public'): Pick<DatabaseSetting, 'value' | 'hashed'> {
  if (values === 'all' || !name.includes('.')) return { value }
  return { value: `sha256:${createHash('sha256').update(value).digest('hex')}`, hashed: true }
}

/**
 * The current database's settings (its own and its roles') and comment; every role may read them.
 * `values: 'all'` keeps custom settings' values too: only for carrying them, never for a fingerprint.
 */
export async function fingerprintDatabaseSettings(
  client: pg.Client,
  values: 'all' | 'public' = 'public'
): Promise<DatabaseSettingsFingerprint> {
  const { rows } = await client.query<{ role: string | null; config: string; comment: string | null }>(
    `SELECT r.rolname AS role, c.config, pg_catalog.shobj_description(d.oid, 'pg_database') AS comment
       FROM pg_catalog.pg_database d
       LEFT JOIN pg_catalog.pg_db_role_setting s ON s.setdatabase = d.oid
       LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
       LEFT JOIN LATERAL pg_catalog.unnest(s.setconfig) WITH ORDINALITY AS c(config, position) ON true
      WHERE d.datname = pg_catalog.current_database()
      ORDER BY r.rolname NULLS FIRST, c.position`
  )
  const settings = rows.flatMap(({ role, config }) => {
    if (config === null) return []
    const equals = config.indexOf('=')
    const name = config.slice(0, equals)
    return [{ role, name, ...valueOf(name, config.slice(equals + 1), values) }]
  })
  return { comment: rows[0]?.comment ?? null, settings }
}

const keyOf = (setting: Pick<DatabaseSetting, 'role' | 'name'>) => settingObject(setting).toLowerCase()

/**
 * Every setting and the comment, source against target. What the migration could not carry is
 * expected (the plan said so); so is what only the target has: the migration adds, never removes.
 * Fingerprints from before this part existed compare as equal.
 */
export function compareDatabaseSettings(
  source: DatabaseSettingsFingerprint | undefined,
  target: DatabaseSettingsFingerprint | undefined
): Difference[] {
  if (!source || !target) return []
  const notCarried = new Map((source.notCarried ?? []).map((n) => [n.object.toLowerCase(), n.reason]))
  const expectedWhy = (object: string) => notCarried.get(object.toLowerCase())
  const differences: Difference[] = []
  const onTarget = new Map(target.settings.map((s) => [keyOf(s), s]))
  for (const setting of source.settings) {
    const object = settingObject(setting)
    const there = onTarget.get(keyOf(setting))
    onTarget.delete(keyOf(setting))
    if (there && comparable(there) === comparable(setting)) continue
    const why = expectedWhy(object)
    differences.push({
      kind: there ? 'definition' : 'missing',
      object,
      source: setting.value,
      target: there?.value ?? null,
      expected: why !== undefined,
      detail: why
        ? `not carried over: ${why}`
        : there
          ? `the target has ${setting.name} = ${there.value}, the source ${setting.value}`
          : `the source sets ${setting.name} = ${setting.value}; the target does not`
    })
  }
  for (const extra of onTarget.values()) {
    differences.push({
      kind: 'extra',
      object: settingObject(extra),
      target: extra.value,
      expected: true,
      detail: `set on the target only (${extra.name} = ${extra.value}); the migration leaves the target's own settings`
    })
  }
  if (source.comment !== target.comment) {
    const why = expectedWhy(COMMENT_OBJECT)
    differences.push({
      kind: 'definition',
      object: COMMENT_OBJECT,
      source: source.comment,
      target: target.comment,
      expected: source.comment === null || why !== undefined,
      detail:
        source.comment === null
          ? `the target database has a comment of its own; the migration leaves it`
          : why
            ? `not carried over: ${why}`
            : `the database's comment differs`
    })
  }
  return differences
}
