// The job summary rendered the way GitHub renders it (CommonMark with the GFM extensions, raw HTML
// allowed for <details>): nothing may be left as literal markup, and names from the database must
// show as they are, never as markup.
import { micromark } from 'micromark'
import { gfm, gfmHtml } from 'micromark-extension-gfm'
import type { RunReport } from '../../src/action/report.js'
import { Stage } from '../../src/action/stages.js'
import { renderSummary } from '../../src/action/summary.js'
import type { Fingerprint } from '../../src/verify/fingerprint/index.js'

function render(markdown: string): string {
  return micromark(markdown, { extensions: [gfm()], htmlExtensions: [gfmHtml()], allowDangerousHtml: true })
}

/** What a reader sees: the rendered page without its tags. */
function visibleText(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
}

const fingerprint = (checksum: string): Fingerprint => ({
  serverVersion: '14.23',
  takenAt: '2026-11-28T00:00:00Z',
  level: 'full',
  inventory: [{ kind: 'table', name: 'shop.order_lines', definition: 'ordinary', owner: 'app', acl: null }],
  tables: [
    { schema: 'shop', name: 'order_lines', rows: 120, checksum, hash: 'record-by-name', primaryKey: ['id'] },
    { schema: 'shop', name: 'a|b*c', rows: 3, checksum: '5', hash: 'text-by-name', primaryKey: [] }
  ],
  sequences: [{ schema: 'shop', name: 'ticket', lastValue: '101', isCalled: true, increment: '1' }],
  largeObjects: { count: 1, checksum: '9' },
  queries: [{ sql: 'SELECT * FROM shape', columns: ['n'], rowCount: 1, checksum: '1' }]
})

const failed: RunReport = {
  mode: 'migrate',
  result: 'failed',
  startedAt: '2026-11-28T00:00:00Z',
  durationSeconds: 12.5,
  sourceVersion: '14.23',
  targetVersion: '17.10',
  clientVersion: '17.12',
  mismatches: 3,
  stages: [
    { stage: Stage.Plan, seconds: 0.4, status: 'ok' },
    { stage: Stage.Verify, database: 'app_db', seconds: 1.2, status: 'failed', detail: 'column "x|y" <oops>' }
  ],
  databases: [
    {
      name: 'app_db',
      target: 'app_db',
      findings: [
        {
          id: 'missing-roles',
          severity: 'blocker',
          message: '1 role the dump names does not exist on the target: _reader_',
          objects: ['_reader_'],
          hint: 'create it, or set roles: create-missing'
        },
        {
          id: 'event-triggers-not-migrated',
          severity: 'warning',
          message: 'event triggers will not be migrated',
          objects: ['event trigger **audit**'],
          hint: 'recreate them'
        }
      ],
      restore: { seconds: 3, items: 40, followed: ['shop.order_lines'] },
      sourceFingerprint: fingerprint('1234567890123456789'),
      targetFingerprint: fingerprint('9876543210987654321'),
      comparison: {
        passed: false,
        differences: [
          {
            kind: 'checksum',
            object: 'shop.order_lines',
            source: '1234567890123456789',
            target: '9876543210987654321',
            expected: false,
            detail: 'the same 120 rows on both sides, but some hold other values',
            table: { schema: 'shop', name: 'order_lines' }
          },
          {
            kind: 'definition',
            object: 'view shop.`v`',
            source: 'SELECT a | b',
            target: 'SELECT a || b',
            expected: false,
            detail: 'view shop.`v` is defined differently'
          },
          {
            kind: 'definition',
            object: 'index shop.i_1',
            source: 'x',
            target: 'y',
            expected: false,
            detail: 'index shop.i_1 is defined differently'
          },
          {
            kind: 'owner',
            object: 'schema shop',
            source: 'app',
            target: 'admin',
            expected: true,
            detail: 'owners not kept'
          }
        ]
      },
      differingRows: { 'shop.order_lines': ['17', '42'] }
    }
  ],
  error: {
    stage: 'Verify',
    message: '3 differences between source and target',
    hint: 'each difference is listed with its table and the keys of differing rows'
  }
}

