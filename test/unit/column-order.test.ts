// The order a restore gives inheritance children's columns, as the plan predicts it.
import { restoredColumnOrder } from '../../src/plan/checks/column-order.js'

describe('restoredColumnOrder', () => {
  const table = (name: string, parents: string[], columns: [string, boolean][]) => ({
    name,
    parents,
    columns: columns.map(([column, local]) => ({ name: column, local }))
  })

  test("parents' columns first, a column inherited twice where it first appears, then the child's own", () => {
    const orders = restoredColumnOrder([
      table(
        'a',
        [],
        [
          ['m1', true],
          ['shared', true],
          ['m3', true]
        ]
      ),
      table(
        'b',
        [],
        [
          ['m2', true],
          ['shared', true]
        ]
      ),
      table(
        'c',
        ['a', 'b'],
        [
          ['m1', false],
          ['shared', false],
          ['m2', false],
          ['own', true],
          ['m3', false]
        ]
      )
    ])
    expect(orders.get('c')).toEqual(['m1', 'shared', 'm3', 'm2', 'own'])
  })

  test('grandchildren follow their parent as restored, not as it is on the source', () => {
    const orders = restoredColumnOrder([
      table(
        'g1',
        [],
        [
          ['a', true],
          ['z', true]
        ]
      ),
      table(
        'g2',
        ['g1'],
        [
          ['a', false],
          ['b', true],
          ['z', false]
        ]
      ),
      table(
        'g3',
        ['g2'],
        [
          ['a', false],
          ['b', false],
          ['c', true],
          ['z', false]
        ]
      )
    ])
    expect(orders.get('g2')).toEqual(['a', 'z', 'b'])
    expect(orders.get('g3')).toEqual(['a', 'z', 'b', 'c'])
  })

  test('a column both local and inherited takes the inherited place; a parent out of sight keeps the source order', () => {
    const orders = restoredColumnOrder([
      table(
        'p',
        [],
        [
          ['a', true],
          ['b', true]
        ]
      ),
      table(
        'c',
        ['p'],
        [
          ['b', true],
          ['a', true],
          ['extra', true]
        ]
      ),
      table(
        'orphan',
        ['unseen'],
        [
          ['y', false],
          ['x', true]
        ]
      )
    ])
    expect(orders.get('c')).toEqual(['a', 'b', 'extra'])
    expect(orders.get('orphan')).toEqual(['y', 'x'])
  })
})
