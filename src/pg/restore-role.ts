// The role the source's code runs as on the target. A restore evaluates functions the source
// defined: CHECK constraints, domain checks and generated columns as each row is loaded, index
// expressions, materialized views and extended statistics when they are built or analyzed. Run as
// the target login, they would have its rights (CREATEROLE on a managed server: a hostile source
// could make LOGIN roles or change the login's password). So the restore, the action's own loads,
// the sync's apply session and ANALYZE log in as a role of their own with no attribute and no
// membership, which owns what they create. SET ROLE would not do: a function run under it may
// RESET ROLE back to the login. The role can log in only while the run needs it: a one-run
// password (sent as a SCRAM verifier, so no log holds it) that expires after a day at the latest.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto'
import type pg from 'pg'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import { serverVersionNumber, type Connector } from './connection.js'
import type { Endpoint } from './endpoint.js'
import { isUserSchema, quoteIdent, quoteLiteral } from './sql.js'

/** The comment that marks a role as this action's, for one target database. */
const mark = (database: string): string => `pg-migrate-action: owns what was restored into database ${database}`

/** Hours the one-run password stays valid, even if the run never gets to disable the login. */
const VALID_HOURS = 24

/** The restore role of a target database: `migrated_<database>`, cut to PostgreSQL's 63 bytes. */
export function restoreRoleName(database: string): string {
  let name = `migrated_${database}`
  while (Buffer.byteLength(name) > 63) name = name.slice(0, -1)
  return name
}

/**
 * A SCRAM-SHA-256 verifier of `password`, as the server stores it: ALTER ROLE … PASSWORD with it
 * puts no password in the statement text, which a server may log.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256')
  const clientKey = createHmac('sha256', salted).update('Client Key').digest()
  const storedKey = createHash('sha256').update(clientKey).digest()
  const serverKey = createHmac('sha256', salted).update('Server Key').digest()
  const b64 = (buffer: Buffer): string => buffer.toString('base64')
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`
}

/**
 * A role (`alias`, a pg_roles row) whose rights reach beyond owning objects: an attribute, a
 * predefined role (pg_read_server_files…), or the login itself. The source's code must not run as one.
 */
export function powerful(alias: string): string {
  return `(${alias}.rolsuper OR ${alias}.rolcreaterole OR ${alias}.rolcreatedb OR ${alias}.rolreplication OR ${alias}.rolbypassrls
    OR ${alias}.rolname OPERATOR(pg_catalog.=) CURRENT_USER
    OR (${alias}.rolname OPERATOR(pg_catalog.~~) 'pg\\_%' AND ${alias}.rolname OPERATOR(pg_catalog.<>) 'pg_database_owner'))`
}

const refused = (message: string, hint: string): MigrationError => new MigrationError('restore-role', message, { hint })

/**
 * Readies the restore role in the connected target database (as the login) and lets it log in
 * until `closeRestoreRole`: created NOLOGIN when missing, granted to the login (which then manages
 * what it owns), given CREATE on the database and its schemas, and, with owners kept, made able to
 * become each owner. Refused when it or an owner has power: the source's code would run with it.
 * Returns the target as the restore role.
 */
export async function openRestoreRole(
  db: pg.Client,
  request: { target: Endpoint; owners: string[]; loginIsSuperuser: boolean; log: Log }
): Promise<Endpoint> {
  const { target, log } = request
  const { rows: owners } = await db.query<{ name: string }>(
    'SELECT rolname AS name FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) ANY($1) ORDER BY 1',
    [request.owners]
  )
  const role = restoreRoleName(target.database)
  const sixteen = (await serverVersionNumber(db)) >= 160000
  const options = sixteen ? ' WITH INHERIT TRUE, SET TRUE' : ''
  await ensureRole(db, role, target.database, log)
  await refuseIfPowerful(db, [role, ...owners.map((owner) => owner.name)])
  if (!request.loginIsSuperuser) await db.query(`GRANT ${quoteIdent(role)} TO CURRENT_USER${options}`)
  for (const { name: owner } of owners) {
    if (owner === role) continue
    await db.query(`GRANT ${quoteIdent(owner)} TO ${quoteIdent(role)}${options}`).catch((error: Error) => {
      throw refused(
        `the restore role ${role} cannot be made a member of the owner ${owner}: ${error.message}`,
        'the login must administer each owner the dump names (roles it created hold that)'
      )
    })
  }
  await db.query(`GRANT CONNECT, CREATE ON DATABASE ${quoteIdent(target.database)} TO ${quoteIdent(role)}`)
  const { rows: schemas } = await db.query<{ name: string }>(
    `SELECT n.nspname AS name FROM pg_catalog.pg_namespace n
      WHERE ${isUserSchema('n')} AND NOT pg_catalog.has_schema_privilege($1, n.oid, 'CREATE')`,
    [role]
  )
  for (const { name } of schemas)
    await db.query(`GRANT USAGE, CREATE ON SCHEMA ${quoteIdent(name)} TO ${quoteIdent(role)}`)
  const password = randomBytes(24).toString('hex')
  log.mask(password)
  const until = new Date(Date.now() + VALID_HOURS * 3600_000).toISOString()
  await db.query(
    `ALTER ROLE ${quoteIdent(role)} LOGIN PASSWORD ${quoteLiteral(scramVerifier(password))} VALID UNTIL ${quoteLiteral(until)}`
  )
  log.info(`the restore runs as ${role} (NOLOGIN after the run), which owns what it creates`)
  return { ...target, user: role, password }
}

