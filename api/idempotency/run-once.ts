import { setTimeout as sleep } from 'node:timers/promises'
import { ApiError, apiErrorOf } from '../errors.js'
import type { IdempotencyRecord, IdempotencyStore, StoredResponse } from './store.js'

export interface RunOnceOptions {
  /** scopedKey(principal, job, Idempotency-Key). */
  key: string
  /** fingerprint(request body). */
  fingerprint: string
  /** How long the key is remembered. */
  ttlMs: number
  /** How long a repeat waits for an in-flight first attempt before answering 409. */
  waitMs: number
  /** An in-progress record older than this is taken for a crashed attempt: outcome unknown, never re-run. */
  staleMs: number
  /** Clock in epoch ms, the same the store uses (tests pass a fake one). */
  now?: () => number
  /** Told when recording an outcome fails; the caller's answer is unaffected (the record then turns stale). */
  onStoreError?: (err: unknown, operation: 'finish' | 'release') => void
}

export interface RunOnceResult {
  response: StoredResponse
  /** True when the response is the stored one of an earlier request (send `Idempotency-Replayed: true`). */
  replayed: boolean
}

/** Header a route adds to a replayed response. */
export const REPLAYED_HEADER = 'idempotency-replayed'

/** Suggested pause before repeating a request whose first attempt is still in flight. */
export const IN_FLIGHT_RETRY_AFTER_SECONDS = 5

const firstPollMs = 20
const maxPollMs = 500

/**
 * Calls `start` at most once per key, whatever the number of concurrent or repeated requests.
 *
 * - First request: claims the key and calls `start`. Success → stored as `done`.
 *   An API error (or a Google failure, as the edge maps it) with `runMayHaveStarted !== true` proves nothing started → key released, error rethrown.
 *   Anything else (runMayHaveStarted, or an unexpected error) may have started a run → stored as `unknown`,
 *   error rethrown.
 * - Repeat, same body: `done` → the stored response (`replayed: true`); in progress → waits up to `waitMs`,
 *   then 409 ABORTED with Retry-After; `unknown` or stale → 409 ABORTED with `runMayHaveStarted: true`:
 *   retrying the same key can never help, the caller must look at the runs list and use a new key.
 * - Repeat, different body: 422 UNPROCESSABLE_ENTITY.
 * Errors of the store itself become 503 UNAVAILABLE with Retry-After (nothing was started).
 */
export async function runOnce (
  store: IdempotencyStore,
  options: RunOnceOptions,
  start: () => Promise<StoredResponse>
): Promise<RunOnceResult> {
  const { key, fingerprint, ttlMs } = options
  const now = options.now ?? Date.now
  const waitUntil = performance.now() + options.waitMs
  let pollMs = firstPollMs
  for (;;) {
    const claim = await reachStore(async () => await store.claim(key, fingerprint, ttlMs))
    if (claim.claimed) return { response: await startClaimed(store, options, start), replayed: false }
    let record: IdempotencyRecord | undefined = claim.record
    while (record !== undefined) {
      if (record.fingerprint !== fingerprint) throw differentBody()
      if (record.state === 'done' && record.response !== undefined) return { response: record.response, replayed: true }
      if (record.state !== 'in_progress' || now() - record.claimedAt >= options.staleMs) throw unknownOutcome(record)
      const remainingMs = waitUntil - performance.now()
      if (remainingMs <= 0) throw stillInProgress()
      await sleep(Math.min(pollMs, remainingMs))
      pollMs = Math.min(pollMs * 2, maxPollMs)
      record = await reachStore(async () => await store.get(key))
    }
    // The first attempt proved nothing started and released the key: this request may try.
  }
}

async function startClaimed (
  store: IdempotencyStore,
  options: RunOnceOptions,
  start: () => Promise<StoredResponse>
): Promise<StoredResponse> {
  const report = options.onStoreError ?? (() => {})
  let response: StoredResponse
  try {
    response = await start()
  } catch (err) {
    const apiError = apiErrorOf(err)
    if (apiError !== undefined && apiError.runMayHaveStarted !== true) {
      await store.release(options.key).catch(storeErr => report(storeErr, 'release'))
    } else {
      await store.finish(options.key, 'unknown', responseOfError(err)).catch(storeErr => report(storeErr, 'finish'))
    }
    throw err
  }
  await store.finish(options.key, 'done', response).catch(storeErr => report(storeErr, 'finish'))
  return response
}

/** The response an error becomes; an unexpected error is stored as 500 without its (possibly sensitive) text. */
function responseOfError (err: unknown): StoredResponse {
  const apiError = apiErrorOf(err) ?? new ApiError('INTERNAL', 'internal error while starting the run', { runMayHaveStarted: true })
  const headers: Record<string, string> = {}
  if (apiError.retryAfterSeconds !== undefined) headers['retry-after'] = String(apiError.retryAfterSeconds)
  return { statusCode: apiError.httpCode, headers, body: apiError.toBody() }
}

async function reachStore<T> (operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (err) {
    throw new ApiError('UNAVAILABLE', 'the idempotency store is unavailable; nothing was started, retry later', {
      httpCode: 503, retryAfterSeconds: 1, runMayHaveStarted: false, cause: err
    })
  }
}

function differentBody (): ApiError {
  return new ApiError('UNPROCESSABLE_ENTITY',
    'Idempotency-Key: this key was already used with a different request body; use a new key for a different request')
}

function stillInProgress (): ApiError {
  return new ApiError('ABORTED',
    'Idempotency-Key: the first request with this key is still in progress; repeat it later to get its response',
    { retryAfterSeconds: IN_FLIGHT_RETRY_AFTER_SECONDS })
}

function unknownOutcome (record: IdempotencyRecord): ApiError {
  const earlier = record.response === undefined
    ? 'was interrupted'
    : `failed with HTTP ${record.response.statusCode}`
  return new ApiError('ABORTED',
    `Idempotency-Key: the first request with this key ${earlier} and a run may have started; ` +
    'check the job\'s runs before retrying with a new key', { runMayHaveStarted: true })
}
