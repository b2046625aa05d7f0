import type pg from 'pg'
import { MigrationError } from '../base/errors.js'
import type { Log } from '../base/log.js'
import { quoteIdent } from '../pg/sql.js'
import { fingerprintSequences } from '../verify/fingerprint/index.js'
import { readInventory } from '../verify/fingerprint/inventory.js'
import type { SchemaObject, SequenceFingerprint } from '../verify/fingerprint/index.js'

/**
 * DDL is not decoded: a schema change on the source during the sync would leave the copy with the
 * old schema. The source's objects now are compared with those at the slot's snapshot, definitions,
 * owners and privileges alike; any difference fails the run, naming the objects.
 */
export async function checkSchemaUnchanged(source: pg.Client, atSlot: SchemaObject[]): Promise<SchemaObject[]> {
  const now = await readInventory(source)
  const key = (object: SchemaObject): string => `${object.kind} ${object.name}`
  const shape = (object: SchemaObject): string =>
    JSON.stringify([object.definition, object.owner, object.acl, object.columns ?? null])
  const before = new Map(atSlot.map((object) => [key(object), shape(object)]))
  const after = new Map(now.map((object) => [key(object), shape(object)]))
  const changed = [
    ...[...after.keys()].filter((name) => !before.has(name)).map((name) => `${name} (created)`),
    ...[...before.keys()].filter((name) => !after.has(name)).map((name) => `${name} (dropped)`),
    ...[...after]
      .filter(([name, value]) => before.has(name) && before.get(name) !== value)
      .map(([name]) => `${name} (altered)`)
  ]
  if (changed.length === 0) return now
  const shown = changed.slice(0, 10).join(', ') + (changed.length > 10 ? ` and ${changed.length - 10} more` : '')
  throw new MigrationError('sync-source-changed', `the source changed its schema during the sync: ${shown}`)
}

/**
 * Sequences are not decoded either: each is set on the target to the source's value at cutover, in
 * one statement. Returns what was read.
 */
export async function copySequences(source: pg.Client, target: pg.Client, log: Log): Promise<SequenceFingerprint[]> {
  const sequences = await fingerprintSequences(source)
  if (sequences.length > 0)
    await target.query(
      `SELECT pg_catalog.setval(s.name::regclass, s.value, s.called)
         FROM unnest($1::text[], $2::bigint[], $3::boolean[]) AS s(name, value, called)`,
      [
        sequences.map((sequence) => `${quoteIdent(sequence.schema)}.${quoteIdent(sequence.name)}`),
        sequences.map((sequence) => sequence.lastValue),
        sequences.map((sequence) => sequence.isCalled)
      ]
    )
  log.info(`sync: ${sequences.length} sequences set from the source`)
  return sequences
}
