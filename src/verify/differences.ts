/** In report order: what is lost first, what is only different in who may use it last. */
export const DIFFERENCE_KINDS = [
  'missing',
  'extra',
  'definition',
  'column-order',
  'rows',
  'checksum',
  'sequence',
  'large-objects',
  'query',
  'owner',
  'privileges'
] as const

export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number]

export type Value = string | number | boolean | null

export interface Difference {
  kind: DifferenceKind
  /**
   * What differs: a schema object as `<kind> <name>` (`index app.orders_pkey`; `table app.orders`
   * for its column order), a table's data or a sequence as its name (`app.orders`), `large
   * objects`, or a validation query's SQL.
   */
  object: string
  source?: Value
  target?: Value
  /**
   * True when the options or the versions explain the difference (owners and ACLs not kept, the
   * column order pg_dump gives an inheritance child…); it does not fail the run.
   */
  expected: boolean
  /** One sentence for people. */
  detail: string
  /** For `rows` and `checksum`: the table, to locate its differing rows. */
  table?: { schema: string; name: string }
}

export interface Comparison {
  /** No unexpected differences. */
  passed: boolean
  /** Unexpected first; then by kind in DIFFERENCE_KINDS order, then by object. */
  differences: Difference[]
}

export interface CompareOptions {
  /** `skip`: owners and ACLs were not restored (--no-owner --no-acl), so their differences are expected. */
  privileges: 'skip' | 'keep'
  /**
   * True when the target was restored from a dump of the source's snapshot: pg_dump reads sequences
   * outside it, so a target sequence ahead of the snapshot is expected. Two live databases compared
   * by validate must agree exactly.
   */
  restoredFromSnapshot?: boolean
  /**
   * The role the run restored as (pg/restore-role.ts): its grants on the target (CREATE on the
   * schemas it wrote to) are the run's, not the source's, and are left out of the comparison.
   */
  restoreRole?: string
  /**
   * For objects printed differently on the two sides: what the target made of the source's text
   * when it parsed it again (reparse.ts), by `<kind> <name>`. Without one, a difference stands.
   */
  reparsed?: ReadonlyMap<string, ReparseVerdict>
}

/** What parsing the source's text on the target said about one object whose printings differ. */
export type ReparseVerdict =
  /** The target parsed the source's text into exactly what it holds. `lossy`: the source's text may not say all the source held. */
  | { outcome: 'same'; lossy?: string }
  /** The target parsed the source's text into something else: a real difference. */
  | { outcome: 'different'; reparsed: string }
  /** Not checked (the target could not parse it, or refused the scratch transaction): why. */
  | { outcome: 'unchecked'; reason: string }
