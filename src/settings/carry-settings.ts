// Database-level settings and the database's comment: a dump made without --create leaves out
// ALTER DATABASE … SET, ALTER ROLE … IN DATABASE … SET and COMMENT ON DATABASE, so the migration
// carries them itself, as far as the target login may.
import type pg from 'pg'
import type { Log } from '../base/log.js'
import type { Connector } from '../pg/connection.js'
import type { Endpoint } from '../pg/endpoint.js'
import { quoteIdent, quoteLiteral } from '../pg/sql.js'
import {
  COMMENT_OBJECT,
  fingerprintDatabaseSettings,
  LIST_SETTINGS,
  settingObject,
  splitList,
  type DatabaseSetting,
  type DatabaseSettingsFingerprint,
  type NotCarried
} from '../verify/fingerprint/settings-fingerprint.js'
import type { Fingerprint } from '../verify/fingerprint/index.js'

/** Whether the target login may set a parameter per database, per role or per function, and if not why. */
export type ParameterVerdict = { settable: true } | { settable: false; reason: string; removed?: boolean }

/**
 * Reads each parameter's context on the target: `user` parameters anyone may set; `superuser` ones
 * need a superuser or, from 15, a granted SET privilege; so do custom names the target does not
 * know (placeholders: they could turn out to be superuser-only once their module loads). Others
 * (backend, sighup, postmaster, internal) cannot be set per database or function at all.
 * `grantee`: whose granted SET counts; `public` for what the run's restore role may set (it holds
 * only what PUBLIC is granted); absent, the login's.
 */
export async function parameterVerdicts(
  target: pg.Client,
  names: string[],
  targetMajor: number,
  targetIsSuperuser: boolean,
  grantee?: 'public'
): Promise<Map<string, ParameterVerdict>> {
  const who = grantee ? `'${grantee}', ` : ''
  const granted =
    targetMajor >= 15
      ? `CASE WHEN s.name IS NOT NULL OR u.name LIKE '%.%' THEN pg_catalog.has_parameter_privilege(${who}u.name, 'SET') ELSE false END`
      : 'false'
  const { rows } = await target.query<{ name: string; context: string | null; granted: boolean }>(
    `SELECT u.name, s.context, ${granted} AS granted
       FROM pg_catalog.unnest($1::text[]) AS u(name)
       LEFT JOIN pg_catalog.pg_settings s ON pg_catalog.lower(s.name) = pg_catalog.lower(u.name)`,
    [[...new Set(names)]]
  )
  const verdicts = new Map<string, ParameterVerdict>()
  for (const { name, context, granted: hasGrant } of rows) {
    const privileged = targetIsSuperuser || hasGrant
    let verdict: ParameterVerdict
    if (context === 'user') verdict = { settable: true }
    else if (context === 'superuser')
      verdict = privileged
        ? { settable: true }
        : { settable: false, reason: `only a superuser or a role granted SET on ${name} may set it` }
    else if (context !== null)
      verdict = { settable: false, reason: `${name} cannot be set per database, role or function (${context})` }
    else if (name.includes('.'))
      verdict = privileged
        ? { settable: true }
        : {
            settable: false,
            reason: `the target does not know ${name} (its module is not loaded), so only a superuser or a role granted SET on it may set it`
          }
    else verdict = { settable: false, reason: `the target does not know ${name}`, removed: true }
    verdicts.set(name, verdict)
  }
  return verdicts
}

export interface CarryContext {
  targetMajor: number
  targetIsSuperuser: boolean
  /** The target database; absent, or not there yet: the run creates it, owned by the login. */
  targetDatabase?: string
  /** Roles missing on the target that the run creates before the restore (roles: create-missing). */
  rolesCreated?: string[]
}

/**
 * What the target login cannot carry, and why: ALTER DATABASE and COMMENT ON DATABASE need the
 * database's owner; ALTER ROLE … IN DATABASE needs the role itself, or CREATEROLE and (from 16)
 * ADMIN OPTION on a role that is not a superuser; every parameter needs the right to set it.
 */
