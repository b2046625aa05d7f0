import type pg from 'pg'
import type { Connector } from './connection.js'
import type { Endpoint } from './endpoint.js'

/** A REPEATABLE READ transaction that exported its snapshot; pg_dump and the source checksums share it. */
export interface HeldSnapshot {
  id: string
  client: pg.Client
  /** When the snapshot was taken, in the server's words. */
  takenAt: string
  close(): Promise<void>
}

export async function holdSnapshot(connector: Connector, endpoint: Endpoint): Promise<HeldSnapshot> {
  const client = await connector.connect(endpoint)
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  const { rows } = await client.query<{ id: string; taken_at: string }>(
    'SELECT pg_export_snapshot() AS id, now()::text AS taken_at'
  )
  let closed = false
  return {
    id: rows[0].id,
    client,
    takenAt: rows[0].taken_at,
    async close() {
      if (closed) return
      closed = true
      await client.query('ROLLBACK').catch(() => undefined)
      await client.end().catch(() => undefined)
    }
  }
}

/**
 * The next transaction id: how far it moves during the run counts the transactions that wrote on the
 * source server. The statistics counters would name rows, but they reach readers up to a second late.
 */
export async function nextTransactionId(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ xid: string }>(
    'SELECT txid_snapshot_xmax(txid_current_snapshot())::text AS xid'
  )
  return Number(rows[0].xid)
}
