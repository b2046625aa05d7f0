// Extensions: what the source uses, and whether the target can take them.
import type pg from 'pg'
import { count, crosses, FIRST_NORMAL_OID, list, names, notInExtension } from './catalog.js'
import { quoteIdent } from '../../pg/sql.js'
import { WHOLE_DATABASE, type ScopeSql } from '../../scope/sql.js'
import type { Probe, ProbeContext } from './types.js'

export interface ExtensionUse {
  name: string
  version: string
  schema: string
}

/**
 * Extensions the dump creates (CREATE EXTENSION IF NOT EXISTS name WITH SCHEMA schema, no version:
 * the target's default version is installed). Built-in ones such as plpgsql are not dumped.
 */
export async function extensionsUsed(source: pg.Client, scope: ScopeSql = WHOLE_DATABASE): Promise<ExtensionUse[]> {
  const { rows } = await source.query<ExtensionUse>(
    `SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
       FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
      WHERE e.oid >= ${FIRST_NORMAL_OID} AND ${scope.extension('e.oid')} ORDER BY 1`
  )
  return rows
}

/** Extensions a release removed; each has its own version-crossing probe with a precise fix. */
export const REMOVED_EXTENSIONS: Record<string, number> = {
  plpythonu: 15,
  plpython2u: 15,
  hstore_plpythonu: 15,
  hstore_plpython2u: 15,
  jsonb_plpythonu: 15,
  jsonb_plpython2u: 15,
  ltree_plpythonu: 15,
  ltree_plpython2u: 15,
  adminpack: 17
}

function reportedElsewhere(name: string, ctx: ProbeContext): boolean {
  const removedIn = REMOVED_EXTENSIONS[name]
  return removedIn !== undefined && crosses(ctx.sourceMajor, ctx.targetMajor, removedIn)
}

/** What the target knows of each extension the source uses, from the target database. */
interface TargetExtension extends ExtensionUse {
  available: boolean
  /** A non-superuser may create the default version (not superuser-only, or trusted). */
  creatable: boolean
  installedSchema: string | null
  installedOwnedByLogin: boolean
  sourceComment: string | null
  targetComment: string | null
  /** The comment of the target's control file: what an extension the restore creates gets. */
  defaultComment: string | null
}

const targetByContext = new WeakMap<ProbeContext, Promise<TargetExtension[]>>()

function targetExtensions(ctx: ProbeContext): Promise<TargetExtension[]> {
  let result = targetByContext.get(ctx)
  if (!result) {
    result = readTargetExtensions(ctx)
    targetByContext.set(ctx, result)
  }
  return result
}

async function readTargetExtensions(ctx: ProbeContext): Promise<TargetExtension[]> {
  if (!ctx.target) return []
  const { rows: used } = await ctx.source.query<ExtensionUse & { comment: string | null }>(
    `SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema, pg_catalog.obj_description(e.oid, 'pg_extension') AS comment
       FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
      WHERE e.oid >= ${FIRST_NORMAL_OID} AND ${ctx.scope.extension('e.oid')} ORDER BY 1`
  )
  const { rows } = await ctx.target.query<{
    name: string
    available: boolean
    creatable: boolean
    installed_schema: string | null
    owned: boolean
    comment: string | null
    default_comment: string | null
  }>(
    `SELECT u.name, a.name IS NOT NULL AS available,
            COALESCE((SELECT NOT v.superuser OR v.trusted FROM pg_catalog.pg_available_extension_versions v
                       WHERE v.name = a.name AND v.version = a.default_version), false) AS creatable,
            n.nspname AS installed_schema, COALESCE(e.extowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user), false) AS owned,
            pg_catalog.obj_description(e.oid, 'pg_extension') AS comment, a.comment AS default_comment
       FROM pg_catalog.unnest($1::text[]) AS u(name)
       LEFT JOIN pg_catalog.pg_available_extensions a ON a.name = u.name
       LEFT JOIN pg_catalog.pg_extension e ON e.extname = u.name
       LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace`,
    [used.map((u) => u.name)]
  )
  const byName = new Map(rows.map((row) => [row.name, row]))
  return used.map((u) => {
    const t = byName.get(u.name)
    return {
      name: u.name,
      version: u.version,
      schema: u.schema,
      available: t?.available ?? false,
      creatable: t?.creatable ?? false,
      installedSchema: t?.installed_schema ?? null,
      installedOwnedByLogin: t?.owned ?? false,
      sourceComment: u.comment,
      targetComment: t?.comment ?? null,
      defaultComment: t?.default_comment ?? null
    }
  })
}

export const extensionUnavailableProbe: Probe = {
  id: 'extension-unavailable',
  severity: 'blocker',
  message: (objects) =>
    `${count(objects.length, 'extension')} the source uses ${objects.length === 1 ? 'is' : 'are'} not available on the target server: ${list(objects)}`,
  hint: 'ask the provider to make them available (pg_available_extensions on the target lists what is), or drop them on the source if nothing uses them',
  async find(ctx) {
    const extensions = await targetExtensions(ctx)
    return extensions
      .filter((e) => !e.available && !e.installedSchema && !reportedElsewhere(e.name, ctx))
      .map((e) => e.name)
  }
}

