/** How migrate copies the rows: through a dump folder, or streamed from source to target. */
export type CopyMethod = 'auto' | 'dump' | 'stream'

export interface CopyMethodFacts {
  requested: CopyMethod
  /** upload-artifact: the dump is wanted as an artifact. */
  uploadArtifact: boolean
  /** sync: logical copies in the replication slot's snapshot, through one pg_dump. */
  sync: 'none' | 'logical'
}

export interface CopyMethodChoice {
  method: 'dump' | 'stream'
  why: string
}

/**
 * `auto` streams whenever the dump would not be used as an artifact: then it only costs the
 * runner's disk (the database's size, uncompressed) and time (written, then read back). The dump
 * stays for artifacts (split workflows, a kept copy) and under a sync, whose one pg_dump process
 * the stream does not replace yet.
 */
export function chooseCopyMethod(facts: CopyMethodFacts): CopyMethodChoice {
  if (facts.sync === 'logical') {
    const why = "sync: logical copies through one pg_dump in the replication slot's snapshot"
    return {
      method: 'dump',
      why: facts.requested === 'stream' ? `${why} (copy-method: stream is for runs without a sync)` : why
    }
  }
  if (facts.requested === 'dump') return { method: 'dump', why: 'as requested (copy-method: dump)' }
  if (facts.requested === 'stream')
    return {
      method: 'stream',
      why: `as requested (copy-method: stream)${facts.uploadArtifact ? '; no dump of the rows is made, so none is uploaded' : ''}`
    }
  if (facts.uploadArtifact)
    return { method: 'dump', why: 'the dump is uploaded as an artifact (upload-artifact: true)' }
  return {
    method: 'stream',
    why: "no artifact is wanted (upload-artifact: false): the rows go from the source to the target through the runner's memory, never to its disk"
  }
}
