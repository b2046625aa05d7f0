// Database-level settings the migration cannot carry to the target.
import { judgeDatabaseSettings, parameterVerdicts } from '../../settings/carry-settings.js'
import { fingerprintDatabaseSettings, settingObject } from '../../verify/fingerprint/settings-fingerprint.js'
import { count, list } from './catalog.js'
import { rolesReferenced } from './roles.js'
import type { Probe } from './types.js'

/**
 * The migration sets the source database's ALTER DATABASE … SET, ALTER ROLE … IN DATABASE … SET and
 * comment on the target after the restore (a dump without --create has none of them). This names
 * what the target login may not set, and why. Parameters the target does not know at all are
 * reported by removed-setting-in-database.
 */
export const databaseSettingsProbe: Probe = {
  id: 'database-settings-not-carried',
  severity: 'warning',
  message: (objects) =>
    `${count(objects.length, 'database setting')} of the source cannot be set on the target by the target login and will not be carried over: ${list(objects, 3)}`,
  hint: 'have the target database owner or a superuser set them after the migration (ALTER DATABASE … SET, ALTER ROLE … IN DATABASE … SET, COMMENT ON DATABASE), or grant the login what the reason names',
  async find(ctx) {
    // Carried only when the whole database moves (see modes/migrate.ts).
    if (!ctx.target || ctx.scope.global !== 'true') return []
    const wanted = await fingerprintDatabaseSettings(ctx.source)
    if (wanted.settings.length === 0 && wanted.comment === null) return []
    const rolesCreated =
      ctx.roles === 'create-missing' ? await rolesReferenced(ctx.source, ctx.privileges, ctx.targetIsSuperuser) : []
    const carry = {
      targetMajor: ctx.targetMajor,
      targetIsSuperuser: ctx.targetIsSuperuser,
      targetDatabase: ctx.targetDatabase,
      rolesCreated
    }
    const parameters = await parameterVerdicts(
      ctx.target,
      wanted.settings.map((s) => s.name),
      ctx.targetMajor,
      ctx.targetIsSuperuser
    )
    const removed = new Set(
      wanted.settings
        .filter((s) => {
          const verdict = parameters.get(s.name)
          return verdict && !verdict.settable && verdict.removed
        })
        .map(settingObject)
    )
    const notCarried = await judgeDatabaseSettings(ctx.target, wanted, carry)
    return notCarried.filter((n) => !removed.has(n.object)).map((n) => `${n.object} (${n.reason})`)
  }
}