export const extensionNeedsSuperuserProbe: Probe = {
  id: 'extension-needs-superuser',
  severity: 'blocker',
  message: (objects) =>
    `${count(objects.length, 'extension')} the source uses can only be created by a superuser on the target (not trusted) and ${objects.length === 1 ? 'is' : 'are'} not installed in the target database: ${list(objects)}`,
  hint: (_ctx, objects) =>
    `have a superuser run ${objects.map((name) => `CREATE EXTENSION ${quoteIdent(name)} CASCADE`).join('; ')} in the target database first (providers usually offer this for allow-listed extensions), then run again`,
  async find(ctx) {
    if (ctx.targetIsSuperuser) return []
    const extensions = await targetExtensions(ctx)
    return extensions
      .filter((e) => e.available && !e.creatable && !e.installedSchema && !reportedElsewhere(e.name, ctx))
      .map((e) => e.name)
  }
}

/** CREATE EXTENSION IF NOT EXISTS skips an installed extension, wherever it lives; objects that name it by the source's schema then fail. */
export const extensionSchemaProbe: Probe = {
  id: 'extension-schema-differs',
  severity: 'blocker',
  message: (objects) =>
    `${count(objects.length, 'extension')} ${objects.length === 1 ? 'is' : 'are'} already installed on the target in another schema than on the source: ${list(objects)}`,
  hint: 'the dump names extension objects by the source schema (public.citext): move the extension on the target (ALTER EXTENSION … SET SCHEMA, if relocatable) or drop it there so the restore creates it where the source has it',
  async find(ctx) {
    const extensions = await targetExtensions(ctx)
    return extensions
      .filter((e) => e.installedSchema !== null && e.installedSchema !== e.schema)
      .map((e) => `${e.name} (source schema ${e.schema}, target schema ${e.installedSchema})`)
  }
}

/**
 * COMMENT ON EXTENSION needs ownership, so the restore leaves those entries out when the login is not
 * a superuser. A comment changed on the source is then lost: on an extension already on the target,
 * owned by someone else, whose comment differs; and on one the restore creates, which gets the
 * comment of the target's control file.
 */
export const extensionCommentProbe: Probe = {
  id: 'extension-comment-not-migrated',
  severity: 'warning',
  message: (objects) =>
    `the source's comments on ${count(objects.length, 'extension')} will not be copied (COMMENT ON EXTENSION needs ownership): ${list(objects)}`,
  hint: 'nothing to do unless the comments matter; the extension owner can set them on the target',
  async find(ctx) {
    if (ctx.targetIsSuperuser) return []
    const extensions = await targetExtensions(ctx)
    return extensions
      .filter((e) =>
        e.installedSchema !== null
          ? !e.installedOwnedByLogin && e.sourceComment !== e.targetComment
          : e.available && e.sourceComment !== e.defaultComment
      )
      .map((e) => e.name)
  }
}

const PYTHON2_LANGUAGES = ['plpythonu', 'plpython2u']

export const python2Probe: Probe = {
  id: 'pg15-plpython2',
  severity: 'blocker',
  appliesTo: { crossing: 15 },
  reference: 'PostgreSQL 15 release notes, Migration to Version 15 (plpython2u and plpythonu removed)',
  message: (objects) =>
    `PostgreSQL 15 removed Python 2 (plpythonu, plpython2u and their transforms); the source uses it: ${list(objects)}`,
  hint: 'port these functions to plpython3u (Python 3) on the source, or drop them, then DROP EXTENSION the Python 2 language',
  async find(ctx) {
    const removed = Object.keys(REMOVED_EXTENSIONS).filter((name) => REMOVED_EXTENSIONS[name] === 15)
    return names(
      ctx.source,
      `SELECT format('function %I.%I(%s) (%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid), l.lanname) AS name
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace JOIN pg_catalog.pg_language l ON l.oid = p.prolang
        WHERE l.lanname = ANY($1) AND ${notInExtension('pg_proc', 'p.oid')} AND ${ctx.scope.inSchema('p.pronamespace')}
       UNION ALL
       SELECT format('extension %I', e.extname) FROM pg_catalog.pg_extension e WHERE e.extname = ANY($2) AND ${ctx.scope.extension('e.oid')}
       ORDER BY 1`,
      [PYTHON2_LANGUAGES, removed]
    )
  }
}

export const adminpackProbe: Probe = {
  id: 'pg17-adminpack',
  severity: 'blocker',
  appliesTo: { crossing: 17 },
  reference: 'PostgreSQL 17 release notes, Migration to Version 17 (adminpack removed)',
  message: () =>
    'PostgreSQL 17 removed the adminpack extension (used by the end-of-life pgAdmin III); the source has it installed',
  hint: 'DROP EXTENSION adminpack on the source before migrating (current pgAdmin does not need it)',
  find: (ctx) =>
    names(
      ctx.source,
      `SELECT format('extension %I', e.extname) AS name FROM pg_catalog.pg_extension e WHERE e.extname = 'adminpack' AND ${ctx.scope.extension('e.oid')}`
    )
}
