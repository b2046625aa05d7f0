// The runner's disk in the plan: what the dump folder would hold each way the rows can move, what is
// free under dump-path, and a blocker when the dump path cannot fit. Read with the plan's other
// checks, before anything is written; migrate's auto rule (stream/choose.ts) decides on the same facts.
import type pg from 'pg'
import { formatBytes, freeBytesUnder } from '../base/files.js'
import { isUserSchema } from '../pg/sql.js'
import type { ScopeSql } from '../scope/sql.js'
import type { CopyMethod } from '../stream/choose.js'
import { dumpNeeds, type DiskNeeds } from '../stream/disk-needs.js'
import { TEXT_OVER_DISK, type Compression } from '../tools/pg-dump.js'
import { blocker, type Finding } from './findings.js'

export type { DiskNeeds } from '../stream/disk-needs.js'

/** The dump folder's share of the tables it dumps, compressed: the bench's rows took a fifth, real rows compress less. */
const COMPRESSED_OVER_DISK = 0.25

/** What migrate asked of the dump folder. */
export interface DiskRequest {
  dumpPath: string
  copyMethod: CopyMethod
  compression: Compression
  uploadArtifact: boolean
  sync: 'none' | 'logical'
}

export async function diskNeeds(source: pg.Client, dumpPath: string, scope: ScopeSql): Promise<DiskNeeds> {
  const { rows } = await source.query<{ bytes: string }>(
    `SELECT coalesce(sum(pg_catalog.pg_table_size(c.oid)), 0)::pg_catalog.int8 AS bytes
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
      WHERE c.relkind OPERATOR(pg_catalog.=) 'r' AND ${isUserSchema('n')} AND ${scope.data('c.oid')}`
  )
  const tableBytes = Number(rows[0].bytes)
  return {
    freeBytes: freeBytesUnder(dumpPath),
    tableBytes,
    dumpBytes: tableBytes,
    dumpBytesUpTo: TEXT_OVER_DISK * tableBytes,
    dumpCompressedBytes: Math.ceil(COMPRESSED_OVER_DISK * tableBytes)
  }
}

/** The plan's line on the disk: what each way needs under dump-path. */
export function describeDisk(disk: DiskNeeds): string {
  const free = disk.freeBytes === undefined ? 'free space unknown' : `${formatBytes(disk.freeBytes)} free`
  return `disk under dump-path: ${free}; the dump needs about ${formatBytes(disk.dumpBytes)} uncompressed (up to ${formatBytes(disk.dumpBytesUpTo)}), at least ${formatBytes(disk.dumpCompressedBytes)} compressed; the stream only the schema's dump`
}

/** A blocker when the dump path is this run's way and its disk cannot hold the dump. */
export function diskFinding(disk: DiskNeeds, request: DiskRequest, method: 'dump' | 'stream'): Finding | undefined {
  if (method !== 'dump' || disk.freeBytes === undefined) return undefined
  const needed = dumpNeeds(disk, request.compression)
  if (disk.freeBytes >= needed) return undefined
  const how = request.compression === 'none' ? 'uncompressed' : 'compressed'
  return blocker(
    'dump-disk-too-small',
    `the disk under dump-path has ${formatBytes(disk.freeBytes)} free, and the dump (${how}) needs about ${formatBytes(needed)}`,
    [],
    `set copy-method: stream (or auto) to move the rows without writing them to disk${request.uploadArtifact ? ' (no artifact is uploaded then)' : ''}, or point dump-path at a disk with room`
  )
}
