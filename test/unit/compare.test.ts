import { compareFingerprints, type Difference, type ReparseVerdict } from '../../src/verify/compare.js'
import type { Fingerprint, SchemaObject, TableFingerprint } from '../../src/verify/fingerprint/index.js'
import { normaliseDefinition, unqualify } from '../../src/verify/fingerprint/normalise.js'

function object(
  kind: SchemaObject['kind'],
  name: string,
  definition = '',
  extra: Partial<SchemaObject> = {}
): SchemaObject {
  return { kind, name, definition, owner: null, acl: null, ...extra }
}

function fingerprint(overrides: Partial<Fingerprint> = {}): Fingerprint {
  return {
    serverVersion: '14.23',
    takenAt: '2026-01-01T00:00:00.000Z',
    level: 'full',
    inventory: [
      object('schema', 'app', '', { owner: 'postgres' }),
      object('table', 'app.orders', 'ordinary', {
        owner: 'postgres',
        acl: '{postgres=arwdDxt/postgres,reader=r/postgres}'
      }),
      object('column', 'app.orders.id', 'integer not null'),
      object('index', 'app.orders_pkey', 'CREATE UNIQUE INDEX orders_pkey ON app.orders USING btree (id)'),
      object('extension', 'citext', 'schema public', { version: '1.6' })
    ],
    tables: [
      { schema: 'app', name: 'orders', rows: 3, checksum: '123', hash: 'record-by-name', primaryKey: ['id'] },
      { schema: 'app', name: 'log', rows: 2, checksum: '-77', hash: 'text-by-name', primaryKey: [] }
    ],
    sequences: [{ schema: 'app', name: 'orders_id_seq', lastValue: '3', isCalled: true, increment: '1' }],
    largeObjects: { count: 1, checksum: '42' },
    queries: [{ sql: 'SELECT count(*) FROM app.orders', columns: ['count'], rowCount: 1, checksum: '99' }],
    ...overrides
  }
}

const source = fingerprint()

/** The target as a restore with --no-owner --no-acl leaves it: another owner, no grants. */
function restored(overrides: Partial<Fingerprint> = {}): Fingerprint {
  return fingerprint({
    serverVersion: '17.10',
    inventory: source.inventory.map((item) => (item.owner ? { ...item, owner: 'admin', acl: null } : item)),
    ...overrides
  })
}

function kinds(differences: Difference[]): [string, string, boolean][] {
  return differences.map((difference) => [difference.kind, difference.object, difference.expected])
}

