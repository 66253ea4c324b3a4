/** Bounded exponential backoff with jitter; a server's Retry-After wins when given. */

export interface RetryPolicy {
  /** Total attempts, the first included. */
  attempts: number
  /** Delay before the second attempt; doubles after each failure. */
  baseDelayMs: number
  maxDelayMs: number
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 10_000 }

/** Longest Retry-After honoured, so a confused server cannot park a pipeline for hours. */
const maxRetryAfterMs = 60_000

/** Milliseconds to wait before attempt `failedAttempts + 1`. */
export function backoffDelayMs (
  policy: RetryPolicy,
  failedAttempts: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, maxRetryAfterMs)
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failedAttempts - 1))
  return Math.round(exponential * (0.5 + random()))
}

export { parseRetryAfterMs as parseRetryAfter } from '../common/retry-after.js'

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) { reject(signal.reason); return }
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
