import type { Command } from '../args.js'
import type { Context } from '../context.js'
import { formatLogEntry, LogFollower } from '../logs.js'
import type { LogEntry } from '../types.js'
import { followRun } from './follow.js'

type LogsCommand = Extract<Command, { name: 'logs' }>

/** `jobgate logs`: every entry once; with --follow, until the run ends (exit code as for --wait). */
export async function logsCommand (command: LogsCommand, ctx: Context): Promise<number> {
  const print = (entry: LogEntry): void => ctx.terminal.out(ctx.json ? JSON.stringify(entry) : formatLogEntry(entry))
  if (!command.follow) {
    await new LogFollower(ctx.client, command.job, command.run, print).drain(ctx.signal)
    return 0
  }
  const run = await ctx.client.getRun(command.job, command.run, { signal: ctx.signal })
  const result = await followRun(ctx, { job: command.job, run, printEntry: print, progress: false, waitTimeoutSeconds: undefined })
  return result.code
}
