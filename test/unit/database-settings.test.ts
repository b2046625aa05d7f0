import { setClause } from '../../src/settings/carry-settings.js'
import {
  compareDatabaseSettings,
  splitList,
  type DatabaseSettingsFingerprint
} from '../../src/verify/fingerprint/settings-fingerprint.js'

describe('list settings', () => {
  test.each([
    ['public', ['public']],
    ['"$user", public', ['$user', 'public']],
    ['"My Schema",public ,  "a""b"', ['My Schema', 'public', 'a"b']],
    ['""', ['']],
    ['', []]
  ])('%j splits into %j', (value, names) => {
    expect(splitList(value)).toEqual(names)
  })

  test('ALTER … SET gets one literal per name for list settings, one literal otherwise', () => {
    expect(setClause({ name: 'search_path', value: '"My Schema", "$user", public' })).toBe(
      `"search_path" = 'My Schema', '$user', 'public'`
    )
    expect(setClause({ name: 'work_mem', value: '64MB' })).toBe(`"work_mem" = '64MB'`)
    expect(setClause({ name: 'myapp.note', value: "it's" })).toBe(`"myapp"."note" = 'it''s'`)
  })
})

describe('compareDatabaseSettings', () => {
  const source: DatabaseSettingsFingerprint = {
    comment: 'shop data',
    settings: [
      { role: null, name: 'search_path', value: 'app, json' },
      { role: null, name: 'log_statement', value: 'all' },
      { role: 'app', name: 'work_mem', value: '8MB' }
    ],
    notCarried: [{ object: 'ALTER DATABASE SET log_statement', reason: 'only a superuser may set it' }]
  }

  test("a list quoted by the target's keywords is the same list; what was not carried is expected", () => {
    const target: DatabaseSettingsFingerprint = {
      comment: 'shop data',
      settings: [
        { role: null, name: 'search_path', value: 'app, "json"' },
        { role: 'app', name: 'work_mem', value: '8MB' },
        { role: null, name: 'idle_session_timeout', value: '1h' }
      ]
    }
    expect(compareDatabaseSettings(source, target)).toEqual([
      expect.objectContaining({
        kind: 'missing',
        object: 'ALTER DATABASE SET log_statement',
        expected: true,
        detail: 'not carried over: only a superuser may set it'
      }),
      expect.objectContaining({ kind: 'extra', object: 'ALTER DATABASE SET idle_session_timeout', expected: true })
    ])
  })

  test('a value or comment that differs, or a setting missing that was meant to be carried, fails', () => {
    const target: DatabaseSettingsFingerprint = {
      comment: null,
      settings: [
        { role: null, name: 'search_path', value: 'app' },
        { role: null, name: 'log_statement', value: 'all' }
      ]
    }
    expect(
      compareDatabaseSettings(source, target).map(({ kind, object, expected }) => ({ kind, object, expected }))
    ).toEqual([
      { kind: 'definition', object: 'ALTER DATABASE SET search_path', expected: false },
      { kind: 'missing', object: 'ALTER ROLE app IN DATABASE SET work_mem', expected: false },
      { kind: 'definition', object: 'COMMENT ON DATABASE', expected: false }
    ])
  })

  test('fingerprints from before the part existed compare as equal', () => {
    expect(compareDatabaseSettings(undefined, source)).toEqual([])
    expect(compareDatabaseSettings(source, undefined)).toEqual([])
  })
})
