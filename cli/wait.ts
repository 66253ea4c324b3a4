import type { ApiClient } from './api-client.js'
import { sleep } from './retry.js'
import { isTerminal } from '../common/run-state.js'
import type { Run } from './types.js'

export type WaitResult =
  | { kind: 'ended', run: Run }
  | { kind: 'timeout', run: Run }

export interface WaitOptions {
  client: ApiClient
  job: string
  run: Run
  /** Longest hold asked of the server per request (the contract allows up to 60 s). */
  pollSeconds: number
  waitTimeoutSeconds?: number | undefined
  signal?: AbortSignal | undefined
  /** Every Run seen, the first included. */
  onRun: (run: Run) => void
  /** Runs after each poll (e.g. print new log lines); its errors end the wait. */
  afterPoll?: (() => Promise<void>) | undefined
  now?: () => number
  /** Floor between polls, in case a server answers `?wait=` at once: never a tight loop. */
  minPollIntervalMs?: number
}

/** Long-polls a run with `?wait=` until it ends or `waitTimeoutSeconds` passes. */
export async function waitForRun (options: WaitOptions): Promise<WaitResult> {
  const { client, job, pollSeconds, signal, onRun, afterPoll, now = Date.now, minPollIntervalMs = 1000 } = options
  const deadline = options.waitTimeoutSeconds === undefined ? Number.POSITIVE_INFINITY : now() + options.waitTimeoutSeconds * 1000
  let run = options.run
  onRun(run)
  while (!isTerminal(run.state)) {
    const remainingMs = deadline - now()
    if (remainingMs <= 0) return { kind: 'timeout', run }
    const hold = Math.max(1, Math.min(pollSeconds, 60, Math.ceil(remainingMs / 1000)))
    const askedAt = now()
    // Polls tolerate a longer network outage than one-off calls: the run goes on meanwhile.
    run = await client.getRun(job, run.name, { waitSeconds: hold, signal, attempts: 8 })
    onRun(run)
    if (afterPoll !== undefined) await afterPoll()
    const spent = now() - askedAt
    if (!isTerminal(run.state) && spent < minPollIntervalMs) await sleep(minPollIntervalMs - spent, signal)
  }
  return { kind: 'ended', run }
}