describe('compareFingerprints', () => {
  test('a faithful copy passes; lost owners and grants are expected when privileges are skipped', () => {
    const comparison = compareFingerprints(source, restored(), { privileges: 'skip' })
    expect(comparison.passed).toBe(true)
    expect(kinds(comparison.differences)).toEqual([
      ['owner', 'schema app', true],
      ['owner', 'table app.orders', true],
      ['privileges', 'table app.orders', true]
    ])
    expect(comparison.differences[2]).toEqual({
      kind: 'privileges',
      object: 'table app.orders',
      source: '{postgres=arwdDxt/postgres,reader=r/postgres}',
      target: null,
      expected: true,
      detail: 'table app.orders has other privileges (grants are not restored with privileges: skip)'
    })
  })

  test('the same owners and grants fail when privileges are kept', () => {
    const comparison = compareFingerprints(source, restored(), { privileges: 'keep' })
    expect(comparison.passed).toBe(false)
    expect(kinds(comparison.differences)).toEqual([
      ['owner', 'schema app', false],
      ['owner', 'table app.orders', false],
      ['privileges', 'table app.orders', false]
    ])
  })

  test('identical fingerprints have no differences at all', () => {
    expect(compareFingerprints(source, fingerprint(), { privileges: 'keep' })).toEqual({
      passed: true,
      differences: []
    })
  })

  test('missing, extra and changed objects fail, sorted by kind then object; a missing table is reported once', () => {
    const target = fingerprint({
      inventory: [
        object('schema', 'app', '', { owner: 'postgres' }),
        object('column', 'app.orders.id', 'bigint not null'),
        object('index', 'app.orders_placed_idx', 'CREATE INDEX orders_placed_idx ON app.orders USING btree (placed)'),
        object('extension', 'citext', 'schema public', { version: '1.6' })
      ],
      tables: [{ schema: 'app', name: 'log', rows: 2, checksum: '-77', hash: 'text-by-name', primaryKey: [] }]
    })
    const comparison = compareFingerprints(source, target, { privileges: 'skip' })
    expect(comparison.passed).toBe(false)
    expect(kinds(comparison.differences)).toEqual([
      ['missing', 'index app.orders_pkey', false],
      ['missing', 'table app.orders', false],
      ['extra', 'index app.orders_placed_idx', false],
      ['definition', 'column app.orders.id', false]
    ])
    expect(comparison.differences[3]).toMatchObject({
      source: 'integer not null',
      target: 'bigint not null'
    })
  })

  test('another extension version, or an extension only the target has, is a note, not a failure', () => {
    const target = restored({
      inventory: [
        ...restored().inventory.filter((item) => item.kind !== 'extension'),
        object('extension', 'citext', 'schema public', { version: '1.8' }),
        object('extension', 'pg_stat_statements', 'schema public', { version: '1.11' })
      ]
    })
    const comparison = compareFingerprints(source, target, { privileges: 'skip' })
    expect(comparison.passed).toBe(true)
    expect(comparison.differences).toContainEqual({
      kind: 'definition',
      object: 'extension citext',
      source: '1.6',
      target: '1.8',
      expected: true,
      detail:
        "extension citext is at version 1.8 on the target, 1.6 on the source: a restore creates the target's default version"
    })
    expect(comparison.differences).toContainEqual(
      expect.objectContaining({ kind: 'extra', object: 'extension pg_stat_statements', expected: true })
    )
  })

  test('row counts and checksums: a count difference says by how much; the table is named for row location', () => {
    const target = restored({
      tables: [
        { schema: 'app', name: 'orders', rows: 3, checksum: '124', hash: 'record-by-name', primaryKey: ['id'] },
        { schema: 'app', name: 'log', rows: 3, checksum: '-70', hash: 'text-by-name', primaryKey: [] }
      ]
    })
    const unexpected = compareFingerprints(source, target, { privileges: 'skip' }).differences.filter(
      (d) => !d.expected
    )
    expect(unexpected).toEqual([
      {
        kind: 'rows',
        object: 'app.log',
        source: 2,
        target: 3,
        expected: false,
        detail: '2 rows on the source, 3 on the target (+1)',
        table: { schema: 'app', name: 'log' }
      },
      {
        kind: 'checksum',
        object: 'app.orders',
        source: '123',
        target: '124',
        expected: false,
        detail: 'the same 3 rows on both sides, but some hold other values',
        table: { schema: 'app', name: 'orders' }
      }
    ])
  })

  test('at level counts a checksum is not compared', () => {
    const target = restored({
      level: 'counts',
      tables: source.tables.map((table) => ({ ...table, checksum: null })),
      largeObjects: { count: 1, checksum: null }
    })
    expect(compareFingerprints(source, target, { privileges: 'skip' }).passed).toBe(true)
  })

  test('names that need quotes are quoted', () => {
    const weird: TableFingerprint = {
      schema: 'Mixed Case',
      name: 'Weird "Name"',
      rows: 1,
      checksum: '1',
      hash: 'text-by-name',
      primaryKey: []
    }
    const comparison = compareFingerprints(
      fingerprint({ tables: [weird] }),
      fingerprint({ tables: [{ ...weird, rows: 0, checksum: '0' }] }),
      { privileges: 'skip' }
    )
    expect(kinds(comparison.differences)).toEqual([['rows', '"Mixed Case"."Weird ""Name"""', false]])
  })

  describe('sequences', () => {
    const at = (lastValue: string, isCalled = true, increment = '1') => [
      { schema: 'app', name: 'orders_id_seq', lastValue, isCalled, increment }
    ]

    test('any move fails when the source was not taken in a snapshot', () => {
      const comparison = compareFingerprints(source, restored({ sequences: at('5') }), { privileges: 'skip' })
      expect(comparison.passed).toBe(false)
      expect(comparison.differences.find((d) => d.kind === 'sequence')).toEqual({
        kind: 'sequence',
        object: 'app.orders_id_seq',
        source: '3',
        target: '5',
        expected: false,
        detail: 'sequence app.orders_id_seq is at 5 on the target, 3 on the source'
      })
    })

    const restoredFromDump = { privileges: 'skip', restoredFromSnapshot: true } as const

    test('validate compares two live databases: a sequence ahead on the target is a difference', () => {
      const inSnapshot = fingerprint({ snapshot: '00000003-00000002-1' })
      expect(compareFingerprints(inSnapshot, restored({ sequences: at('5') }), { privileges: 'skip' }).passed).toBe(
        false
      )
    })

    test('inside a snapshot, a target ahead is expected (sequences move on during the dump), behind is not', () => {
      const inSnapshot = fingerprint({ snapshot: '00000003-00000002-1' })
      expect(compareFingerprints(inSnapshot, restored({ sequences: at('5') }), restoredFromDump).passed).toBe(true)
      expect(compareFingerprints(inSnapshot, restored({ sequences: at('2') }), restoredFromDump).passed).toBe(false)
      // (3, called) hands out 4 next; (4, not called) hands out 4 too, (3, not called) 3, which was used.
      expect(compareFingerprints(inSnapshot, restored({ sequences: at('4', false) }), restoredFromDump).passed).toBe(
        true
      )
      expect(compareFingerprints(inSnapshot, restored({ sequences: at('3', false) }), restoredFromDump).passed).toBe(
        false
      )
    })

    test('a descending sequence is ahead when it is lower', () => {
      const inSnapshot = fingerprint({ snapshot: 'x', sequences: at('-10', true, '-1') })
      expect(
        compareFingerprints(inSnapshot, restored({ sequences: at('-12', true, '-1') }), restoredFromDump).passed
      ).toBe(true)
      expect(
        compareFingerprints(inSnapshot, restored({ sequences: at('-9', true, '-1') }), restoredFromDump).passed
      ).toBe(false)
    })
  })

  test('large objects: count first, then content', () => {
    const byCount = compareFingerprints(source, restored({ largeObjects: { count: 0, checksum: '0' } }), {
      privileges: 'skip'
    })
    expect(byCount.differences.filter((d) => d.kind === 'large-objects')).toEqual([
      expect.objectContaining({
        object: 'large objects',
        source: 1,
        target: 0,
        detail: '1 large object on the source, 0 on the target'
      })
    ])
    const byContent = compareFingerprints(source, restored({ largeObjects: { count: 1, checksum: '43' } }), {
      privileges: 'skip'
    })
    expect(byContent.passed).toBe(false)
  })

  test.each([
    [
      { error: 'relation "app.orders" does not exist', columns: [], rowCount: 0, checksum: '0' },
      'the query failed on the target: relation "app.orders" does not exist'
    ],
    [{ columns: ['n'] }, 'other columns: (count) on the source, (n) on the target'],
    [{ rowCount: 2 }, '1 rows on the source, 2 on the target'],
    [{ checksum: '100' }, 'the same 1 rows on both sides, but other values']
  ])('a validation query that differs fails: %j', (change, detail) => {
    const sql = source.queries[0].sql
    const comparison = compareFingerprints(source, restored({ queries: [{ ...source.queries[0], ...change }] }), {
      privileges: 'skip'
    })
    expect(comparison.passed).toBe(false)
    expect(comparison.differences[0]).toMatchObject({ kind: 'query', object: sql, detail, expected: false })
  })

  test('a validation query that fails on both sides fails too: it checked nothing', () => {
    const broken = {
      sql: 'SELECT nope',
      columns: [],
      rowCount: 0,
      checksum: '0',
      error: 'column "nope" does not exist'
    }
    const comparison = compareFingerprints(fingerprint({ queries: [broken] }), restored({ queries: [broken] }), {
      privileges: 'skip'
    })
    expect(comparison.differences[0]).toMatchObject({
      kind: 'query',
      detail: 'the query failed on both sides: column "nope" does not exist',
      source: 'error: column "nope" does not exist'
    })
  })

  test('unexpected differences come first, then kinds in report order, then objects', () => {
    const target = restored({
      inventory: restored().inventory.filter((item) => item.name !== 'app.orders_pkey'),
      tables: [
        { schema: 'app', name: 'orders', rows: 4, checksum: '1', hash: 'record-by-name', primaryKey: ['id'] },
        { schema: 'app', name: 'log', rows: 2, checksum: '0', hash: 'text-by-name', primaryKey: [] }
      ],
      sequences: [{ schema: 'app', name: 'orders_id_seq', lastValue: '4', isCalled: true, increment: '1' }]
    })
    expect(kinds(compareFingerprints(source, target, { privileges: 'skip' }).differences)).toEqual([
      ['missing', 'index app.orders_pkey', false],
      ['rows', 'app.orders', false],
      ['checksum', 'app.log', false],
      ['sequence', 'app.orders_id_seq', false],
      ['owner', 'schema app', true],
      ['owner', 'table app.orders', true],
      ['privileges', 'table app.orders', true]
    ])
  })

  test('a comparison is plain data: it survives JSON unchanged', () => {
    const comparison = compareFingerprints(source, restored({ largeObjects: { count: 2, checksum: '1' } }), {
      privileges: 'skip'
    })
    expect(JSON.parse(JSON.stringify(comparison))).toEqual(comparison)
  })
})

