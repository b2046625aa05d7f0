import pg from 'pg'
import { prepareLoadSession } from '../tools/copy-load.js'
import { PINNED_SETTINGS } from '../verify/fingerprint/session.js'

/**
 * The session settings of both ends of the stream. The source is read in the verify's own pinned
 * settings (DateStyle, extra_float_digits, bytea_output, IntervalStyle, TimeZone, lc_monetary,
 * UTF8…), so the text hashed in flight is what the verify's read of the target prints. The target
 * parses that text in the same settings: the loader's (search_path, no timeouts, no row security,
 * xmloption content), and those that decide how a value is read back in (an interval printed in
 * the postgres style reads otherwise under sql_standard, money follows lc_monetary).
 */

/** Settings the loader pins itself, or that only a reading session wants. */
const NOT_FOR_WRITERS = new Set([
  'search_path',
  'row_security',
  'default_transaction_read_only',
  'statement_timeout',
  'idle_in_transaction_session_timeout',
  'client_encoding'
])

/** The pinned settings that decide how a value's text is read in, for a target session. */
export const STREAM_INPUT_SETTINGS = PINNED_SETTINGS.filter(([name]) => !NOT_FOR_WRITERS.has(name))

/** Readies a connected target session (as the restore role) to take the stream's COPY text. */
export async function prepareStreamTarget(target: pg.Client, targetMajor: number): Promise<pg.Client> {
  // The text arrives as the source printed it to a UTF8 client; the target converts to its encoding.
  await prepareLoadSession(target, 'UTF8', targetMajor)
  await target.query(
    STREAM_INPUT_SETTINGS.map(([name, value]) => `SET ${name} = ${pg.escapeLiteral(value)}`).join('; ')
  )
  return target
}
