import { positional } from '../args.js'
import type { Context } from '../context.js'
import { formatTable, shortTime } from '../table.js'
import { taskDuration } from '../task-summary.js'
import type { RunTask } from '../types.js'
import type { CommandModule } from './index.js'

interface TasksOptions { job: string, run: string, failed: boolean }

/** The last attempt's exit code, or the signal that ended it. */
const exitOf = (task: RunTask): string => task.exitCode !== undefined ? String(task.exitCode) : task.termSignal !== undefined ? `signal ${task.termSignal}` : '-'

/** The tasks as a table for people; MESSAGE only when a task has one. */
export function tasksTable (tasks: readonly RunTask[], now: number): string {
  const withMessage = tasks.some(task => task.message !== undefined)
  const header = ['TASK', 'STATE', 'ATTEMPTS', 'EXIT', 'STARTED', 'DURATION', ...(withMessage ? ['MESSAGE'] : [])]
  const rows = tasks.map(task => [
    String(task.index), task.state, String(task.attempts), exitOf(task), shortTime(task.startTime), taskDuration(task, now), ...(withMessage ? [task.message ?? ''] : [])
  ])
  return formatTable(header, rows)
}

/** `jobgate tasks`: every task of a run (or its failed ones), by index. */
async function tasksCommand (options: TasksOptions, ctx: Context): Promise<number> {
  const tasks: RunTask[] = []
  let pageToken: string | undefined
  do {
    const page = await ctx.client.listTasks(options.job, options.run, { ...(options.failed && { state: 'FAILED' as const }), pageToken }, ctx.signal)
    tasks.push(...page.tasks)
    pageToken = page.nextPageToken
  } while (pageToken !== undefined)
  if (ctx.json) ctx.terminal.out(JSON.stringify(tasks, null, 2))
  else if (tasks.length === 0) ctx.terminal.err(options.failed ? `No failed task in run ${options.run}.` : `No task of run ${options.run} is listed yet.`)
  else ctx.terminal.out(tasksTable(tasks, ctx.now()))
  return 0
}

export const command: CommandModule<TasksOptions> = {
  prepare: input => ({ job: positional(input, 'job'), run: positional(input, 'run'), failed: input.values.failed === true }),
  execute: tasksCommand
}
