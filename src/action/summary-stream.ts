import { formatBytes } from '../base/files.js'
import { count, thousands } from '../base/text.js'
import type { DiskNeeds } from '../plan/disk.js'
import type { StreamRecord } from './report.js'

/** The summary's line for rows that were streamed: how many, how much, and how they were checked. */
export function streamNote(stream: StreamRecord, why = ''): string {
  const byValue = stream.hashedByValue ?? 0
  const others = stream.tables - stream.hashedInFlight - byValue
  const checked = [
    stream.hashedInFlight === stream.tables
      ? 'every table checked against hashes taken as its rows passed'
      : stream.hashedInFlight > 0
        ? `${count(stream.hashedInFlight, 'table')} checked against hashes taken as ${stream.hashedInFlight === 1 ? 'its' : 'their'} rows passed`
        : '',
    byValue > 0
      ? `${count(byValue, 'table')} checksummed by value on each server, which costs the target less than printing the rows back`
      : '',
    others > 0 ? `${count(others, 'other table')} checksummed on each server` : ''
  ]
    .filter(Boolean)
    .join(', ')
  const hashed = stream.changesFollowed
    ? `${checked}; the sync then applied the changes made meanwhile, and the rows they touched were compared at cutover`
    : checked
  const because = why ? ` (${why.split(': the rows go')[0]})` : ''
  return `Streamed the rows from the source to the target${because}: ${count(stream.tables, 'table')}, ${thousands(stream.rows)} rows, ${formatBytes(stream.bytes)} of COPY text over ${count(stream.sessions, 'pair')} of sessions, none of it on the runner's disk (at most ${formatBytes(stream.peakHeldBytes)} in memory per pair of sessions); ${hashed}. The schema went through pg_dump and pg_restore.`
}

/** The summary's line on the runner's disk: what the dump folder would need each way, against what was free. */
export function diskNote(disk: DiskNeeds, method: 'dump' | 'stream' | undefined): string {
  const free = disk.freeBytes === undefined ? 'an unknown amount' : formatBytes(disk.freeBytes)
  const went = method ? ` The rows went by the ${method}.` : ''
  return `Disk under dump-path: ${free} free. The dump path needs about ${formatBytes(disk.dumpBytes)} uncompressed (up to ${formatBytes(disk.dumpBytesUpTo)}) or at least ${formatBytes(disk.dumpCompressedBytes)} compressed; the stream only the schema's dump.${went}`
}
