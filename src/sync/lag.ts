/**
 * How far the target is behind the source, in seconds of the source's clock. The source is probed
 * every tick (its WAL insert position and its clock); the target holds everything committed before
 * a probe once the applied stream has passed the probe's position. Between probes the commit times
 * of applied transactions say how far the target has come. All times that are compared with each
 * other are on the source's clock, so the runner's clock may be off without harm.
 */

/** One look at the source: where its WAL ended and what its clock said. */
export interface SourceProbe {
  lsn: bigint
  /** The source's clock, ms since the epoch. */
  sourceMs: number
  /** The runner's clock when the answer came, ms (performance.now()). */
  runnerMs: number
}

export interface LagSample {
  /** Seconds since the stream started. */
  at: number
  /**
   * Seconds the target was behind the source then: the source's time less the last change the target
   * held; for a probe the target reached within a second, the time it took to reach it.
   */
  lag: number
}

/**
 * A probe reached this soon was reached at its first chance (the next keepalive): its lag is the time
 * it took, not the time since the last commit, which a quiet source makes look like lag.
 */
const PROMPT_MS = 1000

export class LagTracker {
  private readonly pending: (SourceProbe & { sample: LagSample })[] = []
  /** Source clock: the target holds every change committed up to this moment. */
  private currentAsOfMs: number
  /** Source clock: the last commit to a migrated table the stream carried (the slot's creation when none). */
  private lastWriteMs: number
  private lowestLag = Infinity
  private lowestAtMs: number
  /** The latest probe the target reached, and how long after it was taken. */
  private reachedProbe?: SourceProbe
  private reachedDelayMs = 0
  readonly samples: LagSample[] = []
  /** Source clock minus runner clock, from the latest probe. */
  private offsetMs = 0
  /** Writes to migrated tables the stream carried. */
  writes = 0

  constructor(
    slotCreatedSourceMs: number,
    private readonly startedRunnerMs: number
  ) {
    this.currentAsOfMs = slotCreatedSourceMs
    this.lastWriteMs = slotCreatedSourceMs
    this.lowestAtMs = startedRunnerMs
  }

  /** A new look at the source; returns the lag at that moment. */
  probed(probe: SourceProbe): number {
    this.offsetMs = probe.sourceMs - probe.runnerMs
    const lag = Math.max(0, (probe.sourceMs - this.currentAsOfMs) / 1000)
    const sample = { at: round((probe.runnerMs - this.startedRunnerMs) / 1000), lag: round(lag) }
    this.samples.push(sample)
    this.pending.push({ ...probe, sample })
    if (lag < this.lowestLag) {
      this.lowestLag = lag
      this.lowestAtMs = probe.runnerMs
    }
    return lag
  }

  /**
   * A transaction committed at `commitMs` (source clock) is now on the target; `changed`: it wrote to
   * a migrated table (an empty one says only how far the target has come).
   */
  committed(commitMs: number, changed = true): void {
    this.currentAsOfMs = Math.max(this.currentAsOfMs, commitMs)
    if (!changed) return
    this.writes++
    this.lastWriteMs = Math.max(this.lastWriteMs, commitMs)
  }

  /** Everything before `applied` is on the target: every probe at or before it is reached. */
  reached(applied: bigint, runnerMs: number): void {
    while (this.pending.length > 0 && this.pending[0].lsn <= applied) {
      const probe = this.pending.shift() as SourceProbe & { sample: LagSample }
      this.reachedProbe = probe
      this.reachedDelayMs = runnerMs - probe.runnerMs
      if (this.reachedDelayMs <= PROMPT_MS)
        probe.sample.lag = Math.min(probe.sample.lag, round(this.reachedDelayMs / 1000))
      this.currentAsOfMs = Math.max(this.currentAsOfMs, probe.sourceMs)
      // Caught up: whatever the lag does next is measured afresh.
      this.lowestLag = Infinity
      this.lowestAtMs = runnerMs
    }
  }

  /** When the oldest probe the target has not reached yet was taken (runner clock), if there is one. */
  oldestUnreachedRunnerMs(): number | undefined {
    return this.pending[0]?.runnerMs
  }

  /** Whether the target has reached any probe taken at or after `runnerMs`. */
  caughtUpSince(runnerMs: number): boolean {
    return this.reachedProbe !== undefined && this.reachedProbe.runnerMs >= runnerMs
  }

  /** Seconds the source had not written to a migrated table, as of the latest probe the target reached. */
  idleSeconds(): number {
    if (!this.reachedProbe) return 0
    return Math.max(0, (this.reachedProbe.sourceMs - this.lastWriteMs) / 1000)
  }

  /** Seconds since the lag last came down (or the target last caught up). */
  notShrinkingSeconds(runnerMs: number): number {
    return (runnerMs - this.lowestAtMs) / 1000
  }

  /** The last write, on the runner's clock (ms, performance.now()). */
  lastWriteRunnerMs(): number {
    return this.lastWriteMs - this.offsetMs
  }

  /** How long the target took to reach the latest probe it reached: the replication delay at that moment. */
  delaySeconds(): number {
    return round(this.reachedDelayMs / 1000)
  }
}

/** At most `points` samples, evenly spread, the last always kept: the lag over time for outputs and the summary. */
export function thinSamples(samples: LagSample[], points = 60): LagSample[] {
  if (samples.length <= points) return samples
  const step = (samples.length - 1) / (points - 1)
  return Array.from({ length: points }, (_, i) => samples[Math.round(i * step)])
}

const round = (value: number): number => Math.round(value * 100) / 100