// The text normalisation 14 and 17 need beyond whitespace (see normalise.ts): 16 stopped
// qualifying columns of single-relation queries in view definitions.
describe('unqualify', () => {
  test.each([
    [
      'SELECT orders.placed, count(*) AS orders FROM app.orders GROUP BY orders.placed',
      'SELECT placed, count(*) AS orders FROM orders GROUP BY placed'
    ],
    ['SELECT c.*, x.n FROM app.customers c', 'SELECT *, n FROM customers c'],
    [`SELECT "M C"."T"."Col", 'a.b' FROM "M C"."T"`, `SELECT "Col", 'a.b' FROM "T"`],
    [
      `SELECT 'it''s x.y', "x.y" FROM t WHERE e.mood <> 'sad'::app.mood`,
      `SELECT 'it''s x.y', "x.y" FROM t WHERE mood <> 'sad'::mood`
    ],
    ['SELECT (a OPERATOR(public.~) 1.5) FROM zoë.été', 'SELECT (a OPERATOR(public.~) 1.5) FROM été']
  ])('%s', (qualified, plain) => {
    expect(unqualify(qualified)).toBe(plain)
  })
})

describe('partitions', () => {
  const leaf = (name: string, rows: number, checksum: string | null): TableFingerprint => ({
    schema: 'app',
    name,
    rows,
    checksum,
    hash: 'record-by-name',
    primaryKey: ['color', 'id'],
    partitionRoot: { schema: 'app', name: 'by_color' }
  })
  const before = fingerprint({ tables: [leaf('by_color_0', 300, '10'), leaf('by_color_1', 200, '5')] })

  test('rows moved between partitions are expected when the tree holds the same rows', () => {
    const after = fingerprint({ tables: [leaf('by_color_0', 200, '7'), leaf('by_color_1', 300, '8')] })
    const comparison = compareFingerprints(before, after, { privileges: 'skip' })
    expect(comparison.passed).toBe(true)
    expect(comparison.differences.map((d) => [d.object, d.expected, d.detail])).toEqual([
      [
        'app.by_color_0',
        true,
        '300 rows on the source, 200 on the target (-100); the rows moved between partitions of app.by_color, which holds the same rows on both sides'
      ],
      [
        'app.by_color_1',
        true,
        '200 rows on the source, 300 on the target (+100); the rows moved between partitions of app.by_color, which holds the same rows on both sides'
      ]
    ])
  })

  test('a tree whose total differs fails; without checksums equal counts are all the evidence', () => {
    const changed = fingerprint({ tables: [leaf('by_color_0', 200, '7'), leaf('by_color_1', 300, '9')] })
    expect(compareFingerprints(before, changed, { privileges: 'skip' }).passed).toBe(false)
    const counted = (tables: TableFingerprint[]): Fingerprint =>
      fingerprint({ level: 'counts', tables: tables.map((table) => ({ ...table, checksum: null })) })
    const moved = counted([leaf('by_color_0', 200, null), leaf('by_color_1', 300, null)])
    expect(compareFingerprints(before, moved, { privileges: 'skip' }).passed).toBe(true)
    const lost = counted([leaf('by_color_0', 200, null), leaf('by_color_1', 299, null)])
    expect(compareFingerprints(before, lost, { privileges: 'skip' }).passed).toBe(false)
  })
})

