import type { CommandName } from './command-table.js'

/** A mistake in the command line or the local configuration: exit 2 with usage on stderr. */
export class UsageError extends Error {
  /** The command whose usage to print, when known. */
  readonly command: CommandName | undefined

  constructor (message: string, command?: CommandName) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}
