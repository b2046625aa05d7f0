import { appFailures, scoreApp } from '../../scripts/corpus/apps-scorecard.js'

// What `npm run corpus -- --apps --check` fails on: any number above its allowance (0 unless listed),
// a run that stopped, an app that did not load.
const difference = (expected: boolean) => ({ kind: 'definition', object: 'view public.v', detail: 'differs', expected })

function results(adminDifferences: object[], keepPassed = true) {
  const plan = { predicted: [], missed: { passed: true, missed: [], revealed: [], differences: adminDifferences } }
  const verify = {
    revealed: [],
    runs: {
      keep: {
        passed: keepPassed,
        stopped: keepPassed ? undefined : 'Dump failed',
        verified: keepPassed,
        missed: [],
        unexpected: [],
        expected: []
      }
    }
  }
  return {
    loads: [{ app: 'shop', sourceMajor: 14, loaded: true }],
    pairs: [{ source: 14, target: 17, scores: [scoreApp('shop', plan, verify, 1)] }]
  }
}

test('an unexpected difference fails the check; an expected one does not', () => {
  expect(appFailures(results([difference(true)]), {}).failures).toEqual([])
  expect(appFailures(results([difference(false)]), {}).failures).toEqual([
    '14 → 17 shop: differences admin (skip) 1 (allowed 0)'
  ])
})

test('an allowance lets its number through, and asks to be tightened once the number drops', () => {
  const allowed = { '14-17': { shop: { adminDiffs: 1 } } }
  expect(appFailures(results([difference(false)]), allowed)).toEqual({ failures: [], tighten: [] })
  expect(appFailures(results([]), allowed).tighten).toEqual(['14 → 17 shop: differences admin (skip) 0, allowed 1'])
})

test('a run that stopped and an app that did not load fail the check', () => {
  const stopped = results([], false)
  stopped.loads.push({ app: 'blog', sourceMajor: 16, loaded: false })
  expect(appFailures(stopped, {}).failures).toEqual([
    'blog did not load on 16',
    '14 → 17 shop: superuser migration, privileges keep: Dump failed'
  ])
})
