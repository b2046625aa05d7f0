import type pg from 'pg'
import { PROBES, probeApplies, runChecks, type Probe, type ProbeContext } from '../../src/plan/checks/index.js'
import { crosses } from '../../src/plan/checks/catalog.js'
import { describeRemoval, knownRemovals, mentions, type Removal } from '../../src/plan/checks/removed.js'
import { WHOLE_DATABASE } from '../../src/scope/sql.js'

function context(sourceMajor: number, targetMajor: number, overrides: Partial<ProbeContext> = {}): ProbeContext {
  return {
    source: {} as pg.Client,
    target: {} as pg.Client,
    sourceMajor,
    targetMajor,
    targetIsSuperuser: false,
    privileges: 'skip',
    roles: 'fail',
    validationQueries: [],
    scope: WHOLE_DATABASE,
    ...overrides
  }
}

function probe(id: string, crossing?: number, objects: string[] = ['public.thing']): Probe & { calls: number } {
  const p = {
    id,
    calls: 0,
    severity: 'blocker' as const,
    ...(crossing ? { appliesTo: { crossing } } : {}),
    hint: 'fix it',
    message: (found: string[]) => `${id}: ${found.join(', ')}`,
    find: async () => {
      p.calls++
      return objects
    }
  }
  return p
}

describe('version crossing', () => {
  test.each([
    [14, 17, 15, true],
    [14, 17, 17, true],
    [14, 15, 15, true],
    [14, 15, 16, false],
    [15, 17, 15, false],
    [15, 17, 16, true],
    [16, 17, 16, false],
    [17, 17, 17, false],
    [14, 14, 15, false],
    [17, 14, 15, false]
  ])('%i → %i crosses %i: %s', (source, target, crossing, expected) => {
    expect(crosses(source, target, crossing)).toBe(expected)
  })

  const crossingIds = (source: number, target: number) =>
    PROBES.filter((p) => p.appliesTo && probeApplies(p, { sourceMajor: source, targetMajor: target }))
      .map((p) => p.id)
      .sort()

  test('the version-crossing probes are the 15, 16 and 17 rules', () => {
    expect(Object.fromEntries(PROBES.filter((p) => p.appliesTo).map((p) => [p.id, p.appliesTo?.crossing]))).toEqual({
      'pg15-plpython2': 15,
      'pg15-public-schema-create': 15,
      'pg15-interval-text-expression': 15,
      'pg16-generated-inheritance': 16,
      'pg17-adminpack': 17
    })
  })

  test.each([
    [
      14,
      17,
      [
        'pg15-interval-text-expression',
        'pg15-plpython2',
        'pg15-public-schema-create',
        'pg16-generated-inheritance',
        'pg17-adminpack'
      ]
    ],
    [
      14,
      16,
      ['pg15-interval-text-expression', 'pg15-plpython2', 'pg15-public-schema-create', 'pg16-generated-inheritance']
    ],
    [14, 15, ['pg15-interval-text-expression', 'pg15-plpython2', 'pg15-public-schema-create']],
    [15, 17, ['pg16-generated-inheritance', 'pg17-adminpack']],
    [16, 17, ['pg17-adminpack']],
    [17, 17, []],
    [14, 14, []]
  ])('%i → %i runs %j', (source, target, ids) => {
    expect(crossingIds(source, target)).toEqual(ids)
  })

  test('probes without a crossing always apply', () => {
    for (const p of PROBES.filter((p) => !p.appliesTo))
      expect(probeApplies(p, { sourceMajor: 17, targetMajor: 17 })).toBe(true)
  })

  test('every probe id is unique', () => {
    expect(new Set(PROBES.map((p) => p.id)).size).toBe(PROBES.length)
  })
})

