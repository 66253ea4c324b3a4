import { ApiResponseError, NetworkError } from '../api-client.js'
import { resumeCommand, shellWord, type Context } from '../context.js'
import { formatElapsed } from '../duration.js'
import { ExitCode, exitCodeOfState } from '../exit-codes.js'
import { handleInterrupt } from '../interrupt.js'
import { formatLogEntry, LogFollower } from '../logs.js'
import { describeFailedTask, failedTasks } from '../task-summary.js'
import { elapsedMs, progressRenderer, type ProgressRenderer } from '../progress.js'
import type { LogEntry, Run } from '../types.js'
import { waitOnStream } from '../stream-wait.js'
import { waitForRun, type WaitResult } from '../wait.js'

export interface FollowOptions {
  job: string
  run: Run
  /** Print log entries with this while waiting; undefined = no logs. */
  printEntry: ((entry: LogEntry) => void) | undefined
  /** Show the live progress line (TTY) or lines per change (not a TTY). */
  progress: boolean
  waitTimeoutSeconds: number | undefined
}

/** Log lines while waiting: on stdout, or on stderr when stdout is reserved for --json. */
export const logPrinter = (ctx: Context, options: { timestamps?: boolean } = {}) => (entry: LogEntry): void => {
  const line = formatLogEntry(entry, options)
  if (ctx.json) ctx.terminal.err(line)
  else ctx.terminal.out(line)
}

/** A failed run's summary names this many failed tasks at most. */
const FAILED_TASKS_SHOWN = 10

/**
 * Seconds the server may hold each poll (it answers early when the run ends). The hold is also how
 * often counts refresh, so: short when logs need draining or a person watches the bar, longer in CI.
 */
const pollSeconds = { withLogs: 2, tty: 3, plain: 10 }
const tickMs = 1000

/** Waits for a run to end while showing progress and logs; returns the exit code and the last Run seen. */
export async function followRun (ctx: Context, options: FollowOptions): Promise<{ code: number, run: Run }> {
  const { job, printEntry } = options
  const { terminal } = ctx
  const resumeHint = resumeCommand(ctx, job, options.run.name, printEntry !== undefined)
  const renderer: ProgressRenderer | undefined = options.progress ? progressRenderer({ terminal, now: ctx.now }) : undefined
  const follower = printEntry === undefined ? undefined : new LogFollower(ctx.client, job, options.run.name, printEntry)
  const ticker = renderer !== undefined && terminal.isTTY ? setInterval(() => renderer.tick(), tickMs) : undefined
  ticker?.unref()
  const watchingSince = ctx.now()
  let last = options.run
  let logsBroken = false
  // Log trouble must not end the wait: say so once and keep following the run itself.
  const drainLogs = async (): Promise<void> => {
    if (follower === undefined || logsBroken) return
    try {
      await follower.drain(ctx.signal)
    } catch (error) {
      if (ctx.signal?.aborted === true) throw error
      logsBroken = true
      terminal.err(`jobgate: logs unavailable, still waiting for the run: ${(error as Error).message}`)
    }
  }

  const onRun = (run: Run): void => { last = run; renderer?.update(run) }
  let result
  try {
    // One connection for the whole wait: run and log events as they happen (api: GET …/events).
    const streamed = await waitOnStream({
      client: ctx.client,
      job,
      run: options.run,
      onLog: printEntry,
      onRun,
      waitTimeoutSeconds: options.waitTimeoutSeconds,
      signal: ctx.signal,
      retryPolicy: ctx.client.retryPolicy,
      onRetry: notice => { ctx.client.notifyRetry(notice) }
    })
    result = streamed === 'unsupported' ? await pollForRun(ctx, options, onRun, drainLogs) : streamed
  } catch (error) {
    if (ticker !== undefined) clearInterval(ticker) // no redraws over the cancel question
    if (ctx.signal?.aborted === true) {
      const code = await handleInterrupt({
        terminal,
        client: ctx.client,
        job,
        run: last,
        ask: terminal.isTTY,
        stdin: ctx.stdin,
        resumeHint
      })
      return { code, run: last }
    }
    renderer?.finish()
    if (error instanceof ApiResponseError || error instanceof NetworkError) {
      terminal.err(`jobgate: lost track of run ${last.name}: ${error.message}`)
      terminal.err(`The run may still be going. Resume with: ${resumeHint}`)
      return { code: ExitCode.apiError, run: last }
    }
    throw error
  } finally {
    if (ticker !== undefined) clearInterval(ticker)
  }
  renderer?.finish()
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

/** An older server without the event stream: long-poll the run and read the logs route after each poll. */
async function pollForRun (
  ctx: Context,
  options: FollowOptions,
  onRun: (run: Run) => void,
  drainLogs: () => Promise<void>
): Promise<WaitResult> {
  await drainLogs() // what is already there, before the first poll's hold
  const result = await waitForRun({
    client: ctx.client,
    job: options.job,
    run: options.run,
    pollSeconds: options.printEntry !== undefined ? pollSeconds.withLogs : ctx.terminal.isTTY ? pollSeconds.tty : pollSeconds.plain,
    waitTimeoutSeconds: options.waitTimeoutSeconds,
    signal: ctx.signal,
    onRun,
    afterPoll: drainLogs,
    now: ctx.now
  })
  // One last pass after the end so trailing lines are not lost.
  if (result.kind === 'ended') await drainLogs()
  return result
}

function summary (run: Run, took: string): string {
  const retried = (run.retriedCount ?? 0) > 0 ? `, ${run.retriedCount} retried` : ''
  const tasks = `${run.succeededCount ?? 0} of ${run.taskCount ?? '?'} tasks succeeded, ${run.failedCount ?? 0} failed${retried}`
  if (run.state === 'SUCCEEDED') return `Run ${run.name} SUCCEEDED in ${took} (${tasks}).`
  if (run.state === 'CANCELLED') return `Run ${run.name} was CANCELLED after ${took} (${tasks}).`
  return `Run ${run.name} FAILED after ${took} (${tasks}):`
}