export async function judgeDatabaseSettings(
  target: pg.Client,
  wanted: DatabaseSettingsFingerprint,
  ctx: CarryContext
): Promise<NotCarried[]> {
  const { rows: owner } = await target.query<{ owns: boolean | null }>(
    `SELECT (SELECT pg_catalog.pg_has_role(d.datdba, 'USAGE') FROM pg_catalog.pg_database d
              WHERE d.datname = COALESCE($1, pg_catalog.current_database())) AS owns`,
    [ctx.targetDatabase ?? null]
  )
  // No such database yet: the run creates it, and its creator owns it.
  const ownsDatabase = ctx.targetIsSuperuser || owner[0].owns !== false
  const roleNames = [...new Set(wanted.settings.flatMap((s) => (s.role === null ? [] : [s.role])))]
  const roleVerdicts = await roleVerdictsOn(target, roleNames, ctx)
  const parameters = await parameterVerdicts(
    target,
    wanted.settings.map((s) => s.name),
    ctx.targetMajor,
    ctx.targetIsSuperuser
  )
  const notCarried: NotCarried[] = []
  const notOwner =
    'the target login does not own the target database (ALTER DATABASE and COMMENT ON DATABASE need its owner)'
  for (const setting of wanted.settings) {
    const parameter = parameters.get(setting.name)
    const reason = setting.role === null ? (ownsDatabase ? undefined : notOwner) : roleVerdicts.get(setting.role)
    const why = reason ?? (parameter && !parameter.settable ? parameter.reason : undefined)
    if (why) notCarried.push({ object: settingObject(setting), reason: why })
  }
  if (wanted.comment !== null && !ownsDatabase) notCarried.push({ object: COMMENT_OBJECT, reason: notOwner })
  return notCarried
}

/** Per role: undefined when the login may set its per-database settings, else why not. */
async function roleVerdictsOn(
  target: pg.Client,
  roles: string[],
  ctx: CarryContext
): Promise<Map<string, string | undefined>> {
  const verdicts = new Map<string, string | undefined>()
  if (roles.length === 0) return verdicts
  const admin = ctx.targetMajor >= 16 ? `pg_catalog.pg_has_role(r.oid, 'MEMBER WITH ADMIN OPTION')` : 'true'
  const { rows } = await target.query<{ name: string; superuser: boolean; self: boolean; allowed: boolean }>(
    `SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolname = current_user AS self,
            (SELECT rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user) AND ${admin} AS allowed
       FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1)`,
    [roles]
  )
  const found = new Map(rows.map((row) => [row.name, row]))
  for (const role of roles) {
    const row = found.get(role)
    if (ctx.targetIsSuperuser && (row || ctx.rolesCreated?.includes(role))) verdicts.set(role, undefined)
    else if (!row)
      verdicts.set(role, ctx.rolesCreated?.includes(role) ? undefined : `role ${role} does not exist on the target`)
    else if (row.self) verdicts.set(role, undefined)
    else if (row.superuser)
      verdicts.set(role, `role ${role} is a superuser on the target; only a superuser may alter it`)
    else if (!row.allowed)
      verdicts.set(
        role,
        ctx.targetMajor >= 16
          ? `the target login needs CREATEROLE and ADMIN OPTION on role ${role}`
          : `the target login needs CREATEROLE`
      )
    else verdicts.set(role, undefined)
  }
  return verdicts
}

/** `name = value` as ALTER … SET takes it: list settings one literal per name, as pg_dump writes them. */
export function setClause(setting: Pick<DatabaseSetting, 'name' | 'value'>): string {
  const name = setting.name.split('.').map(quoteIdent).join('.')
  const value = LIST_SETTINGS.has(setting.name.toLowerCase())
    ? splitList(setting.value).map(quoteLiteral).join(', ')
    : quoteLiteral(setting.value)
  return `${name} = ${value}`
}