describe('privileges kept across 14 → 17', () => {
  // Fingerprints hold effective ACLs: a NULL ACL is read as acldefault(type, owner), so an explicit
  // default and none are the same text before compareFingerprints sees them (see the integration test).
  const kept = (inventory: SchemaObject[]): Fingerprint => fingerprint({ serverVersion: '17.10', inventory })

  test("an owner's full privileges are equal although 17 adds MAINTAIN (m)", () => {
    const target = kept(
      source.inventory.map((item) =>
        item.acl ? { ...item, acl: '{postgres=arwdDxtm/postgres,reader=r/postgres}' } : item
      )
    )
    expect(compareFingerprints(source, target, { privileges: 'keep' }).differences).toEqual([])
  })

  test('a grant that really differs is still found', () => {
    const target = kept(
      source.inventory.map((item) => (item.acl ? { ...item, acl: '{postgres=arwdDxtm/postgres}' } : item))
    )
    expect(kinds(compareFingerprints(source, target, { privileges: 'keep' }).differences)).toEqual([
      ['privileges', 'table app.orders', false]
    ])
  })

  test('schema public owned by pg_database_owner on 17 is the expected PostgreSQL 15 change', () => {
    const withPublic = fingerprint({
      inventory: [object('schema', 'public', '', { owner: 'postgres', acl: '{postgres=UC/postgres,=UC/postgres}' })]
    })
    const target = kept([
      object('schema', 'public', '', {
        owner: 'pg_database_owner',
        acl: '{pg_database_owner=UC/pg_database_owner,=UC/pg_database_owner}'
      })
    ])
    expect(kinds(compareFingerprints(withPublic, target, { privileges: 'keep' }).differences)).toEqual([
      ['owner', 'schema public', true]
    ])
    const revoked = kept([
      object('schema', 'public', '', {
        owner: 'pg_database_owner',
        acl: '{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}'
      })
    ])
    expect(kinds(compareFingerprints(withPublic, revoked, { privileges: 'keep' }).differences)).toContainEqual([
      'privileges',
      'schema public',
      false
    ])
  })
})

