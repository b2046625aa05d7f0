import { formatBytes } from '../base/files.js'
import { dumpNeeds, type DiskNeeds } from './disk-needs.js'
import type { Compression } from '../tools/pg-dump.js'

/** How migrate copies the rows: through a dump folder, or streamed from source to target. */
export type CopyMethod = 'auto' | 'dump' | 'stream'

export interface CopyMethodFacts {
  requested: CopyMethod
  /** upload-artifact: the dump is wanted as an artifact. */
  uploadArtifact: boolean
  /** sync: logical copies in the replication slot's snapshot, then applies the source's changes. */
  sync: 'none' | 'logical'
  compression: Compression
  /** The plan's estimate of the dump folder's needs and the disk's free space (plan/disk.ts). */
  disk?: DiskNeeds
}

export interface CopyMethodChoice {
  method: 'dump' | 'stream'
  why: string
}

/**
 * `auto` keeps the dump path where it costs least, and streams where the dump would cost more
 * than the stream, or could not be written at all:
 * - the dump is uploaded as an artifact: the dump, unless the disk cannot hold it;
 * - sync: logical: the stream. The dump is one pg_dump process there (its parallel workers' NOWAIT
 *   locks fail on the application's first DDL); the stream's sessions share the slot's snapshot
 *   and wait for their locks, so the initial copy runs in parallel;
 * - the disk holds the dump uncompressed, surely: the dump. Measured, the stream cost 1.14 times
 *   the dump path at 0.25 GB (the runner hashes every row, verify reads the target back through it);
 * - otherwise the dump would have to be compressed (zstd or gzip on both sides costs more than the
 *   stream's hashing) or would not fit at all: the stream, which writes only the schema to disk.
 */
export function chooseCopyMethod(facts: CopyMethodFacts): CopyMethodChoice {
  const { disk } = facts
  if (facts.requested === 'dump') return { method: 'dump', why: 'as requested (copy-method: dump)' }
  if (facts.requested === 'stream')
    return {
      method: 'stream',
      why: `as requested (copy-method: stream)${facts.uploadArtifact ? '; no dump of the rows is made, so none is uploaded' : ''}`
    }
  const free = disk?.freeBytes
  if (facts.uploadArtifact) {
    const needed = disk && dumpNeeds(disk, facts.compression)
    if (free === undefined || needed === undefined || free >= needed)
      return { method: 'dump', why: 'the dump is uploaded as an artifact (upload-artifact: true)' }
    return {
      method: 'stream',
      why: `the disk under dump-path (${formatBytes(free)} free) cannot hold the dump (about ${formatBytes(needed)}): the rows stream, and no artifact is uploaded`
    }
  }
  if (facts.sync === 'logical')
    return {
      method: 'stream',
      why: "sync: logical with no artifact wanted: the initial copy streams over the jobs' sessions in the slot's snapshot, where the dump would be one pg_dump process"
    }
  if (disk && free !== undefined && free >= disk.dumpBytesUpTo && ['auto', 'none'].includes(facts.compression))
    return {
      method: 'dump',
      why: `the disk under dump-path holds the dump uncompressed (${formatBytes(free)} free, up to ${formatBytes(disk.dumpBytesUpTo)} needed)`
    }
  return { method: 'stream', why: streamWhy(facts, disk, free) }
}

/** Why auto streams without an artifact: the disk's say, or the compression asked for. */
function streamWhy(facts: CopyMethodFacts, disk: DiskNeeds | undefined, free: number | undefined): string {
  const never = "the rows go from the source to the target through the runner's memory, never to its disk"
  if (!disk || free === undefined)
    return `no artifact is wanted and the free space under dump-path is unknown: ${never}`
  if (free < disk.dumpBytesUpTo)
    return `no artifact is wanted and the disk under dump-path (${formatBytes(free)} free) would not surely hold the dump uncompressed (up to ${formatBytes(disk.dumpBytesUpTo)}): ${never}`
  return `no artifact is wanted and compression: ${facts.compression} was asked for: ${never}`
}
