import type { CommandInput } from '../args.js'
import type { CommandName } from '../command-table.js'
import type { Context } from '../context.js'

/** What each cli/commands/<name>.ts exports as `command`. */
export interface CommandModule<Prepared> {
  /** Reads the values the table cannot check (numbers, durations, combinations); throws UsageError before anything is sent. */
  prepare (input: CommandInput): Prepared
  /** Does the work; resolves with the exit code. */
  execute (prepared: Prepared, ctx: Context): Promise<number>
}

/** Each command's module, loaded when it runs, so `--version` and `--help` load almost nothing. */
export const commandModules: Record<CommandName, () => Promise<CommandModule<unknown>>> = {
  run: async () => (await import('./run.js')).command,
  batch: async () => (await import('./batch.js')).command,
  status: async () => (await import('./status.js')).command,
  logs: async () => (await import('./logs.js')).command,
  tasks: async () => (await import('./tasks.js')).command,
  runs: async () => (await import('./runs.js')).command,
  cancel: async () => (await import('./cancel.js')).command,
  events: async () => (await import('./events.js')).command,
  jobs: async () => (await import('./jobs.js')).command
}