describe('privileges: MAINTAIN, item order', () => {
  const withAcl = (serverVersion: string, acl: string): Fingerprint =>
    fingerprint({ serverVersion, inventory: [object('table', 'app.t', 'ordinary', { owner: 'postgres', acl })] })

  test('MAINTAIN is set aside only when one side is older than 17; between two 17s it counts', () => {
    const full14 = withAcl('14.23', '{postgres=arwdDxt/postgres,reader=r*w*a*d*D*x*t*/postgres}')
    const full17 = withAcl('17.10', '{postgres=arwdDxtm/postgres,reader=r*w*a*d*D*x*t*m*/postgres}')
    expect(compareFingerprints(full14, full17, { privileges: 'keep' }).differences).toEqual([])
    const without17 = withAcl('17.10', '{postgres=arwdDxt/postgres,reader=r*w*a*d*D*x*t*/postgres}')
    expect(kinds(compareFingerprints(without17, full17, { privileges: 'keep' }).differences)).toEqual([
      ['privileges', 'table app.t', false]
    ])
  })

  test('the order of ACL items means nothing', () => {
    const one = withAcl('17.10', '{postgres=arwdDxtm/postgres,=r/postgres,reader=r/postgres}')
    const other = withAcl('17.10', '{reader=r/postgres,=r/postgres,postgres=arwdDxtm/postgres}')
    expect(compareFingerprints(one, other, { privileges: 'keep' }).differences).toEqual([])
  })

  test('schema public keeps its own rules on a 14 target: no pg_database_owner there', () => {
    const publicOf = (serverVersion: string, owner: string) =>
      fingerprint({ serverVersion, inventory: [object('schema', 'public', '', { owner })] })
    expect(
      kinds(
        compareFingerprints(publicOf('14.23', 'postgres'), publicOf('14.23', 'app'), { privileges: 'keep' }).differences
      )
    ).toEqual([['owner', 'schema public', false]])
  })
})

