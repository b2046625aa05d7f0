// The rule's label is how a later run finds a rule a dead runner left; these are its rules, and what
// the summary says about the firewall. The rules against a firewall that is real run in
// test/integration/civo-firewall.test.ts.
import { micromark } from 'micromark'
import { gfm, gfmHtml } from 'micromark-extension-gfm'
import type { RunReport } from '../../src/action/report.js'
import { renderSummary } from '../../src/action/summary.js'
import { leftoverReason, ruleLabel } from '../../src/targets/civo-firewall.js'

const OPENED = Date.parse('2026-12-07T15:00:00Z')
const me = { id: '9001', attempt: 2, job: 'migrate' }

test('the label names the run, its attempt, the job and the end of its 6 hours', () => {
  expect(ruleLabel(me, OPENED)).toBe('pg-migrate-action run 9001.2 migrate until 2026-12-07T21:00Z')
  expect(ruleLabel({ id: '7', attempt: 1, job: 'a job/with "odd" chars' }, OPENED)).toBe(
    'pg-migrate-action run 7.1 ajobwithoddchars until 2026-12-07T21:00Z'
  )
})

test.each([
  ['pg-migrate-action run 9001.1 migrate until 2026-12-07T21:00Z', 'attempt 1 of this run has ended'],
  ['pg-migrate-action run 9001.1 other-job until 2026-12-07T21:00Z', 'attempt 1 of this run has ended'],
  ['pg-migrate-action run 12.1 migrate until 2026-12-07T14:59Z', 'its 6 hours ended at 2026-12-07T14:59Z'],
  // A leg of this attempt (a matrix, a split job) or another run still within its hours: maybe in use.
  ['pg-migrate-action run 9001.2 migrate until 2026-12-07T21:00Z', undefined],
  ['pg-migrate-action run 9002.1 migrate until 2026-12-07T21:00Z', undefined],
  // Not the action's: never touched.
  ['office', undefined],
  ['pg-migrate-action run by hand', undefined]
])('%s: %s', (label, reason) => {
  expect(leftoverReason(label, me, OPENED)).toBe(reason)
})

test('the summary says which address was admitted, for how long, and what was cleaned up', () => {
  const report: RunReport = {
    mode: 'migrate',
    result: 'passed',
    startedAt: '2026-12-07T15:00:00Z',
    durationSeconds: 42,
    mismatches: 0,
    stages: [],
    databases: [],
    civo: {
      databaseId: 'db-1',
      name: 'app_db',
      created: true,
      firewall: {
        firewallId: 'fw-1',
        cidr: '203.0.113.7/32',
        port: 5432,
        label: 'pg-migrate-action run 1.1 migrate until 2026-12-07T21:00Z',
        openedAt: '2026-12-07T15:00:01Z',
        seconds: 40,
        removed: true,
        leftoversRemoved: ['pg-migrate-action run 0.1 migrate until 2026-12-07T14:00Z']
      }
    }
  }
  const html = micromark(renderSummary(report), { extensions: [gfm()], htmlExtensions: [gfmHtml()] })
  expect(html).toContain('<strong>Civo:</strong> database app_db (db-1), created by this run.')
  expect(html).toContain(
    "Firewall fw-1 admitted this runner's address 203.0.113.7/32 to port 5432 for 40 s, then removed the rule."
  )
  expect(html).toContain('Removed 1 rule that stopped runners left: pg-migrate-action run 0.1 migrate until')
  const failedRemoval = { ...report.civo!, firewall: { ...report.civo!.firewall!, removed: false } }
  expect(renderSummary({ ...report, civo: failedRemoval })).toContain(
    '⚠️ the rule could not be removed: delete rule "pg-migrate-action run 1.1 migrate until 2026-12-07T21:00Z"'
  )
})