test('a failed run renders with no markdown left literal and every name shown as it is', () => {
  const html = render(renderSummary(failed))
  const text = visibleText(html)
  expect(html).toContain('<h2>')
  expect(html).toContain('<strong>Verify failed:</strong>')
  expect(html).toContain('<strong>Fix:</strong>')
  expect(html).toContain('<details>')
  // Tables rendered as tables, and no cell split by a name holding a pipe.
  expect((html.match(/<table>/g) ?? []).length).toBeGreaterThanOrEqual(5)
  const names = ['_reader_', 'event trigger **audit**', 'view shop.`v`', 'SELECT a | b', 'a|b*c', 'column "x|y" <oops>']
  for (const name of names) expect(text).toContain(name)
  // Once the names (which hold markup characters of their own) are taken out, no markup is left.
  const rest = names.reduce((remaining, name) => remaining.split(name).join(' '), text)
  expect(rest).not.toMatch(/\*\*|\| ?---|\s#|`|\\/)
  expect(html).not.toContain('<oops>')
})

test('differences are grouped by kind with counts, keys are shown and checksum sums are not', () => {
  const text = visibleText(render(renderSummary(failed)))
  expect(text).toContain('Kind Count Objects checksum 1 shop.order_lines definition 2 view shop.`v`, index shop.i_1')
  expect(text).toContain('differing keys: 17, 42')
  expect(text).not.toContain('1234567890123456789')
  expect(text).toContain('Expected differences (1)')
  expect(text).toContain(
    'compared 2 tables (123 rows), 1 sequence, 1 large object, 1 validation query, 1 schema object'
  )
  expect(text).toContain('Plan: 1 blocker, 1 warning.')
  expect(text).toContain('then 1 table loaded as pg_dump wrote them (shop.order_lines)')
})

test('a passed run says what it compared', () => {
  const passed: RunReport = {
    ...failed,
    result: 'passed',
    error: undefined,
    mismatches: 0,
    databases: [{ ...failed.databases[0], findings: [], comparison: { passed: true, differences: [] } }]
  }
  const text = visibleText(render(renderSummary(passed)))
  expect(text).toContain('✅ pg-migrate migrate: passed (source 14.23, target 17.10, client 17.12) in 12.5s')
  expect(text).toContain('Verification: no differences — compared 2 tables')
})

test('what ANALYZE did after the load, and what the statistics carried from the source spared it', () => {
  const database = { ...failed.databases[0], findings: [], comparison: { passed: true, differences: [] } }
  const carried: RunReport = {
    ...failed,
    databases: [{ ...database, targetWork: { statisticsCarried: true, analyze: { analyzed: 3, alreadyComplete: 40 } } }]
  }
  expect(visibleText(render(renderSummary(carried)))).toContain(
    'Planner statistics carried from the source (pg_dump --statistics): 40 tables needed no ANALYZE; 3 tables analyzed'
  )
  const plain: RunReport = {
    ...failed,
    databases: [{ ...database, targetWork: { analyze: { analyzed: 1, alreadyComplete: 0 } } }]
  }
  const plainText = visibleText(render(renderSummary(plain)))
  expect(plainText).toContain('ANALYZE ran on 1 table.')
  expect(plainText).not.toContain('carried from the source')
})

test('a scoped, resumed run says what moved, what was left out and why, and what was kept, loaded again and created', () => {
  const resumed: RunReport = {
    ...failed,
    result: 'passed',
    error: undefined,
    databases: [
      {
        name: 'app_db',
        target: 'app_db',
        findings: [],
        scope: {
          patterns: {
            schemas: ['app'],
            excludeSchemas: [],
            tables: [],
            excludeTables: [],
            excludeTableData: ['app.events_*']
          },
          leftOut: [
            { what: 'schema audit', why: 'not in schemas' },
            {
              what: 'the rows of table app.events_2024',
              why: 'exclude-table-data: app.events_* (its definition moves and is compared, its rows not)'
            }
          ],
          prerequisites: { schemas: [], extensions: [{ name: 'citext', schema: 'public' }] }
        },
        resume: {
          runId: 'run-1',
          dump: 'new',
          kept: ['app.orders'],
          reloaded: ['app.order_lines'],
          created: ['index app.order_lines_pkey'],
          seconds: 4.25
        },
        comparison: { passed: true, differences: [] }
      }
    ]
  }
  const html = render(renderSummary(resumed))
  const text = visibleText(html)
  expect(text).toContain(
    'Scope: only what these filters select moved (schemas: app; exclude-table-data: app.events_*).'
  )
  expect(text).toContain('Left out (2)')
  expect(text).toContain('schema audit not in schemas')
  expect(text).toContain('the rows of table app.events_2024 exclude-table-data: app.events_*')
  expect(text).toContain('Created on the target before the restore, as the moving objects need them: extension citext.')
  expect(text).toContain('Resumed with a new dump (run run-1): the earlier run')
  expect(text).toContain(
    'in 4.3s: kept 1 table whose rows were complete (app.orders); loaded 1 table again (app.order_lines); created 1 missing item (index app.order_lines_pkey).'
  )
  expect(text).toContain('the source must not have changed in between')
  expect(html).not.toMatch(/\*\*Resumed|\*\*Scope/)
})

test('a skipped upload says skipped and why; overlapping stages are said to overlap; numbers read with separators', () => {
  const run: RunReport = {
    ...failed,
    result: 'passed',
    error: undefined,
    durationSeconds: 9,
    stages: [
      { stage: Stage.Plan, start: 0, seconds: 1, status: 'ok' },
      { stage: Stage.Dump, database: 'app_db', start: 1, seconds: 4, status: 'ok' },
      { stage: Stage.Restore, database: 'app_db', start: 2, seconds: 5, status: 'ok' },
      {
        stage: Stage.UploadArtifact,
        database: 'app_db',
        start: 5,
        seconds: 0,
        status: 'skipped',
        detail: 'not running in GitHub Actions'
      },
      { stage: Stage.Verify, database: 'app_db', start: 7, seconds: 2, status: 'ok' }
    ],
    artifact: { skipped: true, reason: 'not running in GitHub Actions', instead: 'the dump stays at /tmp/d' },
    databases: [
      {
        ...failed.databases[0],
        findings: [],
        restore: { seconds: 3, items: 1, followed: [] },
        comparison: { passed: true, differences: [] },
        sourceFingerprint: { ...fingerprint('1'), tables: [{ ...fingerprint('1').tables[0], rows: 1234567 }] },
        targetFingerprint: { ...fingerprint('1'), tables: [{ ...fingerprint('1').tables[0], rows: 1234567 }] }
      }
    ]
  }
  const text = visibleText(render(renderSummary(run)))
  expect(text).toContain('Upload artifact app_db 0.00 skipped: not running in GitHub Actions')
  expect(text).not.toMatch(/Upload artifact app_db \S+ ok/)
  expect(text).toContain('Artifact: not uploaded: not running in GitHub Actions; the dump stays at /tmp/d')
  // Dump and Restore overlap; the upload starts at the dump's last second; Plan and Verify stand alone.
  expect(text).toContain(
    "Dump, Restore, Upload artifact ran side by side, so the stages' seconds add up to more than the run's 9 s."
  )
  expect(text).toContain('Restored the dump: 1 entry')
  expect(text).toContain('compared 1 table (1,234,567 rows)')
  expect(text).toContain('shop.order_lines 1,234,567 1,234,567 equal')
})

test('the stages chart follows the stage table; a sync adds the lag chart before its table of samples', () => {
  const run: RunReport = {
    ...failed,
    result: 'passed',
    error: undefined,
    stages: [
      { stage: Stage.Plan, start: 0, seconds: 1, status: 'ok' },
      { stage: Stage.Sync, database: 'app_db', start: 1, seconds: 4, status: 'ok' }
    ],
    databases: [
      {
        ...failed.databases[0],
        findings: [],
        comparison: undefined,
        sync: {
          slot: 'pg_migrate_1',
          triggers: 'replica-role',
          cutover: 'when-idle',
          lag: [
            { at: 0.5, lag: 1 },
            { at: 1, lag: 0 }
          ]
        }
      }
    ]
  }
  const markdown = renderSummary(run)
  const [table, gantt, lag, samples] = [
    '| Stage |',
    '```mermaid\ngantt',
    'xychart-beta',
    'Lag over time (2 samples)'
  ].map((part) => markdown.indexOf(part))
  expect([table, gantt, lag, samples].every((at) => at >= 0)).toBe(true)
  expect(table < gantt && gantt < lag && lag < samples).toBe(true)
  // Outside GitHub the chart is a code block: the text around it still reads.
  expect(visibleText(render(markdown))).toContain('Lag over time (2 samples)')
})
