import type pg from 'pg'
import type { ResolvedScope } from '../../scope/types.js'

/**
 * A fingerprint describes one database closely enough that two of them (a PostgreSQL 14 source and
 * the 17 target it was restored into) can be compared exactly. Plain data only: the JSON report and
 * the manifest carry fingerprints as they are.
 */

/** `full` checksums every row; `counts` only counts them (faster, finds lost rows but not changed ones). */
export type VerifyLevel = 'full' | 'counts'

/**
 * After each table: how many are done of how many, the table, its rows and bytes (its main fork),
 * and the bytes of every table this fingerprint reads.
 */
export type TablesProgress = (
  done: number,
  total: number,
  table: string,
  figures: { rows: number; bytes: number; totalBytes: number }
) => void

export interface FingerprintOptions {
  /** How closely table data is checked. */
  level: VerifyLevel
  /** Parallel connections for the table checksums; at least 1. */
  jobs: number
  /**
   * A `pg_export_snapshot()` id. Every connection imports it, so the fingerprint sees exactly what
   * the dump taken with `pg_dump --snapshot` saw. The exporting transaction must stay open meanwhile.
   */
  snapshot?: string
  /** The user's SQL, each run read-only on both sides; their results must match. */
  validationQueries: string[]
  /** Per validation query; a query that runs longer fails (and is reported, not thrown). Default 300000. */
  queryTimeoutMs?: number
  /** Called after each table's checksum, largest tables first. */
  onProgress?: TablesProgress
  /**
   * How each table was hashed on the other side (its fingerprint's tables): the same method is used
   * here, so the two checksums are comparable. Without it, the fastest portable method per table.
   */
  like?: TableFingerprint[]
  /** Force the text form for every table, e.g. when the other side cannot hash records (before 14). */
  textOnly?: boolean
  /**
   * Tables of this database read earlier in the run, whose rows have not changed since (the tables
   * a resumed run kept): taken as read instead of read again.
   */
  known?: TableFingerprint[]
  /**
   * Sequence states read earlier. Sequences are outside any snapshot: the source's must be read
   * before pg_dump reads them, so a restored sequence can only be at or ahead of them.
   */
  sequences?: SequenceFingerprint[]
  /**
   * The schema read moments ago in the same state (a sync's cutover checks it, the source idle), for
   * the whole database only: not read again.
   */
  inventory?: SchemaObject[]
  /**
   * Tables at least this big are split into one block range per session, so the biggest table does
   * not leave the other sessions idle at the end. Default 64 MiB; only on 14 and later (TID range scans).
   */
  splitMinBytes?: number
  /**
   * What moved, when filters were given: only that is read (tables whose rows did not move by
   * their schema alone), and the fingerprint records it, so the other side is read alike.
   */
  scope?: ResolvedScope
}

/**
 * How a table's rows were hashed. Both run over the columns in order of their names, never their
 * physical order: a restore may lay columns out in another order (pg_dump cannot keep it for
 * inheritance children), and that must not read as a change of data, nor can a value moved to
 * another column read as none.
 * `record-by-name`: hash_record_extended over the row (14+), for tables whose columns are all core
 * types whose hash functions are the same on every version (they back hash partitioning, which
 * pg_upgrade keeps).
 * `text-by-name`: a hash of the row's text form, for everything else (enums hash their OID, which a
 * restore changes; domains, composites, arrays and extension types are not vouched for).
 * `copy-text-by-name`: MurmurHash3 128 of each row's COPY text, computed by the runner
 * (copy-digest.ts): on the source as the streaming copy moves the rows, on the target as the
 * verify reads them back; for tables whose columns all print alike on every major.
 * Fingerprints written before the columns were ordered by name said `record` or `text`; they
 * cannot be compared with these (see compare.ts).
 */
export type RowHash = 'record-by-name' | 'text-by-name' | 'copy-text-by-name'

export type ObjectKind =
  | 'schema'
  | 'extension'
  | 'type'
  | 'table'
  | 'column'
  | 'constraint'
  | 'index'
  | 'sequence'
  | 'view'
  | 'materialized-view'
  | 'function'
  | 'procedure'
  | 'aggregate'
  | 'trigger'
  | 'policy'
  | 'rule'
  | 'statistics'

