/**
 * Where the action's lines go: the workflow log on a runner, a recorder in tests. Passed down, never
 * imported, so two runs in one process (tests) keep their lines apart.
 */
export interface Log {
  debug(message: string): void
  info(message: string): void
  warning(message: string): void
  error(message: string): void
  /** Hides a secret in everything logged from now on. */
  mask(secret: string): void
}
