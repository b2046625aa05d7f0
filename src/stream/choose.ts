/** How migrate copies the rows: through a dump folder, or streamed from source to target. */
export type CopyMethod = 'auto' | 'dump' | 'stream'

export interface CopyMethodFacts {
  requested: CopyMethod
  /** upload-artifact: the dump is wanted as an artifact. */
  uploadArtifact: boolean
  /** sync: logical copies in the replication slot's snapshot, then applies the source's changes. */
  sync: 'none' | 'logical'
}

export interface CopyMethodChoice {
  method: 'dump' | 'stream'
  why: string
}

/**
 * `auto` streams whenever the dump would not be used as an artifact: then it only costs the
 * runner's disk (the database's size, uncompressed) and time (written, then read back). The dump
 * stays for artifacts (split workflows, a kept copy). Under a sync the dump is one pg_dump process
 * (its parallel workers' NOWAIT locks fail on the application's first DDL), while the stream's
 * sessions share the slot's snapshot and wait for their locks: the initial copy runs in parallel.
 */
export function chooseCopyMethod(facts: CopyMethodFacts): CopyMethodChoice {
  if (facts.requested === 'dump') return { method: 'dump', why: 'as requested (copy-method: dump)' }
  if (facts.requested === 'stream')
    return {
      method: 'stream',
      why: `as requested (copy-method: stream)${facts.uploadArtifact ? '; no dump of the rows is made, so none is uploaded' : ''}`
    }
  if (facts.uploadArtifact)
    return { method: 'dump', why: 'the dump is uploaded as an artifact (upload-artifact: true)' }
  if (facts.sync === 'logical')
    return {
      method: 'stream',
      why: "sync: logical with no artifact wanted: the initial copy streams over the jobs' sessions in the slot's snapshot, where the dump would be one pg_dump process"
    }
  return {
    method: 'stream',
    why: "no artifact is wanted (upload-artifact: false): the rows go from the source to the target through the runner's memory, never to its disk"
  }
}
