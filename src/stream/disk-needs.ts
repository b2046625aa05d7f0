// The facts of the runner's disk that migrate's auto rule weighs: estimated by the plan (plan/disk.ts), read here.
import type { Compression } from '../tools/pg-dump.js'

/** What the plan knows of the disk under dump-path, for one database. */
export interface DiskNeeds {
  /** Free bytes on the disk that holds dump-path, when the system says. */
  freeBytes?: number
  /** The moving tables' size on the source (heap and TOAST). */
  tableBytes: number
  /** The dump folder, uncompressed: about the tables' size, up to TEXT_OVER_DISK times it (text widens). */
  dumpBytes: number
  dumpBytesUpTo: number
  /** The dump folder, compressed, at least. */
  dumpCompressedBytes: number
}

/**
 * The least the dump folder needs, as this run would write it: uncompressed when asked (compression:
 * none), compressed otherwise (auto writes it uncompressed only where three times that fits).
 */
export function dumpNeeds(disk: DiskNeeds, compression: Compression): number {
  return compression === 'none' ? disk.dumpBytes : disk.dumpCompressedBytes
}
