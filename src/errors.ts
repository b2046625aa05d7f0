/**
 * An error the user can act on: `message` says what is wrong, `hint` what to do. main.ts prints
 * both and fails the step; stacks only go to the debug log.
 */
export class MigrationError extends Error {
  constructor(
    message: string,
    readonly hint?: string
  ) {
    super(message)
    this.name = new.target.name
  }
}

/** A bad input value. The message names the input. */
export class InputError extends MigrationError {}

/** The plan found something that would fail or lose data; nothing was written. */
export class PlanError extends MigrationError {}

/** Installing or running the PostgreSQL client failed. */
export class ClientError extends MigrationError {}

/** A stage that writes or reads data failed (dump, restore, artifact, verification). */
export class StageError extends MigrationError {
  constructor(
    readonly stage: string,
    message: string,
    hint?: string
  ) {
    super(message, hint)
  }
}
