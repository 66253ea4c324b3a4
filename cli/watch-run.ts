import type { Context } from './context.js'
import { LogFollower } from './logs.js'
import { progressRenderer, type ProgressRenderer } from './progress.js'
import { waitOnStream } from './stream-wait.js'
import type { LogEntry, Run } from './types.js'
import { waitForRun, type WaitResult } from './wait.js'

export interface WatchOptions {
  job: string
  run: Run
  /** Print log entries with this while waiting; undefined = no logs. */
  printEntry: ((entry: LogEntry) => void) | undefined
  /** Show the live progress line (TTY) or lines per change (not a TTY). */
  progress: boolean
  waitTimeoutSeconds: number | undefined
  /** Told every Run seen, the first included. */
  onRun?: (run: Run) => void
}

/**
 * Seconds the server may hold each poll (it answers early when the run ends). The hold is also how
 * often counts refresh, so: short when logs need draining or a person watches the bar, longer in CI.
 */
const pollSeconds = { withLogs: 2, tty: 3, plain: 10 }
const tickMs = 1000

/**
 * Waits for a run to end or `waitTimeoutSeconds` to pass, printing progress and log lines: on the run's event
 * stream, or by polls on a server without it. What the API, the network or an abort throw is thrown on.
 */
export async function watchRun (ctx: Context, options: WatchOptions): Promise<WaitResult> {
  const { job, printEntry } = options
  const { terminal } = ctx
  const renderer: ProgressRenderer | undefined = options.progress ? progressRenderer({ terminal, now: ctx.now }) : undefined
  const follower = printEntry === undefined ? undefined : new LogFollower(ctx.client, job, options.run.name, printEntry)
  const ticker = renderer !== undefined && terminal.isTTY ? setInterval(() => renderer.tick(), tickMs) : undefined
  ticker?.unref()
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
  const onRun = (run: Run): void => { options.onRun?.(run); renderer?.update(run) }
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
    const result = streamed === 'unsupported' ? await pollForRun(ctx, options, onRun, drainLogs) : streamed
    renderer?.finish()
    return result
  } catch (error) {
    // Interrupted: no redraw over what comes next (the cancel question); otherwise leave the last picture.
    if (ctx.signal?.aborted !== true) renderer?.finish()
    throw error
  } finally {
    if (ticker !== undefined) clearInterval(ticker)
  }
}

type DrainLogs = () => Promise<void>

/** An older server without the event stream: long-poll the run and read the logs route after each poll. */
async function pollForRun (ctx: Context, options: WatchOptions, onRun: (run: Run) => void, drainLogs: DrainLogs): Promise<WaitResult> {
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
