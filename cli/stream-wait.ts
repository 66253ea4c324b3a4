import { ApiResponseError, toFailure, type ApiClient } from './api-client.js'
import { backoffDelayMs, defaultRetryPolicy, sleep, type RetryPolicy } from './retry.js'
import type { LogEntry, Run } from './types.js'
import type { WaitResult } from './wait.js'

export interface StreamWaitOptions {
  client: ApiClient
  job: string
  run: Run
  /** Print log events (and ask the server for them); undefined: run events only. */
  onLog: ((entry: LogEntry) => void) | undefined
  onRun: (run: Run) => void
  waitTimeoutSeconds?: number | undefined
  signal?: AbortSignal | undefined
  retryPolicy?: RetryPolicy | undefined
  onRetry?: ((notice: string) => void) | undefined
}

/** Reconnects in a row before giving up: as many as a poll tolerated. */
const MAX_RECONNECTS = 8

/** A server without the events route (an older jobgate): the caller falls back to polling. */
const noEventsRoute = (error: unknown): boolean =>
  error instanceof ApiResponseError && error.httpStatus === 404 && /^no route /.test(error.message)

/**
 * Waits for a run on its event stream: one connection, run and log events as they happen. A
 * dropped connection is resumed with Last-Event-ID (the id of the last log event printed), so no
 * line is lost or printed twice. Resolves 'unsupported' when the server has no events route.
 */
export async function waitOnStream (options: StreamWaitOptions): Promise<WaitResult | 'unsupported'> {
  const { client, job, onLog, onRun, signal } = options
  onRun(options.run)
  let latest = options.run
  let lastEventId: string | undefined
  let failures = 0
  let connected = false
  const timedOut = new AbortController()
  const timer =
    options.waitTimeoutSeconds === undefined
      ? undefined
      : setTimeout(() => {
          timedOut.abort()
        }, options.waitTimeoutSeconds * 1000)
  timer?.unref()
  const streamSignal = signal === undefined ? timedOut.signal : AbortSignal.any([signal, timedOut.signal])
  try {
    for (;;) {
      try {
        const events = await client.streamEvents(job, latest.name, { logs: onLog !== undefined, lastEventId, signal: streamSignal })
        connected = true
        for await (const event of events) {
          failures = 0
          if (event.event === 'log') {
            onLog?.(JSON.parse(event.data) as LogEntry)
            if (event.id !== undefined) lastEventId = event.id
          } else if (event.event === 'run' || event.event === 'end') {
            latest = JSON.parse(event.data) as Run
            onRun(latest)
            if (event.event === 'end') return { kind: 'ended', run: latest }
          }
        }
        throw toFailure(Object.assign(new Error('the event stream ended before the run did'), { code: 'STREAM_CLOSED' }))
      } catch (error) {
        if (signal?.aborted === true) throw error
        if (timedOut.signal.aborted) return { kind: 'timeout', run: latest }
        if (!connected && noEventsRoute(error)) return 'unsupported'
        const failure = toFailure(error)
        const retryable = !(failure instanceof ApiResponseError) || [429, 502, 503, 504].includes(failure.httpStatus)
        failures++
        if (!retryable || failures > MAX_RECONNECTS) throw failure
        const delay = backoffDelayMs(
          options.retryPolicy ?? defaultRetryPolicy,
          failures,
          failure instanceof ApiResponseError ? failure.retryAfterMs : undefined
        )
        options.onRetry?.(`event stream: ${failure.message}; reconnecting in ${(delay / 1000).toFixed(1)}s`)
        await sleep(delay, streamSignal).catch(() => {})
      }
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer)
  }
}