describe('column order', () => {
  const table = (name: string, columns: string[], parents?: string[]): SchemaObject =>
    object('table', name, parents ? `ordinary inherits ${parents.join(', ')}` : 'ordinary', {
      columns,
      ...(parents ? { parents } : {})
    })
  const at = (serverVersion: string, tables: SchemaObject[]): Fingerprint =>
    fingerprint({ serverVersion, inventory: tables, tables: [] })
  // The parent got column c after the child existed: on the source the child has it last.
  const source14 = at('14.23', [
    table('app.parent', ['a', 'b', 'c']),
    table('app.child', ['a', 'b', 'x', 'c'], ['app.parent'])
  ])

  test("an inheritance child laid out as pg_dump recreates it (parents' columns first) is expected", () => {
    const target = at('17.10', [
      table('app.parent', ['a', 'b', 'c']),
      table('app.child', ['a', 'b', 'c', 'x'], ['app.parent'])
    ])
    const comparison = compareFingerprints(source14, target, { privileges: 'keep' })
    expect(comparison.passed).toBe(true)
    expect(comparison.differences).toEqual([
      {
        kind: 'column-order',
        object: 'table app.child',
        source: 'a, b, x, c',
        target: 'a, b, c, x',
        expected: true,
        detail:
          "table app.child has its columns in another order: pg_dump recreates an inheritance child with its parents' columns first; positional INSERT … VALUES and SELECT * see the new order"
      }
    ])
  })

  test('with several parents, each parent in turn, a column both have once', () => {
    const source = at('14.23', [
      table('app.p1', ['a', 'b']),
      table('app.p2', ['b', 'c']),
      table('app.child', ['own', 'c', 'b', 'a'], ['app.p1', 'app.p2'])
    ])
    const target = at('17.10', [
      table('app.p1', ['a', 'b']),
      table('app.p2', ['b', 'c']),
      table('app.child', ['a', 'b', 'c', 'own'], ['app.p1', 'app.p2'])
    ])
    expect(kinds(compareFingerprints(source, target, { privileges: 'keep' }).differences)).toEqual([
      ['column-order', 'table app.child', true]
    ])
  })

  test('any other order fails: a table without parents, or a child laid out otherwise', () => {
    const source = at('14.23', [table('app.plain', ['a', 'b'])])
    const target = at('17.10', [table('app.plain', ['b', 'a'])])
    expect(kinds(compareFingerprints(source, target, { privileges: 'keep' }).differences)).toEqual([
      ['column-order', 'table app.plain', false]
    ])
    const shuffled = at('17.10', [
      table('app.parent', ['a', 'b', 'c']),
      table('app.child', ['x', 'a', 'b', 'c'], ['app.parent'])
    ])
    expect(kinds(compareFingerprints(source14, shuffled, { privileges: 'keep' }).differences)).toEqual([
      ['column-order', 'table app.child', false]
    ])
  })

  test('a missing column is reported once, as missing, not as an order too', () => {
    const source = at('14.23', [table('app.t', ['a', 'b', 'c']), object('column', 'app.t.b', 'integer')])
    const target = at('17.10', [table('app.t', ['a', 'c'])])
    expect(kinds(compareFingerprints(source, target, { privileges: 'keep' }).differences)).toEqual([
      ['missing', 'column app.t.b', false]
    ])
  })
})

describe('definitions across versions', () => {
  test("a range's multirange (14+) is compared only when both sides have one", () => {
    const range = (serverVersion: string, definition: string) =>
      fingerprint({ serverVersion, inventory: [object('type', 'app.floatrange', definition)] })
    const on13 = range('13.23', 'range of double precision opclass float8_ops subdiff float8mi')
    const on17 = range(
      '17.10',
      'range of double precision opclass float8_ops subdiff float8mi multirange app.floatmultirange'
    )
    expect(compareFingerprints(on13, on17, { privileges: 'keep' }).differences).toEqual([])
    const other17 = range('17.10', 'range of double precision opclass float8_ops subdiff float8mi multirange app.other')
    expect(kinds(compareFingerprints(on17, other17, { privileges: 'keep' }).differences)).toEqual([
      ['definition', 'type app.floatrange', false]
    ])
  })

  test('checksums of another method are not read as other values', () => {
    const legacy = fingerprint({
      tables: source.tables.map((table) => ({ ...table, hash: 'record' as unknown as TableFingerprint['hash'] }))
    })
    const target = restored({ tables: source.tables.map((table) => ({ ...table, checksum: '5' })) })
    const detail = compareFingerprints(legacy, target, { privileges: 'skip' }).differences.find(
      (d) => d.kind === 'checksum' && d.object === 'app.orders'
    )?.detail
    expect(detail).toBe(
      'the same 3 rows on both sides; their checksums were computed differently (record and record-by-name) and cannot be compared'
    )
  })
})

