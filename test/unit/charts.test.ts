import { lagChart, stagesChart } from '../../src/action/charts.js'
import { Stage, type StageTiming } from '../../src/action/stages.js'

const STARTED = '2026-12-07T10:00:00.000Z'
const ORIGIN = Date.parse(STARTED)

function run(stages: StageTiming[], databases: string[]): Parameters<typeof stagesChart>[0] {
  return {
    startedAt: STARTED,
    stages,
    databases: databases.map((name) => ({ name, target: name, findings: [] }))
  }
}

test('stages that ran side by side are bars that overlap, by database, on the run clock', () => {
  const chart = stagesChart(
    run(
      [
        { stage: Stage.Plan, start: 0, seconds: 1.5, status: 'ok' },
        { stage: Stage.Dump, database: 'shop', start: 1.5, seconds: 4, status: 'ok' },
        { stage: Stage.Restore, database: 'shop', start: 2, seconds: 6, status: 'failed', detail: 'x' },
        { stage: Stage.UploadArtifact, database: 'shop', start: 6, seconds: 0, status: 'skipped', detail: 'no token' }
      ],
      ['shop']
    )
  )
  expect(chart?.split('\n')).toEqual([
    '```mermaid',
    'gantt',
    '    title Stages over time',
    '    dateFormat x',
    '    axisFormat %H:%M:%S',
    '    tickInterval 1second',
    '    todayMarker off',
    '    section Run',
    `    Plan :done, ${ORIGIN}, ${ORIGIN + 1500}`,
    '    section shop',
    `    Dump :done, ${ORIGIN + 1500}, ${ORIGIN + 5500}`,
    `    Restore :crit, ${ORIGIN + 2000}, ${ORIGIN + 8000}`,
    '```'
  ])
})

test('a database name Mermaid could misread is not written: the section is numbered instead', () => {
  const hostile = 'x\n    section y :done, 0, 1 %%{init}%%'
  const chart = stagesChart(
    run(
      [
        { stage: Stage.Dump, database: 'plain_db-1.a', start: 0, seconds: 1, status: 'ok' },
        { stage: Stage.Dump, database: hostile, start: 0, seconds: 2, status: 'running' }
      ],
      ['plain_db-1.a', hostile]
    )
  ) as string
  expect(chart).toContain('    section plain_db-1.a\n')
  expect(chart).toContain(`    section Database 2\n    Dump :active, ${ORIGIN}, ${ORIGIN + 2000}\n`)
  expect(chart).not.toContain('%%{init')
  expect(chart.split('\n').filter((line) => line.includes('section'))).toHaveLength(2)
})

test('a long run gets round ticks; a zero-length stage still gets a visible bar', () => {
  const chart = stagesChart(
    run(
      [
        { stage: Stage.Dump, database: 'a', start: 0, seconds: 3000, status: 'ok' },
        { stage: Stage.Cutover, database: 'a', start: 3000, seconds: 0, status: 'ok' }
      ],
      ['a']
    )
  ) as string
  expect(chart).toContain('tickInterval 5minute')
  expect(chart).toContain(`Cutover :done, ${ORIGIN + 3_000_000}, ${ORIGIN + 3_000_010}`)
  expect(stagesChart(run([], []))).toBeUndefined()
})

test('the lag as a line over the seconds of the sync', () => {
  expect(
    lagChart([
      { at: 0.5, lag: 0.3 },
      { at: 6, lag: 2.45 },
      { at: 12, lag: 0 }
    ])?.split('\n')
  ).toEqual([
    '```mermaid',
    '%%{init: {"xyChart": {"height": 260}, "themeVariables": {"xyChart": {"plotColorPalette": "#0969da"}}}}%%',
    'xychart-beta',
    '    title "Lag behind the source"',
    '    x-axis "Seconds into the sync" 0.5 --> 12',
    '    y-axis "Seconds behind" 0 --> 3',
    '    line [0.3, 2.45, 0]',
    '```'
  ])
  expect(lagChart([{ at: 1, lag: 0 }])).toBeUndefined()
  expect(lagChart(undefined)).toBeUndefined()
})