/** One catalog object, printed so that the same object prints the same on every version. */
export interface SchemaObject {
  kind: ObjectKind
  /**
   * Its identity, from the names as stored, never the server's quoting (which follows its keyword
   * list: 17 quotes a column named json, 14 does not): each part bare when it is a plain lower-case
   * word, keywords included, else double-quoted: `app.orders`, `app.orders.total`,
   * `app.add(integer, integer)` (argument types only). Objects a restore names anew are named
   * through what they derive from: `app.orders_2024 (from app.orders.orders_customer_fkey,
   * references app.customers)`.
   */
  name: string
  /** Normalised definition; two equal objects have equal definitions. */
  definition: string
  /** Owning role; null for objects that have none of their own (columns, indexes, constraints…). */
  owner: string | null
  /**
   * The effective ACL as `aclitem[]` text, items sorted: a NULL ACL is spelled out as the owner's
   * default for the object's type on its server, so an explicit default equals none. Null where
   * the effective ACL is empty (most columns) or the object has none.
   */
  acl: string | null
  /** Extensions only: pg_restore installs the target's default version, so this may differ. */
  version?: string
  /** Tables only: live column names in physical order. */
  columns?: string[]
  /** Inheritance children only (not partitions): their parents in inheritance order. */
  parents?: string[]
  /**
   * The server's deparsed text in the definition (a check, a default, an index, a view's query…),
   * as printed, for the target to parse again (verify/reparse.ts). Absent for other objects and in
   * fingerprints written before it was carried.
   */
  printed?: PrintedPieces
}

export interface PrintedPieces {
  /** pg_get_*def and pg_get_expr output, in the order they appear in the definition. */
  pieces: string[]
  /** The normalised definition with each piece replaced by a mark: what the pieces do not cover. */
  skeleton: string
  /** What parsing a piece again needs: the relation it belongs to, a column's name and type… */
  context: string[]
}

export interface TableFingerprint {
  schema: string
  name: string
  rows: number
  /**
   * Sum of 64-bit hashes of every row, as a decimal string (numeric: no overflow, and duplicate
   * rows count, where xor would cancel them). Null at level `counts`.
   */
  checksum: string | null
  /** How rows were hashed. */
  hash: RowHash
  /** Primary-key columns in key order; empty when the table has no primary key. */
  primaryKey: string[]
  /** For a partition: the partitioned table at the top of its tree. */
  partitionRoot?: { schema: string; name: string }
}

export interface SequenceFingerprint {
  schema: string
  name: string
  /** bigint as a decimal string: sequences may pass 2^53. */
  lastValue: string
  isCalled: boolean
  /** Which way the sequence moves, so a comparison can tell "moved on" from "went back". */
  increment: string
}

export interface LargeObjectsFingerprint {
  count: number
  /** Sum of hashes of (OID, md5 of content); pg_dump keeps large-object OIDs. Null at level `counts`. */
  checksum: string | null
  /** Sum of hashes of (OID, owner, effective ACL sorted); absent in fingerprints from before it was carried. */
  privileges?: string
}

export interface QueryFingerprint {
  sql: string
  /** Result column names in order. */
  columns: string[]
  rowCount: number
  /** Order-independent: sum of row hashes, as a decimal string. */
  checksum: string
  /** Set when the query failed; the other fields are empty then. */
  error?: string
}

export interface Fingerprint {
  /** `server_version`, e.g. `14.23`. */
  serverVersion: string
  /** ISO time the fingerprint was started. */
  takenAt: string
  /** The exported snapshot the fingerprint was taken in, if any. */
  snapshot?: string
  level: VerifyLevel
  inventory: SchemaObject[]
  tables: TableFingerprint[]
  sequences: SequenceFingerprint[]
  largeObjects: LargeObjectsFingerprint
  queries: QueryFingerprint[]
  /**
   * The database's own settings and comment; absent in fingerprints from before they were carried,
   * and when filters move only part of the database.
   */
  databaseSettings?: import('./settings-fingerprint.js').DatabaseSettingsFingerprint
  /** What this fingerprint covers, when filters were given; absent: the whole database. */
  scope?: ResolvedScope
}

/** Makes a new, connected client; the fingerprint ends it. */
export type Connect = () => Promise<pg.Client>
