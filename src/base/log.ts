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

/**
 * A line for the workflow log that the runner cannot take for a workflow command, whatever names
 * from the database it holds: `%`, CR and LF encoded as @actions/core encodes a command's data (so
 * the message stays one line), and a leading `::` or `##[` broken. warning, error, debug and group
 * lines are commands whose data @actions/core already encodes; info lines are printed raw, so the
 * runner's sink passes them through this, and no call site can forget it.
 */
export function escapeWorkflowCommands(message: string): string {
  return message
    .replace(/%/g, '%25')
    .replace(/\r/g, '%0D')
    .replace(/\n/g, '%0A')
    .replace(/^(\s*)(:(?=:)|#(?=#\[))/, (_, space: string, mark: string) => `${space}${mark === ':' ? '%3A' : '%23'}`)
}