describe('runChecks', () => {
  test('a probe whose release is not crossed is not run at all', async () => {
    const p15 = probe('pg15-rule', 15)
    const p17 = probe('pg17-rule', 17)
    const always = probe('always')
    const findings = await runChecks(context(15, 17), [p15, p17, always])
    expect(p15.calls).toBe(0)
    expect(findings.map((f) => f.id)).toEqual(['pg17-rule', 'always'])
  })

  test('nothing found, no finding; objects are reported once each', async () => {
    const findings = await runChecks(context(14, 17), [
      probe('empty', undefined, []),
      probe('twice', undefined, ['a', 'a', 'b'])
    ])
    expect(findings).toEqual([
      { id: 'twice', severity: 'blocker', message: 'twice: a, b', objects: ['a', 'b'], hint: 'fix it' }
    ])
  })

  test('severity and hint may depend on the context', async () => {
    const p: Probe = {
      id: 'roles',
      severity: (ctx) => (ctx.roles === 'fail' ? 'blocker' : 'warning'),
      reference: 'somewhere',
      hint: (ctx, objects) => `${ctx.roles}: ${objects.join(' ')}`,
      message: (objects) => `${objects.length} roles`,
      find: async () => ['app']
    }
    expect(await runChecks(context(14, 17), [p])).toEqual([
      {
        id: 'roles',
        severity: 'blocker',
        message: '1 roles',
        objects: ['app'],
        hint: 'fail: app',
        reference: 'somewhere'
      }
    ])
    expect((await runChecks(context(14, 17, { roles: 'create-missing' }), [p]))[0]).toMatchObject({
      severity: 'warning',
      hint: 'create-missing: app'
    })
  })

  test('a probe that cannot run becomes a warning naming the rule, and the others still run', async () => {
    const broken: Probe = {
      ...probe('broken'),
      find: async () => Promise.reject(new Error('permission denied for table pg_authid'))
    }
    const findings = await runChecks(context(14, 17), [broken, probe('next')])
    expect(findings[0]).toMatchObject({
      id: 'broken',
      severity: 'warning',
      message: 'could not run this check: permission denied for table pg_authid'
    })
    expect(findings[1].id).toBe('next')
  })
})

describe('known removals', () => {
  const namesOf = (removals: Removal[]) => removals.map((r) => r.name)

  test('14 → 17 carries the 15, 16 and 17 removals', () => {
    const names = namesOf(knownRemovals(14, 17))
    expect(names).toEqual(
      expect.arrayContaining([
        'pg_start_backup',
        'force_parallel_mode',
        'pg_catalog.pg_stat_bgwriter.checkpoints_timed',
        'old_snapshot_threshold'
      ])
    )
  })

  test('15 → 17 leaves out what 15 already removed', () => {
    const names = namesOf(knownRemovals(15, 17))
    expect(names).not.toContain('pg_start_backup')
    expect(names).not.toContain('stats_temp_directory')
    expect(names).toContain('force_parallel_mode')
    expect(names).toContain('pg_catalog.pg_stat_bgwriter.checkpoints_timed')
  })

  test('14 → 15 has only the 15 removals; no move has none', () => {
    expect(new Set(knownRemovals(14, 15).map((r) => r.removedIn))).toEqual(new Set([15]))
    expect(knownRemovals(17, 17)).toEqual([])
    expect(knownRemovals(14, 14)).toEqual([])
  })
})

describe('mentions', () => {
  const fn = (name: string): Removal => ({ kind: 'function', name })
  const column = (name: string): Removal => ({ kind: 'column', name })
  const setting = (name: string): Removal => ({ kind: 'setting', name })

  test.each([
    ["SELECT pg_start_backup('x')", true],
    ["SELECT pg_catalog.pg_start_backup ('x')", true],
    ['PERFORM "pg_start_backup"(label)', true],
    ["SELECT my_pg_start_backup('x')", false],
    ["SELECT pg_start_backup_info('x')", false],
    ['SELECT pg_start_backup', false]
  ])('function call in %j: %s', (text, expected) => {
    expect(mentions(text, fn('pg_start_backup'))).toBe(expected)
  })

  test.each([
    ['SELECT checkpoints_timed FROM pg_stat_bgwriter', true],
    ['SELECT b.checkpoints_timed FROM pg_catalog.pg_stat_bgwriter b', true],
    ['SELECT checkpoints_timed FROM my_stats', false],
    ['SELECT buffers_clean FROM pg_stat_bgwriter', false]
  ])('column in %j: %s', (text, expected) => {
    expect(mentions(text, column('pg_catalog.pg_stat_bgwriter.checkpoints_timed'))).toBe(expected)
  })

  test.each([
    ["SELECT current_setting('lc_collate')", true],
    ["SELECT set_config('lc_collate', 'C', true)", true],
    ['SHOW lc_collate', true],
    ['SET LOCAL lc_collate = C', true],
    ["SELECT current_setting('lc_collate_x')", false],
    ['SELECT datcollate AS lc_collate FROM pg_database', false]
  ])('setting in %j: %s', (text, expected) => {
    expect(mentions(text, setting('lc_collate'))).toBe(expected)
  })
})

test('describeRemoval names the replacement', () => {
  expect(describeRemoval({ kind: 'function', name: 'pg_stop_backup', replacement: 'pg_backup_stop()' })).toBe(
    'pg_stop_backup() → pg_backup_stop()'
  )
  expect(
    describeRemoval({ kind: 'column', name: 'pg_catalog.pg_stat_bgwriter.buffers_backend', replacement: 'pg_stat_io' })
  ).toBe('pg_stat_bgwriter.buffers_backend → pg_stat_io')
  expect(describeRemoval({ kind: 'setting', name: 'db_user_namespace' })).toBe('setting db_user_namespace')
})
