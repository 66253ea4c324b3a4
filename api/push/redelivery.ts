import type { FastifyBaseLogger } from 'fastify'
import { ConcurrencyConflict } from '../concurrency/conflict.js'
import { ApiError, apiErrorOf } from '../errors.js'

/**
 * Push routes acknowledge with 200, started or replayed: every sender counts it as success, while the
 * Pub/Sub emulator (unlike Pub/Sub itself) redelivers a 202 (measured: every ~1 s).
 */
export const PUSH_SUCCESS = 200

/** Pause suggested to a push sender when the cause gave none (Pub/Sub ignores it; Cloud Tasks considers it). */
export const DEFAULT_RETRY_AFTER_SECONDS = 10

/** Pause suggested when the job's concurrency policy refused the start (onConflict "retry"): runs take a while to end. */
export const CONCURRENCY_RETRY_AFTER_SECONDS = 60

/**
 * A failed start as answered to Pub/Sub push or Cloud Tasks, which redeliver on any non-2xx:
 * what may succeed later (overload here or upstream, a failure that proves nothing started) becomes
 * 429 / 503 with Retry-After, so both back off; the rest keeps its status and is logged with what to do.
 */
export function forRedelivery (thrown: unknown, log: FastifyBaseLogger, delivery: string): unknown {
  const err = apiErrorOf(thrown)
  if (err === undefined) return thrown
  if (err instanceof ConcurrencyConflict) {
    // onConflict "retry" (a "drop" never gets here: the route acknowledges it).
    log.info({ status: err.status, runningRuns: err.runningRuns }, `${delivery}: the job is at its concurrency limit; the sender will redeliver: ${err.message}`)
    return new ApiError('RESOURCE_EXHAUSTED', err.message, { retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS, cause: err })
  }
  if (err.status === 'RESOURCE_EXHAUSTED') {
    // Every source of it (in-flight bound, rate limit, Cloud Run's 429) already names a Retry-After.
    log.warn({ status: err.status }, `${delivery}: backpressure, the sender will redeliver: ${err.message}`)
    return err
  }
  if (err.status === 'UNAVAILABLE' && err.runMayHaveStarted !== true) {
    log.warn({ status: err.status }, `${delivery}: nothing started, the sender will redeliver: ${err.message}`)
    return new ApiError('UNAVAILABLE', err.message, { httpCode: 503, retryAfterSeconds: err.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS, runMayHaveStarted: false, cause: err })
  }
  if (err.runMayHaveStarted === true) {
    // Redeliveries of this key now answer 409 until the sender gives up (dead-letter topic / max attempts).
    log.error({ status: err.status, runMayHaveStarted: true }, `${delivery}: OUTCOME UNKNOWN, a run may have started and the key stays taken; ` +
    'every redelivery will be refused with 409. Operator: check the job\'s runs; if the run is missing, republish the message ' +
    '(a new message id) or re-create the task under a new name; then drop the dead-lettered copy.')
  } else if (err.status === 'ABORTED') {
    log.info({ status: err.status }, `${delivery}: the first delivery is still starting the run; the sender will redeliver`)
  } else {
    log.warn({ status: err.status }, `${delivery}: refused (${err.status}): ${err.message}; redelivery cannot help: it will end in the dead-letter topic / the queue's max attempts`)
  }
  return err
}
