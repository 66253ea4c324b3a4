import { ApiResponseError, NetworkError } from '../api-client.js'
import { resumeCommand, shellWord, type Context } from '../context.js'
import { formatElapsed } from '../duration.js'
import { ExitCode, exitCodeOfState } from '../exit-codes.js'
import { handleInterrupt } from '../interrupt.js'
import { formatLogEntry } from '../logs.js'
import { describeFailedTask, failedTasks } from '../task-summary.js'
import { elapsedMs } from '../progress.js'
import type { LogEntry, Run } from '../types.js'
import { watchRun, type WatchOptions } from '../watch-run.js'

export type FollowOptions = Omit<WatchOptions, 'onRun'>

/** Log lines while waiting: on stdout, or on stderr when stdout is reserved for --json. */
export const logPrinter = (ctx: Context, options: { timestamps?: boolean } = {}) => (entry: LogEntry): void => {
  const line = formatLogEntry(entry, options)
  if (ctx.json) ctx.terminal.err(line)
  else ctx.terminal.out(line)
}

/** A failed run's summary names this many failed tasks at most. */
const FAILED_TASKS_SHOWN = 10

/** Waits for a run to end while showing progress and logs, then sums it up; returns the exit code and the last Run seen. */
export async function followRun (ctx: Context, options: FollowOptions): Promise<{ code: number, run: Run }> {
  const { job } = options
  const { terminal } = ctx
  const resumeHint = resumeCommand(ctx, job, options.run.name, options.printEntry !== undefined)
  const watchingSince = ctx.now()
  let last = options.run
  let result
  try {
    result = await watchRun(ctx, { ...options, onRun: run => { last = run } })
  } catch (error) {
    if (ctx.signal?.aborted === true) {
      const { client, stdin } = ctx
      return { code: await handleInterrupt({ terminal, client, job, run: last, ask: terminal.isTTY, stdin, resumeHint }), run: last }
    }
    if (error instanceof ApiResponseError || error instanceof NetworkError) {
      terminal.err(`jobgate: lost track of run ${last.name}: ${error.message}`)
      terminal.err(`The run may still be going. Resume with: ${resumeHint}`)
      return { code: ExitCode.apiError, run: last }
    }
    throw error
  }
  const { run } = result
  const took = formatElapsed(elapsedMs(run, ctx.now(), watchingSince))
  if (result.kind === 'timeout') {
    terminal.err(`Stopped waiting (--wait-timeout): run ${run.name} is still ${run.state} and continues. Resume with: ${resumeHint}`)
    return { code: ExitCode.waitTimeout, run }
  }
  terminal.err(summary(run, took))
  if (run.state === 'FAILED') {
    for (const line of await failureDetails(ctx, job, run)) terminal.err(line)
    terminal.err(`Logs: jobgate logs ${shellWord(job)} ${shellWord(run.name)}${run.logUri === undefined ? '' : `  Cloud Logging: ${run.logUri}`}`)
  }
  return { code: exitCodeOfState(run.state), run }
}

/** Why a run failed: its failed tasks, one line each, else (an older server, tasks unreadable) Cloud Run's message. */
async function failureDetails (ctx: Context, job: string, run: Run): Promise<string[]> {
  try {
    const tasks = await failedTasks(ctx.client, job, run.name, FAILED_TASKS_SHOWN + 1, ctx.signal)
    if (tasks.length > 0) {
      const lines = tasks.slice(0, FAILED_TASKS_SHOWN).map(task => `  ${describeFailedTask(task)}`)
      if (tasks.length > FAILED_TASKS_SHOWN) lines.push(`  … and more: jobgate tasks ${shellWord(job)} ${shellWord(run.name)} --failed`)
      return lines
    }
  } catch {
    // the run's own message below says what Cloud Run said
  }
  return run.message === undefined ? [] : [`  ${run.message}`]
}

function summary (run: Run, took: string): string {
  const retried = (run.retriedCount ?? 0) > 0 ? `, ${run.retriedCount} retried` : ''
  const tasks = `${run.succeededCount ?? 0} of ${run.taskCount ?? '?'} tasks succeeded, ${run.failedCount ?? 0} failed${retried}`
  if (run.state === 'SUCCEEDED') return `Run ${run.name} SUCCEEDED in ${took} (${tasks}).`
  if (run.state === 'CANCELLED') return `Run ${run.name} was CANCELLED after ${took} (${tasks}).`
  return `Run ${run.name} FAILED after ${took} (${tasks}):`
}
