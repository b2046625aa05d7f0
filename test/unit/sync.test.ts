// The sync's arithmetic without servers: WAL positions, the lag on the source's clock, when a sync
// may cut over and when it must give up, and how its inputs and its summary read.
import { micromark } from 'micromark'
import { gfm, gfmHtml } from 'micromark-extension-gfm'
import { getInputs } from '../../src/action/parse-inputs.js'
import type { RunReport } from '../../src/action/report.js'
import { renderSummary } from '../../src/action/summary.js'
import { LagTracker, thinSamples } from '../../src/sync/lag.js'
import { formatLsn, parseLsn, recordBoundary } from '../../src/sync/lsn.js'
import { syncObjectName } from '../../src/sync/names.js'
import { inputsRunner } from '../support/in-process.js'

test('WAL positions parse, print and compare as PostgreSQL prints them', () => {
  expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n)
  expect(formatLsn(parseLsn('0/16F5728'))).toBe('0/16F5728')
  expect(parseLsn('00000000/016F57E0')).toBe(parseLsn('0/16F57E0'))
  expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true)
})

test('an insert position just past a page header means the page boundary', () => {
  expect(recordBoundary(8192n * 7n + 24n)).toBe(8192n * 7n)
  expect(recordBoundary(16n * 1024n * 1024n + 40n)).toBe(16n * 1024n * 1024n)
  expect(recordBoundary(8192n * 7n + 48n)).toBe(8192n * 7n + 48n)
})

describe('the lag, on the source clock', () => {
  // The source's clock runs an hour ahead of the runner's: nothing compares the two directly.
  const skew = 3_600_000
  const probe = (lsn: number, runnerMs: number) => ({ lsn: BigInt(lsn), sourceMs: runnerMs + skew, runnerMs })

  test('the backlog of the copy shrinks as commits are applied, then a reached probe means caught up', () => {
    const lag = new LagTracker(skew + 0, 0)
    expect(lag.probed(probe(1000, 30_000))).toBe(30)
    lag.committed(skew + 20_000)
    expect(lag.probed(probe(1100, 31_000))).toBe(11)
    expect(lag.caughtUpSince(0)).toBe(false)
    lag.reached(1100n, 31_400)
    expect(lag.caughtUpSince(0)).toBe(true)
    expect(lag.delaySeconds()).toBe(0.4)
    // Reached at its first chance, a probe's lag is the time that took; a late one keeps the backlog's.
    expect(lag.samples.map((sample) => sample.lag)).toEqual([30, 0.4])
    expect(lag.probed(probe(1100, 32_000))).toBe(1)
    // The last write was at 20 s; the latest reached probe was taken at 31 s.
    expect(lag.idleSeconds()).toBe(11)
    expect(lag.lastWriteRunnerMs()).toBe(20_000)
  })

  test('a lag that does not come down is counted from its lowest point, and reset by catching up', () => {
    const lag = new LagTracker(skew, 0)
    lag.probed(probe(10, 1_000))
    lag.probed(probe(20, 2_000))
    lag.probed(probe(30, 3_000))
    expect(lag.notShrinkingSeconds(3_000)).toBe(2)
    lag.reached(30n, 3_100)
    expect(lag.notShrinkingSeconds(3_100)).toBe(0)
    lag.probed(probe(40, 4_000))
    expect(lag.notShrinkingSeconds(5_000)).toBe(1)
  })

  test('the samples kept for outputs are spread evenly and keep the last', () => {
    const samples = Array.from({ length: 1000 }, (_, i) => ({ at: i, lag: i }))
    const thin = thinSamples(samples, 60)
    expect(thin).toHaveLength(60)
    expect(thin[0]).toEqual({ at: 0, lag: 0 })
    expect(thin[59]).toEqual({ at: 999, lag: 999 })
  })
})

test("slot names carry the prefix and the run id, and fit PostgreSQL's rules", () => {
  const name = syncObjectName('123456789')
  expect(name).toMatch(/^pg_migrate_123456789_[0-9a-f]{6}$/)
  expect(syncObjectName(undefined)).toMatch(/^pg_migrate_local_[0-9a-f]{6}$/)
  expect(syncObjectName('x'.repeat(80)).length).toBeLessThanOrEqual(63)
})

