/** What the idempotency layer remembers per key, and the storage it needs. */

/** An HTTP response as the first request sent it, replayed verbatim to repeats. */
export interface StoredResponse {
  statusCode: number
  headers: Record<string, string>
  body: unknown
}

/**
 * `in_progress`: a request claimed the key and is starting the run.
 * `done`: it finished; `response` is what it answered.
 * `unknown`: it failed in a way that may have started a run; `response` is the error it answered.
 */
export type IdempotencyState = 'in_progress' | 'done' | 'unknown'

export interface IdempotencyRecord {
  state: IdempotencyState
  /** fingerprint() of the request body that claimed the key. */
  fingerprint: string
  response?: StoredResponse
  /** Epoch ms of the claim: an `in_progress` record older than the stale bound is treated as `unknown`. */
  claimedAt: number
  /** Epoch ms after which the key is forgotten and may be claimed afresh. */
  expiresAt: number
}

export type ClaimResult = { claimed: true } | { claimed: false, record: IdempotencyRecord }

export interface IdempotencyStore {
  /** Atomically records `key` as in progress unless a live (unexpired) record exists; then returns it. */
  claim: (key: string, fingerprint: string, ttlMs: number) => Promise<ClaimResult>
  /** The live record of `key`, or undefined when there is none or it expired. */
  get: (key: string) => Promise<IdempotencyRecord | undefined>
  /** Stores the outcome of a claimed key. */
  finish: (key: string, state: 'done' | 'unknown', response: StoredResponse) => Promise<void>
  /** Forgets a claimed key, so the next request with it starts afresh. */
  release: (key: string) => Promise<void>
  close?: () => Promise<void>
}
