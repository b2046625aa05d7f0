import { initialCopySeconds, syncCopyAgainstMigrate } from '../../bench/initial-copy.js'
import { issueTargets, resumeFractions, smallDiskFolderBytes, targetsTable } from '../../bench/targets.js'

// A stream migrate's stages as the report gives them: the source's checksums beside the index builds.
const migrateStages = [
  { stage: 'Plan', start: 0.2, seconds: 0.5 },
  { stage: 'Dump', start: 2.0, seconds: 0.7 },
  { stage: 'Restore', start: 2.1, seconds: 5.4 },
  { stage: 'Build indexes', start: 4.0, seconds: 2.0 },
  { stage: 'Checksum source', start: 6.0, seconds: 0.5 },
  { stage: 'Verify', start: 7.6, seconds: 2.3 }
]
// Under a sync: the source is checksummed a second time at cutover, after the Sync stage began.
const syncStages = [
  { stage: 'Dump', start: 1.5, seconds: 0.6 },
  { stage: 'Restore', start: 1.6, seconds: 5.0 },
  { stage: 'Checksum source', start: 6.0, seconds: 1.0 },
  { stage: 'Sync', start: 7.2, seconds: 20 },
  { stage: 'Cutover', start: 27.2, seconds: 0.3 },
  { stage: 'Checksum source', start: 27.5, seconds: 1.0 },
  { stage: 'Verify', start: 28.5, seconds: 1.5 }
]

test('the small disk is 1 GB at the target size, a quarter of a smaller database', () => {
  expect(smallDiskFolderBytes(4.7e9)).toBe(1e9)
  expect(smallDiskFolderBytes(107_000_001)).toBe(26_750_000)
})

test("the initial copy spans the first Dump's start to the last copy stage's end before the Sync", () => {
  expect(initialCopySeconds(migrateStages)).toBe(5.5)
  expect(initialCopySeconds(syncStages)).toBe(5.5)
  // A report from before stages had a start, or a run that never dumped: no span.
  expect(initialCopySeconds(migrateStages.map(({ stage, seconds }) => ({ stage, seconds })))).toBeUndefined()
  expect(initialCopySeconds(migrateStages.filter((s) => s.stage !== 'Dump'))).toBeUndefined()
})

test("the sync's copy against the median of the migrate's passing runs", () => {
  const shifted = (by: number) =>
    migrateStages.map((s) => (s.stage === 'Restore' ? { ...s, seconds: s.seconds + by } : s))
  const runs = [
    { stages: shifted(0) },
    { stages: shifted(2) },
    { stages: shifted(1) },
    { failed: 'x', stages: shifted(-5) }
  ]
  expect(syncCopyAgainstMigrate(7.5, runs)).toEqual({ migrateSeconds: 6.5, runs: 3, ratio: 1.15 })
  expect(syncCopyAgainstMigrate(undefined, runs)).toBeUndefined()
  expect(syncCopyAgainstMigrate(5, [{ failed: 'x', stages: migrateStages }])).toBeUndefined()
})

test('resume fractions: the case its own, and any kind it reports as a field', () => {
  const resume = {
    resumedOverWhole: 0.82,
    killedAtCopyFraction: 0.51,
    wholeSeconds: 23.7,
    resumedSeconds: 19.5,
    kept: ['a'],
    stream: {
      resumedOverWhole: 0.45,
      killedAtByteFraction: 0.5,
      resumedCpuOverWhole: 0.4,
      wholeSeconds: 20,
      resumedSeconds: 9
    }
  }
  expect(resumeFractions(resume).map((r) => [r.kind, r.fraction])).toEqual([
    ['mode restore, from the dump', 0.82],
    ['stream', 0.45]
  ])
  expect(resumeFractions(resume)[1]).toMatchObject({ killedAt: 0.5, cpuFraction: 0.4 })
  expect(resumeFractions({ skipped: 'left out' })).toEqual([])
})

const summaryAt = (layout: string, pgcopydb: number, hand: number) => ({
  sizeGb: 1,
  databaseBytes: 1.02e9,
  layouts: {
    [layout]: {
      summaries: { action: { median: 29 }, pgcopydb: { median: 30 }, hand: { median: 27 } },
      ratios: { pgcopydb: { perRun: pgcopydb, ofMedians: pgcopydb }, hand: { perRun: hand, ofMedians: hand } }
    }
  }
})

