// The case the stream exists for: the dump folder on a file system far smaller than the database (a
// tmpfs, so root only) of the target's size: 1 GB, or a quarter of a database smaller than 4 GB. The
// action (copy-method auto, no upload: the stream) must pass and verify there; the folder's peak use
// is what the runner's disk gave to the copy, and the runner's peak RSS what its memory did.
import fs from 'node:fs'
import path from 'node:path'
import { canMountTmpfs, mountTmpfs } from '../test/support/faults.js'
import { viaAction } from './action.js'
import { round, secs } from './processes.js'
import { smallDiskFolderBytes, smallDiskTargets } from './targets.js'
import { resetTarget } from './ways.js'

/**
 * @param {import('./ways.js').BenchContext & { databaseBytes: number }} ctx
 * @returns {Promise<any>}
 */
export async function smallDiskCase(ctx) {
  if (!canMountTmpfs()) return { skipped: 'mounting a tmpfs needs root (and a kernel that allows it)' }
  const dir = path.join(ctx.workDir, 'small-disk')
  const size = smallDiskFolderBytes(ctx.databaseBytes)
  const unmount = mountTmpfs(dir, { size: String(size) })
  let peak = 0
  // Sampled, not summed from the report: whatever the run wrote there counts, however briefly.
  const sampler = setInterval(() => {
    const { blocks, bfree, bsize } = fs.statfsSync(dir)
    peak = Math.max(peak, (blocks - bfree) * bsize)
  }, 50)
  try {
    await resetTarget(ctx.target, true)
    const build = /** @type {{ entry: string }} */ (ctx.builds.get('action') ?? [...ctx.builds.values()][0])
    const result = await viaAction({ ...ctx, entry: build.entry, inputs: { 'dump-path': path.join(dir, 'dump') } })
    return {
      sizeGb: ctx.sizeGb,
      databaseBytes: ctx.databaseBytes,
      diskBytes: size,
      peakUsedBytes: peak,
      diskUsePercent: round((100 * peak) / ctx.databaseBytes, 3),
      ...result
    }
  } finally {
    clearInterval(sampler)
    unmount()
  }
}

/** The case's lines in the bench's output: what it measured, and each of its targets met or not. @param {any} smallDisk */
export function printSmallDisk(smallDisk) {
  console.log(`\nsmall disk: the dump folder on a tmpfs of 1 GB, or a quarter of a smaller database`)
  if (smallDisk.skipped || smallDisk.failed) console.log(`  ${smallDisk.skipped ?? `FAILED: ${smallDisk.failed}`}`)
  else
    console.log(
      `  the action ${secs(smallDisk.seconds)}, ${smallDisk.result}, copy-method ${smallDisk.copyMethod}; a ${(smallDisk.diskBytes / 1e6).toFixed(0)} MB folder,` +
        ` at most ${(smallDisk.peakUsedBytes / 1024).toFixed(0)} KiB used (${smallDisk.diskUsePercent} % of the database);` +
        ` peak RSS ${(smallDisk.rss.mainBytes / 1e6).toFixed(0)} MB the action, ${(smallDisk.rss.treeBytes / 1e6).toFixed(0)} MB the runner's tree`
    )
  if (smallDisk.skipped) return
  for (const row of smallDiskTargets(smallDisk))
    console.log(
      `  ${row.status.toUpperCase()}${row.note ? ` (${row.note})` : ''}: ${row.target}: ${row.measured}; goal ${row.goal}`
    )
}
