import { positional } from '../args.js'
import type { Context } from '../context.js'
import { formatLogEntry, LogFollower } from '../logs.js'
import type { LogEntry } from '../types.js'
import { followRun } from './follow.js'
import type { CommandModule } from './index.js'

interface LogsOptions { job: string, run: string, follow: boolean, timestamps: boolean }

/** `jobgate logs`: every entry once; with --follow, until the run ends (exit code as for --wait). */
async function logsCommand (options: LogsOptions, ctx: Context): Promise<number> {
  const print = (entry: LogEntry): void => ctx.terminal.out(ctx.json ? JSON.stringify(entry) : formatLogEntry(entry, options))
  if (!options.follow) {
    await new LogFollower(ctx.client, options.job, options.run, print).drain(ctx.signal)
    return 0
  }
  const run = await ctx.client.getRun(options.job, options.run, { signal: ctx.signal })
  const result = await followRun(ctx, { job: options.job, run, printEntry: print, progress: false, waitTimeoutSeconds: undefined })
  return result.code
}

export const command: CommandModule<LogsOptions> = {
  prepare: input => ({ job: positional(input, 'job'), run: positional(input, 'run'), follow: input.values.follow === true, timestamps: input.values.timestamps === true }),
  execute: logsCommand
}
