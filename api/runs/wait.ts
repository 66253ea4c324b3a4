import { setTimeout as sleep } from 'node:timers/promises'
import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import { isTerminal } from '../../common/run-state.js'
import { toRun } from '../cloudrun/mapping.js'
import type { Run } from '../schemas/run.js'

export const MAX_WAIT_SECONDS = 60

export interface WaitOptions {
  /** How long to hold the request at most. */
  waitMs: number
  /** Aborted when the client goes away: stop polling Cloud Run on its behalf. */
  signal?: AbortSignal
  firstDelayMs?: number
  maxDelayMs?: number
}

/** Reads a run, and while it is not finished and time remains, reads it again with growing pauses. */
export async function waitForRun (cloudRun: Pick<CloudRunClient, 'getExecution'>, entry: JobEntry, name: string, options: WaitOptions): Promise<Run> {
  const deadline = Date.now() + options.waitMs
  let delay = options.firstDelayMs ?? 500
  for (;;) {
    const run = toRun(entry.id, await cloudRun.getExecution(entry, name))
    const remaining = deadline - Date.now()
    if (isTerminal(run.state) || remaining <= 0 || options.signal?.aborted === true) return run
    try {
      await sleep(Math.min(delay, remaining), undefined, { signal: options.signal })
    } catch {
      return run
    }
    delay = Math.min(delay * 1.5, options.maxDelayMs ?? 5_000)
  }
}
