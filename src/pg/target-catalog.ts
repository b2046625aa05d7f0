// The target database's catalog as the migrate, resume and restore steps change it: the database
// made, emptied, given what the dump's objects need (schemas, extensions, roles), and ANALYZEd.
// Identifiers are quoted here from catalog names; nothing the source printed goes into SQL.
import type pg from 'pg'
import type { Log } from '../base/log.js'
import { count } from '../base/text.js'
import { serverVersionNumber } from './connection.js'
import { quoteIdent, quoteLiteral } from './sql.js'
import { tablesToAnalyze, type AnalyzeResult } from './target-work.js'

/** Schemas and extensions that moving objects need. */
export interface NeededObjects {
  schemas: string[]
  extensions: { name: string; schema: string }[]
}

/**
 * What moving objects need and a dump with filters does not create: their schemas (with `tables`)
 * and the extensions they use (pg_dump creates extensions only with the whole database).
 */
export async function makePrerequisites(target: pg.Client, needed: NeededObjects, log: Log): Promise<void> {
  const made: string[] = []
  for (const schema of new Set([...needed.schemas, ...needed.extensions.map((e) => e.schema)])) {
    const { rowCount } = await target.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema])
    if (rowCount) continue
    await target.query(`CREATE SCHEMA ${quoteIdent(schema)}`)
    made.push(`schema ${schema}`)
  }
  for (const { name, schema } of needed.extensions) {
    const { rowCount } = await target.query('SELECT 1 FROM pg_catalog.pg_extension WHERE extname = $1', [name])
    if (rowCount) continue
    await target.query(`CREATE EXTENSION ${quoteIdent(name)} WITH SCHEMA ${quoteIdent(schema)}`)
    made.push(`extension ${name}`)
  }
  if (made.length > 0) log.info(`created on the target for the objects that move: ${made.join(', ')}`)
}

/** Creates the target database when missing, owned by the login, encoded as the source. */
export async function ensureTargetDatabase(
  admin: pg.Client,
  name: string,
  encoding: string,
  log: Log
): Promise<boolean> {
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
  if (rowCount) return false
  log.info(`creating target database ${name} (${encoding})`)
  await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteral(encoding)}`)
  return true
}

/**
 * With owners kept, the login must be able to become each owner (ALTER … OWNER needs SET ROLE from
 * 16 on). It holds ADMIN on roles it created, so it can grant itself membership.
 */
export async function grantRolesToLogin(target: pg.Client, roles: string[]): Promise<void> {
  const options = (await serverVersionNumber(target)) >= 160000 ? ' WITH INHERIT TRUE, SET TRUE' : ''
  // Only roles it administers and is not yet a member of; the plan reports owners it cannot become.
  const { rows: grantable } = await target.query<{ name: string }>(
    `SELECT rolname AS name FROM pg_roles
      WHERE rolname = ANY($1) AND NOT pg_has_role(current_user, oid, 'USAGE') AND pg_has_role(current_user, oid, 'USAGE WITH ADMIN OPTION')`,
    [roles]
  )
  for (const { name } of grantable) await target.query(`GRANT ${quoteIdent(name)} TO CURRENT_USER${options}`)
}

/**
 * The owner of the source's schema public when it is an ordinary role: not the bootstrap superuser
 * (14 and earlier) nor pg_database_owner (15+), which every target has its own of.
 */
export async function ordinaryPublicOwner(source: pg.Client): Promise<string | undefined> {
  const { rows } = await source.query<{ owner: string }>(
    `SELECT r.rolname AS owner FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
      WHERE n.nspname = 'public' AND NOT r.rolsuper AND r.rolname <> 'pg_database_owner'`
  )
  return rows[0]?.owner
}

/**
 * Gives the target's public the source's owner before the restore, so the objects that role owns
 * there can be handed to it and the dump's grants on public apply as on the source (pg_restore's
 * own entry for public is left out: it names the source's superuser on older sources). The new
 * owner needs CREATE on the database for that: granted for the ALTER only, when it lacks it.
 */
export async function movePublicOwner(db: pg.Client, owner: string, database: string, log: Log): Promise<void> {
  const role = quoteIdent(owner)
  const { rows } = await db.query<{ creates: boolean; current: string }>(
    `SELECT has_database_privilege($1, current_database(), 'CREATE') AS creates,
       (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public') AS current`,
    [owner]
  )
  if (rows[0].current === owner) return
  const lend = !rows[0].creates
  if (lend) await db.query(`GRANT CREATE ON DATABASE ${quoteIdent(database)} TO ${role}`)
  await db.query(`ALTER SCHEMA public OWNER TO ${role}`)
  if (lend) await db.query(`REVOKE CREATE ON DATABASE ${quoteIdent(database)} FROM ${role}`)
  log.info(`schema public owned by ${owner}, as on the source`)
}

