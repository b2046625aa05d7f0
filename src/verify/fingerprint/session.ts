import pg from 'pg'
import type { Connect } from './types.js'

/**
 * Settings that change how values print. Both sides must print every value alike, whatever the
 * server, role or database defaults say.
 * - extra_float_digits: any value above 0 gives shortest exact output on 12 and later (measured the
 *   same on 14 and 17); 0 or less rounds, and two different floats could print the same.
 * - search_path: only pg_catalog, so regclass/regtype values and pg_get_*def output always name
 *   user objects with their schema.
 * - row_security off: a policy that would hide rows raises an error instead of a wrong checksum.
 * - default_transaction_read_only: should a validation query end the transaction, what follows it
 *   still cannot write.
 */
export const PINNED_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  ['row_security', 'off'],
  ['search_path', 'pg_catalog'],
  ['standard_conforming_strings', 'on'],
  ['client_encoding', 'UTF8'],
  ['default_transaction_read_only', 'on'],
  ['statement_timeout', '0'],
  ['idle_in_transaction_session_timeout', '0']
]

export interface SessionOptions {
  /** Import this exported snapshot, so the session sees what the exporting transaction sees. */
  snapshot?: string
}

/**
 * Connects, pins the settings and opens a READ ONLY REPEATABLE READ transaction: every query of the
 * session then sees one snapshot, and none can write.
 */
export async function openSession(connect: Connect, options: SessionOptions = {}): Promise<pg.Client> {
  const client = await connect()
  // Without a listener a dropped connection would crash the process; the pending query rejects anyway.
  client.on('error', () => undefined)
  try {
    const settings = PINNED_SETTINGS.map(([name, value]) => `SET ${name} = ${pg.escapeLiteral(value)};`).join(' ')
    await client.query(`${settings} BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
    if (options.snapshot) await client.query(`SET TRANSACTION SNAPSHOT ${pg.escapeLiteral(options.snapshot)}`)
  } catch (error) {
    await client.end().catch(() => undefined)
    throw error
  }
  return client
}

/** Ends the transaction (nothing to keep: it was read-only) and the connection. */
export async function closeSession(client: pg.Client): Promise<void> {
  await client.query('ROLLBACK').catch(() => undefined)
  await client.end().catch(() => undefined)
}

/** Opens `count` sessions at once; if one fails, closes the others and rethrows. */
export async function openSessions(
  connect: Connect,
  count: number,
  options: SessionOptions = {}
): Promise<pg.Client[]> {
  const opened = await Promise.allSettled(
    Array.from({ length: Math.max(1, count) }, () => openSession(connect, options))
  )
  const clients = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
  const failure = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (failure) {
    await Promise.all(clients.map(closeSession))
    throw failure.reason
  }
  return clients
}

export async function withSession<T>(
  connect: Connect,
  options: SessionOptions,
  work: (client: pg.Client) => Promise<T>
): Promise<T> {
  const client = await openSession(connect, options)
  try {
    return await work(client)
  } finally {
    await closeSession(client)
  }
}
