import { ProgressLog, progressLine, type ProgressSample } from '../../src/base/progress.js'
import { checksumProgress } from '../../src/verify/fingerprint/progress.js'
import { recordingLog } from '../support/in-process.js'

test('one line at each quarter and every 30 s, never per sample; each line in the timeline', () => {
  const { log, lines } = recordingLog()
  const timeline: ProgressSample[] = []
  let now = 0
  const progress = new ProgressLog(log, 'dump', timeline, { rows: 1000 }, () => now)
  const at = (seconds: number, rows: number): void => {
    now = seconds * 1000
    progress.update({ rows, bytes: rows * 1024 })
  }
  at(1, 100) // nothing: under a quarter, under 30 s
  at(2, 260) // a quarter
  at(3, 300)
  at(4, 320)
  at(32, 400) // 30 s since the last line
  at(33, 1000) // done
  expect(lines).toEqual([
    'dump: 260 of about 1,000 rows (26%), 260.0 KiB; 130 rows/s, 130.0 KiB/s; about 6 s left',
    'dump: 400 of about 1,000 rows (40%), 400.0 KiB; 13 rows/s, 12.5 KiB/s; about 46 s left',
    'dump: 1,000 of about 1,000 rows (100%), 1000.0 KiB; 30 rows/s, 30.3 KiB/s; about 0 s left'
  ])
  expect(timeline.map((s) => [s.at, s.rows, s.secondsLeft])).toEqual([
    [2, 260, 6],
    [32, 400, 46],
    [33, 1000, 0]
  ])
})

test('a quarter skipped between samples gives one line, not one per quarter', () => {
  const { log, lines } = recordingLog()
  let now = 0
  const progress = new ProgressLog(log, 'dump', [], { rows: 100 }, () => now)
  now = 1000
  progress.update({ rows: 80, bytes: 0 })
  now = 2000
  progress.update({ rows: 90, bytes: 0 })
  expect(lines).toHaveLength(1)
})

test('without a total: rows, bytes and rate, no share and no time left', () => {
  expect(
    progressLine({
      stage: 'dump',
      at: 90,
      rows: 1_234_567,
      bytes: 3 * 1024 ** 3,
      rowsPerSecond: 13_717,
      bytesPerSecond: 35_791_394
    })
  ).toBe('dump: 1,234,567 rows, 3.0 GiB; 13,717 rows/s, 34.1 MiB/s')
  expect(
    progressLine({
      stage: 'dump',
      at: 90,
      rows: 10,
      bytes: 0,
      totalRows: 100_000,
      rowsPerSecond: 1,
      bytesPerSecond: 0,
      secondsLeft: 7500
    })
  ).toBe('dump: 10 of about 100,000 rows (0%), 0 B; 1 row/s, 0 B/s; about 2 h 5 min left')
})

test('against a byte total: the share, the quarters and the time left follow the bytes', () => {
  const { log, lines } = recordingLog()
  const timeline: ProgressSample[] = []
  let now = 0
  const total: { bytes?: number } = {}
  const progress = new ProgressLog(log, 'indexes', timeline, total, () => now)
  now = 1000
  progress.update({ rows: 10, bytes: 512 }) // no total yet: under 30 s, nothing
  total.bytes = 4096
  now = 2000
  progress.update({ rows: 20, bytes: 1024 }) // a quarter
  now = 3000
  progress.update({ rows: 30, bytes: 1536 })
  expect(lines).toEqual(['indexes: 20 rows, 1.0 KiB of 4.0 KiB (25%); 10 rows/s, 512 B/s; about 6 s left'])
  expect(timeline).toEqual([
    {
      stage: 'indexes',
      at: 2,
      rows: 20,
      bytes: 1024,
      totalBytes: 4096,
      rowsPerSecond: 10,
      bytesPerSecond: 512,
      secondsLeft: 6
    }
  ])
})

test('checksums: one line per quarter of the bytes, from the tables done, not one per table', () => {
  const { log, lines } = recordingLog()
  const timeline: ProgressSample[] = []
  const onTable = checksumProgress(log, 'source checksums', timeline)
  const totalBytes = 1000
  onTable(1, 4, 'a.big', { rows: 600, bytes: 600, totalBytes })
  onTable(2, 4, 'a.mid', { rows: 300, bytes: 300, totalBytes })
  onTable(3, 4, 'a.small', { rows: 50, bytes: 50, totalBytes })
  onTable(4, 4, 'a.tiny', { rows: 50, bytes: 50, totalBytes })
  expect(timeline.map((s) => [s.rows, s.bytes, s.totalBytes])).toEqual([
    [600, 600, 1000],
    [900, 900, 1000],
    [1000, 1000, 1000]
  ])
  expect(lines).toHaveLength(3)
  expect(lines[2]).toMatch(/^source checksums: 1,000 rows, 1000 B of 1000 B \(100%\); /)
})

test('a stage that moves no rows (a download) says bytes only', () => {
  expect(
    progressLine({
      stage: 'download',
      at: 2,
      rows: 0,
      bytes: 1024 ** 2,
      totalBytes: 4 * 1024 ** 2,
      rowsPerSecond: 0,
      bytesPerSecond: 512 * 1024,
      secondsLeft: 6
    })
  ).toBe('download: 1.0 MiB of 4.0 MiB (25%); 512.0 KiB/s; about 6 s left')
})