const HASHED_REASON =
  "the dump's manifest keeps a custom setting's value out (it may be a secret): set it on the target yourself, or migrate in one job"

/**
 * Sets on the connected target database what `wanted` holds and the login may set; a statement the
 * server refuses anyway (a value the target rejects) is reported, not thrown. Settings only the
 * target has are left alone, and so is its comment when the source has none.
 */
export async function applyDatabaseSettings(
  target: pg.Client,
  wanted: DatabaseSettingsFingerprint,
  ctx: CarryContext
): Promise<{ carried: string[]; notCarried: NotCarried[] }> {
  // A restore job reads the settings from the dump's manifest, which holds custom values hashed:
  // whatever the login may do, there is no value to set.
  const hashed = new Set(wanted.settings.filter((s) => s.hashed).map(settingObject))
  const notCarried = [
    ...[...hashed].map((object) => ({ object, reason: HASHED_REASON })),
    ...(await judgeDatabaseSettings(target, wanted, ctx)).filter((n) => !hashed.has(n.object))
  ]
  const skipped = new Set(notCarried.map((n) => n.object))
  const { rows } = await target.query<{ name: string }>('SELECT pg_catalog.current_database() AS name')
  const database = quoteIdent(rows[0].name)
  const statements: [string, string][] = wanted.settings.map((s) => [
    settingObject(s),
    s.role === null
      ? `ALTER DATABASE ${database} SET ${setClause(s)}`
      : `ALTER ROLE ${quoteIdent(s.role)} IN DATABASE ${database} SET ${setClause(s)}`
  ])
  if (wanted.comment !== null)
    statements.push([COMMENT_OBJECT, `COMMENT ON DATABASE ${database} IS ${quoteLiteral(wanted.comment)}`])
  const carried: string[] = []
  for (const [object, sql] of statements) {
    if (skipped.has(object)) continue
    try {
      await target.query(sql)
      carried.push(object)
    } catch (error) {
      notCarried.push({ object, reason: `the target refused it: ${(error as Error).message}` })
    }
  }
  return { carried, notCarried }
}

/**
 * After the restore, before the verify: reads the source database's settings and comment (from the
 * source, or from its fingerprint when only the dump's manifest is at hand), sets them on the target
 * database, and records on the source fingerprint what could not be carried, so the verify expects
 * those differences. Settings are set after the restore because some would change how it runs
 * (default_transaction_read_only, statement_timeout, search_path).
 */
export async function carryDatabaseSettings(
  connector: Connector,
  log: Log,
  target: Endpoint,
  from: { source?: Endpoint; fingerprint?: Fingerprint }
): Promise<void> {
  const wanted: DatabaseSettingsFingerprint | undefined = from.source
    ? await connector.withConnection(from.source, (client) => fingerprintDatabaseSettings(client, 'all'))
    : from.fingerprint?.databaseSettings
  if (!wanted) {
    log.info('database settings: none carried (no source to read them from, and no source fingerprint holding them)')
    return
  }
  if (wanted.settings.length === 0 && wanted.comment === null) return
  const { carried, notCarried } = await connector.withConnection(target, async (client) => {
    const { rows } = await client.query<{ num: string; superuser: boolean }>(
      `SELECT pg_catalog.current_setting('server_version_num') AS num, rolsuper AS superuser FROM pg_catalog.pg_roles WHERE rolname = current_user`
    )
    const ctx = { targetMajor: Math.floor(Number(rows[0].num) / 10000), targetIsSuperuser: rows[0].superuser }
    return applyDatabaseSettings(client, wanted, ctx)
  })
  if (carried.length > 0) log.info(`database settings carried to ${target.database}: ${carried.join(', ')}`)
  for (const { object, reason } of notCarried) log.warning(`not carried to ${target.database}: ${object} — ${reason}`)
  if (from.fingerprint?.databaseSettings) from.fingerprint.databaseSettings.notCarried = notCarried
}
