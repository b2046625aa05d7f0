import { MigrationError } from '../base/errors.js'
import type { Inputs } from './inputs.js'
import type { ActionRunner } from './runner.js'

export const refused = (message: string, hint: string): MigrationError => new MigrationError('input', message, { hint })

/** Reads one runner's inputs: each helper names the input it checks in the line it refuses with. */
export class InputReader {
  constructor(private readonly runner: ActionRunner) {}

  text(name: Inputs): string {
    return this.runner.getInput(name).trim()
  }

  choice<T extends string>(name: Inputs, allowed: readonly T[], fallback: T): T {
    const value = this.text(name) || fallback
    if (!(allowed as readonly string[]).includes(value))
      throw refused(`${name} is "${value}"`, `use one of: ${allowed.join(', ')}`)
    return value as T
  }

  positiveInteger(name: Inputs): number | undefined {
    const raw = this.text(name)
    if (!raw) return undefined
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw refused(`${name} is "${raw}"`, 'give a whole number of at least 1')
    return Number(raw)
  }

  /** YAML 1.2 core booleans, as core.getBooleanInput reads them. */
  boolean(name: Inputs, fallback: boolean): boolean {
    const raw = this.text(name)
    if (!raw) return fallback
    if (['true', 'True', 'TRUE'].includes(raw)) return true
    if (['false', 'False', 'FALSE'].includes(raw)) return false
    throw refused(`${name} is "${raw}"`, 'use true or false')
  }

  secret(name: Inputs): string | undefined {
    const value = this.text(name)
    if (value) this.runner.log.mask(value)
    return value || undefined
  }
}
