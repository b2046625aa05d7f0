/**
 * What went wrong, as data: `kind` says which failure it is, so the action layer can word the fix in
 * terms of the inputs (src/action/hints.ts) while lower layers only describe the database, the
 * files and the tools. `hint` is advice that needs no input names (e.g. "rewrite the function").
 */
export type ErrorKind =
  // a bad input value; the message names the input and the hint says what to give
  | 'input'
  // connecting to a database (`input` names the URL input the endpoint came from)
  | 'unreachable'
  | 'connect-timeout'
  | 'authentication'
  | 'role-refused'
  | 'missing-database'
  | 'tls-unsupported'
  | 'tls-certificate'
  | 'connection'
  // the PostgreSQL client
  | 'client-download'
  | 'client-checksum'
  | 'client-wrong-build'
  | 'client-layout'
  | 'client-missing'
  | 'client-broken'
  | 'client-release-unknown'
  | 'client-platform'
  | 'client-too-old'
  | 'downgrade'
  // the dump and its folder
  | 'compression-unsupported'
  | 'disk-full'
  | 'dump-path-occupied'
  | 'dump-path-unwritable'
  | 'no-dump'
  | 'no-manifest'
  | 'dump-damaged'
  | 'dump-encrypted'
  | 'artifact-download'
  | 'artifact-upload'
  // running pg_dump / pg_restore and loading data
  | 'tool-failed'
  | 'partial-copy'
  // the role the restore runs as (pg/restore-role.ts)
  | 'restore-role'
  // verification
  | 'table-unreadable'
  | 'validation-query'
  // the plan
  | 'plan-blocked'
  // sync: logical (the target holds a partial copy when one of these ends the run)
  | 'sync-stream'
  | 'sync-apply'
  | 'sync-source-changed'
  | 'sync-lag'
  // Civo's API
  | 'civo-api-url'
  | 'civo-unreachable'
  | 'civo-key-refused'
  | 'civo-http'
  | 'civo-not-found'
  | 'civo-ambiguous'
  | 'civo-not-postgres'
  | 'civo-not-ready'
  | 'civo-no-address'
  | 'civo-no-login'
  | 'civo-version-unavailable'
  | 'civo-exists-other-major'
  | 'civo-create-timeout'
  | 'civo-firewall-refused'
  // the runner's public address, for the Civo firewall
  | 'runner-address'
  // the run was cancelled
  | 'cancelled'
  // anything else: the message is all there is
  | 'unexpected'

export interface ErrorDetails {
  hint?: string
  /** The input the failing value came from, e.g. `source-url`. */
  input?: string
  /** Facts a hint may need (a major version, a platform…). */
  facts?: Record<string, string | number>
}

/**
 * An error the user can act on: `message` says what is wrong (one line, never a password), `kind`
 * what sort of failure it is. `stage` is filled in by the stage it happened in.
 */
export class MigrationError extends Error {
  readonly kind: ErrorKind
  readonly hint?: string
  readonly input?: string
  readonly facts: Record<string, string | number>
  /** The stage the error happened in; set once, by the innermost stage. */
  stage?: string

  constructor(kind: ErrorKind, message: string, details: ErrorDetails = {}) {
    super(message)
    this.name = 'MigrationError'
    this.kind = kind
    this.hint = details.hint
    this.input = details.input
    this.facts = details.facts ?? {}
  }
}

/** The run was cancelled (the runner sends SIGINT, then SIGTERM): stages stop instead of failing on their own. */
export class CancelledError extends MigrationError {
  constructor(readonly signal: NodeJS.Signals) {
    super('cancelled', `the run was cancelled (${signal})`)
  }
}

/** Any thrown value as a MigrationError, so every failure has a kind and a message. */
export function asMigrationError(error: unknown): MigrationError {
  if (error instanceof MigrationError) return error
  const wrapped = new MigrationError('unexpected', error instanceof Error ? error.message : String(error))
  if (error instanceof Error && error.stack) wrapped.stack = error.stack
  return wrapped
}
