// The case the stream exists for: the dump folder on a file system a quarter the size of the database
// (a tmpfs, so root only). The action (copy-method auto, no upload: the stream) must pass there, and
// the folder's peak use is what the runner's disk gave to the copy.
import fs from 'node:fs'
import path from 'node:path'
import { canMountTmpfs, mountTmpfs } from '../test/support/faults.js'
import { viaAction } from './action.js'
import { resetTarget } from './ways.js'

/**
 * @param {import('./ways.js').BenchContext & { databaseBytes: number }} ctx
 * @returns {Promise<any>}
 */
export async function smallDiskCase(ctx) {
  if (!canMountTmpfs()) return { skipped: 'mounting a tmpfs needs root (and a kernel that allows it)' }
  const dir = path.join(ctx.workDir, 'small-disk')
  const size = Math.floor(ctx.databaseBytes / 4)
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
    return { diskBytes: size, peakUsedBytes: peak, ...result }
  } finally {
    clearInterval(sampler)
    unmount()
  }
}
