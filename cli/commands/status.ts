import type { Command } from '../args.js'
import type { Context } from '../context.js'
import { formatElapsed } from '../duration.js'
import { elapsedMs, taskCounts } from '../progress.js'
import type { Run } from '../types.js'
import { followRun, logPrinter } from './follow.js'

type StatusCommand = Extract<Command, { name: 'status' }>

/** A run, one field per line, for people. */
export function runDetails (run: Run, now: number): string {
  const rows: Array<[string, string | undefined]> = [
    ['run', run.name],
    ['job', run.job],
    ['state', run.state],
    ['tasks', taskCounts(run)],
    ['elapsed', formatElapsed(elapsedMs(run, now, now))],
    ['created', run.createTime],
    ['started', run.startTime],
    ['completed', run.completionTime],
    ['logs', run.logUri]
  ]
  return rows.filter(([, value]) => value !== undefined && value !== '').map(([label, value]) => `${label.padEnd(10)} ${value ?? ''}`).join('\n')
}

/** `jobgate status`: show a run, or with --wait follow it to its end (how one resumes waiting). */
export async function statusCommand (command: StatusCommand, ctx: Context): Promise<number> {
  const run = await ctx.client.getRun(command.job, command.run, { signal: ctx.signal })
  if (!command.wait) {
    ctx.terminal.out(ctx.json ? JSON.stringify(run, null, 2) : runDetails(run, ctx.now()))
    return 0
  }
  const printEntry = command.logs ? logPrinter(ctx) : undefined
  const result = await followRun(ctx, { job: command.job, run, printEntry, progress: true, waitTimeoutSeconds: command.waitTimeoutSeconds })
  if (ctx.json) ctx.terminal.out(JSON.stringify(result.run, null, 2))
  return result.code
}
