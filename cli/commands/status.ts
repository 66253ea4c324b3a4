import { positional, waitFlags, type WaitFlags } from '../args.js'
import type { Context } from '../context.js'
import { formatElapsed } from '../duration.js'
import { elapsedMs, stateLabel, taskCounts } from '../progress.js'
import type { Run } from '../types.js'
import { followRun, logPrinter } from './follow.js'
import type { CommandModule } from './index.js'

interface StatusOptions extends WaitFlags { job: string, run: string, timestamps: boolean }

/** A run, one field per line, for people. */
export function runDetails (run: Run, now: number): string {
  const rows: Array<[string, string | undefined]> = [
    ['run', run.name],
    ['job', run.job],
    ['state', stateLabel(run)],
    ['tasks', taskCounts(run)],
    ['retried', run.retriedCount > 0 ? `${run.retriedCount} task${run.retriedCount === 1 ? '' : 's'} (jobgate tasks ${run.job} ${run.name})` : undefined],
    ['elapsed', formatElapsed(elapsedMs(run, now, now))],
    ['created', run.createTime],
    ['started', run.startTime],
    ['completed', run.completionTime],
    ['message', run.message],
    ['logs', run.logUri]
  ]
  return rows.filter(([, value]) => value !== undefined && value !== '').map(([label, value]) => `${label.padEnd(10)} ${value ?? ''}`).join('\n')
}

/** `jobgate status`: show a run, or with --wait follow it to its end (how one resumes waiting). */
async function statusCommand (options: StatusOptions, ctx: Context): Promise<number> {
  const run = await ctx.client.getRun(options.job, options.run, { signal: ctx.signal })
  if (!options.wait) {
    ctx.terminal.out(ctx.json ? JSON.stringify(run, null, 2) : runDetails(run, ctx.now()))
    return 0
  }
  const printEntry = options.logs ? logPrinter(ctx, options) : undefined
  const result = await followRun(ctx, { job: options.job, run, printEntry, progress: true, waitTimeoutSeconds: options.waitTimeoutSeconds })
  if (ctx.json) ctx.terminal.out(JSON.stringify(result.run, null, 2))
  return result.code
}

export const command: CommandModule<StatusOptions> = {
  prepare: input => ({ ...waitFlags(input), job: positional(input, 'job'), run: positional(input, 'run'), timestamps: input.values.timestamps === true }),
  execute: statusCommand
}