/**
 * The role logs in once before anything is restored: a provider whose pg_hba.conf admits only its own
 * login would otherwise fail the restore halfway, with a message about a role the user never named.
 */
export async function proveRestoreRoleLogin(connector: Connector, writer: Endpoint): Promise<void> {
  try {
    await connector.withConnection(writer, async () => undefined, { attempts: 1 })
  } catch (error) {
    throw refused(
      `the target refused a login as the restore role ${writer.user}: ${(error as Error).message}`,
      "admit the role in the server's pg_hba.conf (a managed server usually admits every role with a password)"
    )
  }
}

/** The role, created when missing; an existing one only if this action made it for this database. */
async function ensureRole(db: pg.Client, role: string, database: string, log: Log): Promise<void> {
  const { rows } = await db.query<{ mark: string | null }>(
    `SELECT pg_catalog.shobj_description(oid, 'pg_authid') AS mark FROM pg_catalog.pg_roles WHERE rolname = $1`,
    [role]
  )
  if (rows.length === 0) {
    await db.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`)
    await db.query(`COMMENT ON ROLE ${quoteIdent(role)} IS ${quoteLiteral(mark(database))}`)
    log.info(`created role ${role} NOLOGIN: it owns what the restore creates in ${database}`)
  } else if (rows[0].mark !== mark(database))
    throw refused(
      `the target has a role ${role} that this action did not make for database ${database}`,
      'rename or drop that role: the action runs the restore as a role of its own by that name'
    )
}

/**
 * Neither the role nor any owner it is to become may hold power, directly or through a membership:
 * the source's code runs as them. Checked before any grant, so a refused run grants nothing.
 */
async function refuseIfPowerful(db: pg.Client, roles: string[]): Promise<void> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT DISTINCT x.rolname AS name FROM pg_catalog.pg_roles r, pg_catalog.pg_roles x
      WHERE r.rolname OPERATOR(pg_catalog.=) ANY($1)
        AND (x.oid OPERATOR(pg_catalog.=) r.oid OR pg_catalog.pg_has_role(r.oid, x.oid, 'MEMBER')) AND ${powerful('x')}
      ORDER BY 1`,
    [roles]
  )
  if (rows.length === 0) return
  const names = rows.map((row) => row.name).join(', ')
  throw refused(
    `the source's code would run on the target as ${names}, which can do more than own the restored objects (an attribute such as SUPERUSER or CREATEROLE, a predefined role, or the login itself)`,
    'own the objects by roles without such rights on the target'
  )
}

/**
 * The job is over (passed, failed or cancelled): the restore role of `database` cannot log in any
 * more, and any session still open as it ends. It keeps owning what it restored; the login manages
 * that as its member. Asked through the server's database (`server`), or postgres when that is gone.
 */
export async function closeRestoreRole(
  connector: Connector,
  server: Endpoint,
  database: string,
  log: Log
): Promise<void> {
  const role = restoreRoleName(database)
  const close = async (db: pg.Client): Promise<void> => {
    const { rows } = await db.query<{ login: boolean }>(
      `SELECT rolcanlogin AS login FROM pg_catalog.pg_roles
        WHERE rolname OPERATOR(pg_catalog.=) $1 AND pg_catalog.shobj_description(oid, 'pg_authid') OPERATOR(pg_catalog.=) $2`,
      [role, mark(database)]
    )
    if (rows.length === 0) return
    if (rows[0].login) await db.query(`ALTER ROLE ${quoteIdent(role)} NOLOGIN PASSWORD NULL`)
    await db.query(
      `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
        WHERE usename OPERATOR(pg_catalog.=) $1 AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()`,
      [role]
    )
  }
  try {
    await connector
      .withConnection(server, close, { afterCancel: true })
      .catch(() => connector.withConnection({ ...server, database: 'postgres' }, close, { afterCancel: true }))
  } catch (error) {
    log.warning(
      `could not disable the login of ${role}: ${(error as Error).message}; its password expires within ${VALID_HOURS} hours`
    )
  }
}