// What the fingerprint does to every definition before it is compared (see normalise.ts).
describe('normaliseDefinition', () => {
  test.each([
    // 17 quotes words that became keywords in 16 and 17; 14 prints them bare.
    ['CHECK (("json" IS NOT NULL))', 'CHECK ((json IS NOT NULL))'],
    ['SELECT "system_user", "Mixed", "two words", "a""b"', 'SELECT system_user, "Mixed", "two words", "a""b"'],
    // Layout is not meaning; a literal is a value, blanks and all.
    ['SELECT a,\n    b   FROM t', 'SELECT a, b FROM t'],
    [`SELECT 'x  "json"\n  NO INDENT)' AS "v"`, `SELECT 'x  "json"\n  NO INDENT)' AS v`],
    // 16 prints XMLSERIALIZE's default, NO INDENT, where 15 printed nothing.
    [
      "SELECT XMLSERIALIZE(CONTENT 'good'::xml AS text NO INDENT) AS xmlserialize;",
      "SELECT XMLSERIALIZE(CONTENT 'good'::xml AS text) AS xmlserialize;"
    ],
    ['SELECT XMLSERIALIZE(CONTENT x AS text INDENT)', 'SELECT XMLSERIALIZE(CONTENT x AS text INDENT)']
  ])('%s', (printed, normalised) => {
    expect(normaliseDefinition(printed)).toBe(normalised)
  })

  test("14 prints IN for a procedure's arguments; 13 did not, and functions never do", () => {
    const on17 = "(IN a integer, IN b text DEFAULT ', IN x', INOUT c integer) language sql"
    expect(normaliseDefinition(on17, 'procedure')).toBe(
      "(a integer, b text DEFAULT ', IN x', INOUT c integer) language sql"
    )
    expect(normaliseDefinition('(a integer, IN_b text)', 'procedure')).toBe('(a integer, IN_b text)')
    expect(normaliseDefinition(on17, 'function')).toBe(on17)
    // 17 quotes an argument named json; 14 does not: the IN before a quoted name goes too.
    expect(normaliseDefinition('(IN "json" jsonb, IN "Odd" text)', 'procedure')).toBe(
      normaliseDefinition('(IN json jsonb, "Odd" text)', 'procedure')
    )
  })
})

describe('definitions printed differently, judged by what the target made of the source text', () => {
  const check = (definition: string): SchemaObject => object('constraint', 'app.orders.orders_status_check', definition)
  const before = fingerprint({ inventory: [check("CHECK ((status)::text = ANY ((ARRAY['a'::varchar])::text[]))")] })
  const after = fingerprint({ inventory: [check("CHECK ((status)::text = ANY (ARRAY[('a'::varchar)::text]))")] })
  const object17 = 'constraint app.orders.orders_status_check'
  const judged = (verdict: ReparseVerdict) =>
    compareFingerprints(before, after, { privileges: 'keep', reparsed: new Map([[object17, verdict]]) })

  test('parsed into what the target holds: no difference', () => {
    expect(judged({ outcome: 'same' }).differences).toEqual([])
  })

  test('from a printer known to lose what it prints: expected, with both texts', () => {
    const [difference] = judged({ outcome: 'same', lossy: 'the source prints a name without its quotes' }).differences
    expect(difference).toMatchObject({ kind: 'definition', expected: true, source: before.inventory[0].definition })
    expect(difference.detail).toContain('the source prints a name without its quotes')
  })

  test('parsed into something else, or not parsed at all: a difference that says which', () => {
    const other = judged({ outcome: 'different', reparsed: "CHECK (status = 'b')" }).differences
    expect(other).toEqual([expect.objectContaining({ expected: false })])
    expect(other[0].detail).toContain(`the target parses the source's text into CHECK (status = 'b')`)
    const unchecked = judged({ outcome: 'unchecked', reason: 'relation does not exist' }).differences
    expect(unchecked[0].detail).toContain('not checked by parsing the source')
    expect(compareFingerprints(before, after, { privileges: 'keep' }).passed).toBe(false)
  })
})
