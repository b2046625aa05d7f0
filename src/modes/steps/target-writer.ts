import type { DatabaseRecorder } from '../../action/report.js'
import type { Endpoint } from '../../pg/endpoint.js'
import type { Restorer } from '../../tools/pg-restore.js'
import type { TargetWriter } from './copy-step.js'
import { dropCreatedTarget, openWriter, prepareTarget, type TargetMeans, type TargetPreparation } from './target.js'

/**
 * The target writer of a fresh copy (migrate): it readies the target on `open` and remembers whether
 * this run created the database, so that `undo` can drop it again while it holds no whole copy.
 */
export function targetWriter(step: TargetPreparation, means: TargetMeans, record: DatabaseRecorder): TargetWriter {
  let state: TargetWriter['state'] = 'untouched'
  let endpoint: Endpoint = step.target.endpoint
  const undo = async (): Promise<boolean> => {
    if (state !== 'created') return state === 'untouched'
    if (!(await dropCreatedTarget(step, means, record))) return false
    state = 'untouched'
    return true
  }
  return {
    get state() {
      return state
    },
    get endpoint() {
      return endpoint
    },
    async open(restorer: Restorer) {
      // Nothing is loaded yet when the target cannot be readied or the writer cannot open: a
      // database this run made goes again, so following the hint starts afresh.
      const undone = async (error: unknown): Promise<never> => {
        await undo()
        throw error
      }
      await prepareTarget(step, means, record, (created) => (state = created ? 'created' : 'written')).catch(undone)
      endpoint = await openWriter(step, means, restorer, record).catch(undone)
      return endpoint
    },
    undo
  }
}
