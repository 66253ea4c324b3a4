import { positional, positiveInteger } from '../args.js'
import type { Context } from '../context.js'
import { formatElapsed } from '../duration.js'
import { formatTable, shortTime } from '../table.js'
import { stateLabel } from '../progress.js'
import type { Run } from '../types.js'
import type { CommandModule } from './index.js'

interface RunsOptions { job: string, limit: number }

/** `3/3`, or `1/3 (2 failed)`: tasks succeeded of the run's tasks, and what else happened to them. */
export function taskTally (run: Run): string {
  const others = ([['failed', run.failedCount], ['running', run.runningCount], ['cancelled', run.cancelledCount]] as const)
    .filter(([, count]) => count > 0).map(([what, count]) => `${count} ${what}`)
  return `${run.succeededCount}/${run.taskCount}${others.length > 0 ? ` (${others.join(', ')})` : ''}`
}

/** How long a run ran (or has run so far), from its start; '-' before it started. */
function runDuration (run: Run, now: number): string {
  const start = Date.parse(run.startTime ?? '')
  if (Number.isNaN(start)) return '-'
  const end = Date.parse(run.completionTime ?? '')
  return formatElapsed((Number.isNaN(end) ? now : end) - start)
}

export const runsTable = (runs: readonly Run[], now: number): string =>
  formatTable(['RUN', 'STATE', 'STARTED', 'DURATION', 'TASKS'],
    runs.map(run => [run.name, stateLabel(run), shortTime(run.startTime ?? run.createTime), runDuration(run, now), taskTally(run)]))

/** `jobgate runs`: a job's runs, newest first, up to --limit. */
async function runsCommand (options: RunsOptions, ctx: Context): Promise<number> {
  const runs: Run[] = []
  let pageToken: string | undefined
  do {
    const page = await ctx.client.listRuns(options.job, { pageSize: Math.min(100, options.limit - runs.length), pageToken }, ctx.signal)
    runs.push(...page.runs)
    pageToken = page.nextPageToken
  } while (pageToken !== undefined && runs.length < options.limit)
  const shown = runs.slice(0, options.limit)
  if (ctx.json) ctx.terminal.out(JSON.stringify(shown, null, 2))
  else if (shown.length === 0) ctx.terminal.err(`No runs of job ${options.job}.`)
  else ctx.terminal.out(runsTable(shown, ctx.now()))
  return 0
}

export const command: CommandModule<RunsOptions> = {
  prepare: input => ({ job: positional(input, 'job'), limit: positiveInteger(input, 'limit', 1000) ?? 20 }),
  execute: runsCommand
}