const measuredRun = {
  action: 'action',
  config: { jobs: 2 },
  summary: [summaryAt('shared', 0.96, 0.98)],
  smallDisk: {
    sizeGb: 0.1,
    databaseBytes: 107e6,
    diskBytes: 26.75e6,
    peakUsedBytes: 12_288,
    exitCode: 0,
    result: 'passed',
    mismatches: 0,
    copyMethod: 'stream',
    rss: { mainBytes: 142e6, treeBytes: 250e6 }
  },
  resume: {
    resumedOverWhole: 0.82,
    killedAtCopyFraction: 0.51,
    wholeSeconds: 23.7,
    resumedSeconds: 19.5,
    stream: {
      resumedOverWhole: 0.55,
      killedAtByteFraction: 0.5,
      resumedCpuOverWhole: 0.5,
      wholeSeconds: 20,
      resumedSeconds: 11
    }
  },
  sync: {
    sizeGb: 1,
    result: 'passed',
    initialCopy: {
      seconds: 12.3,
      sessions: 2,
      copyMethod: 'stream',
      againstMigrate: { migrateSeconds: 11, runs: 3, ratio: 1.12 }
    },
    downtime: { seconds: 8.1, waitingSeconds: 5.7, cutoverSeconds: 0.4, verifySeconds: 2.0 }
  },
  syncRates: {
    backlog: { rowsPerSecond: 21_324, perCpuSecond: 33_374 },
    rates: [
      { rate: 250, writerRate: 250, result: 'passed', steadyLag: { median: 0.2, max: 0.9 } },
      { rate: 1000, writerRate: 990, result: 'passed', steadyLag: { median: 1.1, max: 3.2 } }
    ]
  }
}

test('every measured target is judged against its goal', () => {
  const rows = issueTargets(measuredRun)
  const status = (target: string) => rows.filter((r) => r.target.startsWith(target)).map((r) => r.status)
  expect(status('a 5 GB database migrates')).toEqual(['met'])
  expect(rows.find((r) => r.target.startsWith('a 5 GB'))?.note).toBe('at 0.1 GB; the target is at 5 GB')
  expect(status("the runner's disk use")).toEqual(['met'])
  expect(status('peak RSS')).toEqual(['not met'])
  expect(status('action ≤ 0.80 × pgcopydb')).toEqual(['not met', 'not run'])
  expect(rows.find((r) => r.target.includes('pgcopydb') && r.target.includes('three'))?.measured).toBe(
    'not run: --layout three (or both) not asked for'
  )
  expect(status('action ≤ 1.10 × the hand-tuned')).toEqual(['met', 'not run'])
  expect(rows.find((r) => r.target.includes('hand-tuned') && r.status === 'met')?.note).toBe('stretch met')
  expect(status('resume after a kill')).toEqual(['not met', 'met'])
  expect(rows.find((r) => r.target.endsWith('(stream)'))?.measured).toBe(
    '0.55 (11 s against 20 s, CPU 0.5; killed at 50 % of the data)'
  )
  expect(status("sync: logical's initial copy uses")).toEqual(['met'])
  expect(status("sync: logical's initial copy no slower")).toEqual(['not met'])
  expect(status('apply rate')).toEqual(['not met'])
  expect(status('lag with a writer at 250')).toEqual(['no goal'])
  expect(status('lag with a writer at 1,000')).toEqual(['met'])
  // The sync case ran at 1 GB: the window at 5 GB, the target's other size, is not run.
  expect(status('the downtime window')).toEqual(['met', 'not run'])
  expect(rows.filter((r) => r.target.startsWith('the downtime window')).map((r) => [r.target, r.measured])).toEqual([
    [
      'the downtime window after the quiet period (cutover + verify): 1 GB',
      '2.4 s (cutover 0.4 s, verify 2 s; whole window 8.1 s)'
    ],
    [
      'the downtime window after the quiet period (cutover + verify): 5 GB',
      'not run: the sync case runs on the largest database only: --sizes 5'
    ]
  ])
})

test('a run that failed is not met, whatever it measured', () => {
  const rows = issueTargets({
    ...measuredRun,
    smallDisk: { ...measuredRun.smallDisk, exitCode: 1, result: 'failed' },
    sync: { ...measuredRun.sync, result: 'failed' },
    syncRates: { failed: 'the servers went away' }
  })
  const status = (target: string) => rows.filter((r) => r.target.startsWith(target)).map((r) => r.status)
  expect(status('a 5 GB database migrates')).toEqual(['not met'])
  expect(status("the runner's disk use")).toEqual(['not met'])
  expect(status("sync: logical's initial copy uses")).toEqual(['not met'])
  expect(status('the downtime window')).toEqual(['not met', 'not run'])
  expect(status('apply rate')).toEqual(['not met'])
})

test('targets the run did not measure say not run, and why', () => {
  const leftOut = (name: string) => ({ skipped: `--cases leaves ${name} out` })
  const rows = issueTargets({
    config: { jobs: 2 },
    summary: [],
    smallDisk: leftOut('small-disk'),
    resume: leftOut('resume'),
    sync: leftOut('sync'),
    syncRates: leftOut('sync-rates')
  })
  expect(rows.length).toBe(14)
  expect(rows.every((r) => r.status === 'not run')).toBe(true)
  expect(rows[0].measured).toBe('not run: --cases leaves small-disk out')
  expect(rows[3].measured).toBe('not run: --ways leaves the action out')
  const table = targetsTable(rows)
  expect(table.split('\n')[0]).toBe('| issue | target | measured | goal | status |')
  expect(table).toMatch(/\n0 met, 0 not met, 14 not run$/)
})

test('the table escapes a pipe in a cell and notes a weaker met', () => {
  const table = targetsTable([
    { issue: 23, target: 'a | b', measured: '1', goal: '≤ 2', status: 'met', note: 'at 0.1 GB' }
  ])
  expect(table.split('\n')[2]).toBe('| 23 | a \\| b | 1 | ≤ 2 | met (at 0.1 GB) |')
})