describe('sync inputs', () => {
  const inputs = (given: Record<string, string>) => getInputs(inputsRunner(given))
  const urls = { 'source-url': 'postgresql://a:b@source.test/app', 'target-url': 'postgresql://c:d@target.test/app' }

  test('default to no sync; a sync cuts over when idle for 10 s and gives up after 600 s of growing lag', () => {
    expect(inputs(urls)).toMatchObject({
      sync: 'none',
      cutover: 'when-idle',
      cutoverIdleSeconds: 10,
      maxLagSeconds: 600
    })
    expect(inputs({ ...urls, sync: 'logical', cutover: 'after-catch-up', 'max-lag-seconds': '30' })).toMatchObject({
      sync: 'logical',
      cutover: 'after-catch-up',
      maxLagSeconds: 30
    })
  })

  test('a bad value is refused in one line naming the input', () => {
    expect(() => inputs({ ...urls, sync: 'physical' })).toThrow('sync is "physical"')
    expect(() => inputs({ ...urls, cutover: 'now' })).toThrow('cutover is "now"')
    expect(() => inputs({ ...urls, 'cutover-idle-seconds': '0' })).toThrow('cutover-idle-seconds is "0"')
  })
})

test('the summary says what the sync replayed, how triggers were handled, and the downtime window', () => {
  const report: RunReport = {
    mode: 'migrate',
    result: 'passed',
    startedAt: '2026-11-28T00:00:00Z',
    durationSeconds: 40,
    mismatches: 0,
    stages: [],
    databases: [
      {
        name: 'app',
        target: 'app',
        findings: [],
        sync: {
          slot: 'pg_migrate_42_abcdef',
          triggers: 'created-at-cutover',
          cutover: 'when-idle',
          reason: 'the target has caught up and the source has not written to the migrated tables for 10.2 s',
          applied: { transactions: 1200, inserts: 900, updates: 500, deletes: 80, truncates: 2, noRow: 0 },
          streamSeconds: 31.5,
          lagAtCutoverSeconds: 0.2,
          lag: [
            { at: 0, lag: 12.5 },
            { at: 10, lag: 0.4 }
          ],
          sequences: 3,
          triggersCreated: 4,
          downtime: {
            seconds: 14.1,
            waitingSeconds: 10.6,
            cutoverSeconds: 0.9,
            verifySeconds: 2.6,
            parts: { schemaCheck: 0.3, sequences: 0.1, changedRows: 0.2 }
          },
          verify: {
            bulk: { tables: 6, rows: 3_600_000, seconds: 9.4 },
            early: { checks: 2, discarded: 0, keys: 5993, whole: ['public.pgbench_history'], seconds: 1.8 },
            atCutover: {
              untouched: 1,
              byKey: [{ table: 'public.pgbench_accounts', keys: 3 }],
              whole: [],
              keys: 3,
              standing: { keys: 5990, whole: ['public.pgbench_history'] },
              seconds: 0.2
            }
          }
        }
      }
    ]
  }
  const text = micromark(renderSummary(report), {
    extensions: [gfm()],
    htmlExtensions: [gfmHtml()],
    allowDangerousHtml: true
  })
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
  expect(text).toContain(
    'Sync: 1,200 source transactions replayed in 31.5 s (900 inserts, 500 updates, 80 deletes, 2 truncates)'
  )
  expect(text).toContain('Downtime window: 14.1 s from the source')
  expect(text).toContain('held back and created at cutover (4)')
  expect(text).toContain('pg_migrate_42_abcdef on the source: dropped')
  expect(text).toContain('Lag over time (2 samples)')
  expect(text).toContain('part by part')
  expect(text).toContain('schema check 0.3 s, sequences 0.1 s, changed rows and statistics 0.2 s')
  expect(text).toContain(
    'Verified before cutover, while the source was quiet (2 checks, 1.8 s): 5,993 changed rows by key, 1 table read whole (public.pgbench_history)'
  )
  expect(text).toContain('Standing from before cutover: 5,990 changed rows and 1 table read whole')
  expect(text).toContain('Verified at cutover in 0.2 s: 3 changed rows by key on both sides')
})
