import type pg from 'pg'
import { WHOLE_DATABASE, type ScopeSql } from '../../scope/sql.js'
import { isNotExtensionMember, isUserSchema, qualifiedName } from './sql.js'
import type { SequenceFingerprint } from './types.js'

/** Sequences whose value moves: the dump sets it (SEQUENCE SET). */
const listSequences = (scope: ScopeSql): string => `
SELECT n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND c.relpersistence <> 't' AND ${isUserSchema('n')}
  AND ${isNotExtensionMember('pg_class', 'c.oid')} AND ${scope.data('c.oid')}
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`

/** Sequences per query: one round trip for many, but a bounded statement. */
const BATCH = 200

/**
 * Reads each sequence relation itself: pg_sequences shows NULL for a sequence not yet called, and
 * setval(s, n, false) is exactly such a state that pg_dump must carry over.
 */
export async function fingerprintSequences(
  client: pg.Client,
  scope: ScopeSql = WHOLE_DATABASE
): Promise<SequenceFingerprint[]> {
  const { rows: sequences } = await client.query<{ schema: string; name: string; increment: string }>(
    listSequences(scope)
  )
  const results: SequenceFingerprint[] = []
  for (let start = 0; start < sequences.length; start += BATCH) {
    const batch = sequences.slice(start, start + BATCH)
    const sql = batch
      .map(
        (sequence, index) =>
          `SELECT ${index} AS i, last_value::text, is_called FROM ${qualifiedName(sequence.schema, sequence.name)}`
      )
      .join(' UNION ALL ')
    const { rows } = await client.query<{ i: number; last_value: string; is_called: boolean }>(sql)
    for (const row of rows.sort((a, b) => a.i - b.i)) {
      const { schema, name, increment } = batch[row.i]
      results.push({ schema, name, lastValue: row.last_value, isCalled: row.is_called, increment })
    }
  }
  return results
}