/** Roles the dump names and the target lacks, created without login: the dump needs them to exist, not to log in. */
export async function createMissingRoles(target: pg.Client, roles: string[], log: Log): Promise<string[]> {
  const created: string[] = []
  for (const role of roles) {
    const { rowCount } = await target.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])
    if (rowCount) continue
    await target.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`)
    created.push(role)
  }
  if (created.length) log.info(`created roles NOLOGIN: ${created.join(', ')}`)
  return created
}

/**
 * What `if-target-not-empty: clean` drops: every user schema, extension and large object, but the
 * extensions the dump needs and finds installed (`kept`: made by a superuser, as the plan asks) and
 * the schemas holding them, which are emptied instead.
 */
export async function cleanTarget(target: pg.Client, log: Log, kept: string[]): Promise<string[]> {
  const dropped: string[] = []
  const { rows: extensions } = await target.query<{ name: string }>(
    `SELECT extname AS name FROM pg_extension WHERE extname <> 'plpgsql' AND extname <> ALL($1) ORDER BY 1`,
    [kept]
  )
  for (const { name } of extensions) {
    await target.query(`DROP EXTENSION IF EXISTS ${quoteIdent(name)} CASCADE`)
    dropped.push(`extension ${name}`)
  }
  const { rows: schemas } = await target.query<{ name: string; holds: boolean }>(
    `SELECT nspname AS name, EXISTS (SELECT FROM pg_extension e WHERE e.extnamespace = n.oid AND e.extname = ANY($1)) AS holds
       FROM pg_namespace n
      WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'
      ORDER BY 1`,
    [kept]
  )
  for (const { name, holds } of schemas) {
    if (holds) dropped.push(...(await emptySchema(target, name)))
    else await target.query(`DROP SCHEMA ${quoteIdent(name)} CASCADE`)
    if (!holds) dropped.push(`schema ${name}`)
  }
  if (!schemas.some((schema) => schema.name === 'public' && schema.holds)) await recreatePublic(target)
  const { rows: blobs } = await target.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_largeobject_metadata')
  if (blobs[0].n > 0) {
    await target.query('SELECT lo_unlink(oid) FROM pg_largeobject_metadata')
    dropped.push(count(blobs[0].n, 'large object'))
  }
  const keeping = kept.length ? `; kept the extensions the dump needs: ${kept.join(', ')}` : ''
  log.info(`cleaned the target: dropped ${dropped.join(', ') || 'nothing'}${keeping}`)
  return dropped
}

/** Recreates public as initdb makes it: from 15 on, owned by the database owner, USAGE for all. */
async function recreatePublic(target: pg.Client): Promise<void> {
  const fifteen = (await serverVersionNumber(target)) >= 150000
  await target.query(fifteen ? 'CREATE SCHEMA public AUTHORIZATION pg_database_owner' : 'CREATE SCHEMA public')
  await target.query(fifteen ? 'GRANT USAGE ON SCHEMA public TO PUBLIC' : 'GRANT ALL ON SCHEMA public TO PUBLIC')
}

/** Drops what a schema holds besides the members of extensions: relations, routines, types. */
async function emptySchema(target: pg.Client, schema: string): Promise<string[]> {
  const notMember = (catalog: string, oid: string): string =>
    `NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`
  const { rows } = await target.query<{ statement: string; object: string }>(
    `SELECT format('DROP %s IF EXISTS %s CASCADE', CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
         WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, c.oid::regclass) AS statement,
       format('relation %s', c.oid::regclass) AS object
       FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
         AND ${notMember('pg_class', 'c.oid')}
     UNION ALL
     SELECT format('DROP %s IF EXISTS %s CASCADE', CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE'
         ELSE 'FUNCTION' END, p.oid::regprocedure), format('routine %s', p.oid::regprocedure)
       FROM pg_proc p WHERE p.pronamespace = $1::regnamespace AND ${notMember('pg_proc', 'p.oid')}
     UNION ALL
     SELECT format('DROP TYPE IF EXISTS %s CASCADE', t.oid::regtype), format('type %s', t.oid::regtype)
       FROM pg_type t WHERE t.typnamespace = $1::regnamespace AND t.typtype IN ('c', 'd', 'e', 'r') AND ${notMember('pg_type', 't.oid')}
         AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')`,
    [quoteIdent(schema)]
  )
  for (const { statement } of rows) await target.query(statement)
  return rows.map((row) => row.object)
}

/**
 * ANALYZE the user's own tables whose statistics are incomplete (all of them after a plain load;
 * those statistics the restore did not carry after a pg_dump 18 --statistics), in batches: a plain
 * ANALYZE as a non-superuser warns about every shared catalog it may not touch.
 */
export async function analyzeUserTables(db: pg.Client): Promise<AnalyzeResult> {
  const { missing, complete } = await tablesToAnalyze(db)
  for (let start = 0; start < missing.length; start += 100) {
    await db.query(`ANALYZE ${missing.slice(start, start + 100).join(', ')}`)
  }
  return { analyzed: missing.length, alreadyComplete: complete }
}

/** Drops a database; from 13 on also when sessions are still in it (WITH (FORCE)). */
export async function dropDatabase(admin: pg.Client, name: string, targetMajor: number): Promise<void> {
  // Our own sessions in it may still be on their way out.
  const force = targetMajor >= 13 ? ' WITH (FORCE)' : ''
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${force}`)
}

/**
 * Whether this login may set session_replication_role (a superuser, or from 15 a login granted SET
 * on it): asked by trying, as nothing else tells.
 */
export async function maySetReplicationRole(client: pg.Client): Promise<boolean> {
  return client.query('SET session_replication_role = replica').then(
    () => true,
    () => false
  )
}
