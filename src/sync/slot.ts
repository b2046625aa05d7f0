import type pg from 'pg'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import type { Connector } from '../pg/connection.js'
import type { Endpoint } from '../pg/endpoint.js'
import type { HeldSnapshot } from '../pg/snapshot.js'
import { quoteIdent, quoteLiteral } from '../pg/sql.js'
import { readInventory } from '../verify/fingerprint/inventory.js'
import type { SchemaObject } from '../verify/fingerprint/index.js'
import { parseLsn } from './lsn.js'
import { readSyncedTables, syncedTableCondition, type SyncedTable } from './tables.js'

/**
 * The start of a sync on the source: a publication of every migrated table, then a temporary
 * logical replication slot whose exported snapshot the dump is taken from, so the copy ends and
 * the change stream begins at exactly one position (the slot's consistent point).
 */
export interface SyncSlot {
  /** The slot's and the publication's name. */
  name: string
  consistentPoint: bigint
  /** The slot's snapshot, imported into a transaction that holds it for pg_dump and the source checksums. */
  snapshot: HeldSnapshot
  /**
   * The replication connection that created the slot. It must stay idle while the snapshot is in
   * use (its next command ends the snapshot); the stream then starts on it. The slot is temporary:
   * it lives exactly as long as this connection, so even a killed runner cannot leave it behind for long.
   */
  connection: pg.Client
  /** The published tables with their columns at the slot's snapshot. */
  tables: SyncedTable[]
  /** The schema at the slot's snapshot: DDL during the sync shows up against it at cutover. */
  inventory: SchemaObject[]
  /** The source's clock when the slot was created (ms since the epoch). */
  createdAtMs: number
}

export async function createSyncSlot(
  connector: Connector,
  source: Endpoint,
  name: string,
  log: Log
): Promise<SyncSlot> {
  let connection: pg.Client | undefined
  let holder: pg.Client | undefined
  try {
    // The publication must exist before the slot: a change is decoded with the publications of its moment.
    await connector.withConnection(source, (admin) => createPublication(admin, name))
    connection = await connector.connect(source, { replication: true })
    const { rows } = await connection
      .query<{ consistent_point: string; snapshot_name: string }>(
        `CREATE_REPLICATION_SLOT ${quoteIdent(name)} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`
      )
      .catch((error: Error) => {
        throw new MigrationError('sync-stream', `creating the replication slot ${name} failed: ${error.message}`)
      })
    const { consistent_point: consistentPoint, snapshot_name: snapshotId } = rows[0]
    holder = await connector.connect(source)
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    await holder.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotId)}`)
    const { rows: clock } = await holder.query<{ taken_at: string; now_ms: string }>(
      `SELECT now()::text AS taken_at, (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS now_ms`
    )
    const tables = await readSyncedTables(holder)
    const inventory = await readInventory(holder)
    log.info(`sync: slot ${name} created at ${consistentPoint}; the dump is taken from its snapshot ${snapshotId}`)
    return {
      name,
      consistentPoint: parseLsn(consistentPoint),
      snapshot: heldSnapshot(holder, snapshotId, clock[0].taken_at),
      connection,
      tables,
      inventory,
      createdAtMs: Number(clock[0].now_ms)
    }
  } catch (error) {
    await holder?.end().catch(() => undefined)
    await dropSyncObjects(connector, source, name, connection, log)
    throw error
  }
}

async function createPublication(admin: pg.Client, name: string): Promise<void> {
  const { rows } = await admin.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ${syncedTableCondition()} ORDER BY 1`
  )
  const tables = rows.map((row) => row.name)
  // A published table without a replica identity makes every UPDATE and DELETE on it fail on the
  // source itself. The plan blocks such tables; this guards the moment between the plan and here.
  const { rows: unkeyed } = await admin.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE ${syncedTableCondition()} AND (c.relreplident = 'n'
        OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))`
  )
  if (unkeyed.length > 0)
    throw new MigrationError(
      'sync-source-changed',
      `tables without a primary key or replica identity appeared after the plan: ${unkeyed.map((row) => row.name).join(', ')}`
    )
  await admin.query(`CREATE PUBLICATION ${quoteIdent(name)}${tables.length ? ` FOR TABLE ${tables.join(', ')}` : ''}`)
}

function heldSnapshot(client: pg.Client, id: string, takenAt: string): HeldSnapshot {
  let closed = false
  return {
    id,
    client,
    takenAt,
    async close() {
      if (closed) return
      closed = true
      await client.query('ROLLBACK').catch(() => undefined)
      await client.end().catch(() => undefined)
    }
  }
}

/**
 * Drops the slot and the publication: ends the replication connection (the temporary slot goes
 * with its walsender), then drops whatever is still there. Runs after a cancel too, and never
 * throws: a failure to clean up is logged with the statement to run by hand.
 */
export async function dropSyncObjects(
  connector: Connector,
  source: Endpoint,
  name: string,
  connection: pg.Client | undefined,
  log: Log
): Promise<void> {
  await connection?.end().catch(() => undefined)
  try {
    await connector.withConnection(
      source,
      async (admin) => {
        await dropSlot(admin, name)
        await admin.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`)
      },
      { afterCancel: true, attempts: 2 }
    )
    log.info(`sync: replication slot and publication ${name} dropped`)
  } catch (error) {
    log.warning(
      `could not drop the sync's slot or publication ${name} on the source (${(error as Error).message}): run SELECT pg_drop_replication_slot('${name}'); DROP PUBLICATION ${name}; there`
    )
  }
}

/** The walsender of a closed connection takes a moment to exit and free its temporary slot. */
async function dropSlot(admin: pg.Client, name: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const { rows } = await admin.query<{ active_pid: number | null }>(
      'SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
      [name]
    )
    if (rows.length === 0) return
    if (rows[0].active_pid === null) {
      await admin.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [name]).catch(() => undefined)
      continue
    }
    // Ours, still exiting after its connection closed: after a few seconds, end it.
    if (attempt === 20) await admin.query('SELECT pg_catalog.pg_terminate_backend($1)', [rows[0].active_pid])
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`the slot ${name} is still in use`)
}
