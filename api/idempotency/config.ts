import { ConfigError } from '../config-error.js'
import { oneOf, quote, text, wholeNumber, type Env } from '../env.js'
import { DEFAULT_MAX_ENTRIES } from './memory-store.js'

export interface IdempotencyConfig {
  /** `JOBGATE_IDEMPOTENCY`: `memory` (one instance) or `firestore` (several instances share the keys). */
  store: 'memory' | 'firestore'
  /** `JOBGATE_IDEMPOTENCY_COLLECTION`: the Firestore collection. */
  collection: string
  /** `JOBGATE_FIRESTORE_DATABASE`: the Firestore database of every shared state (keys, leases, …). */
  database: string
  /** `JOBGATE_IDEMPOTENCY_TTL_SECONDS`: how long a key is remembered. */
  ttlMs: number
  /** `JOBGATE_IDEMPOTENCY_STALE_SECONDS`: age past which an in-progress key counts as crashed (outcome unknown). */
  staleMs: number
  /** `JOBGATE_IDEMPOTENCY_WAIT_SECONDS`: how long a repeat waits for an in-flight first request. */
  waitMs: number
  /** `JOBGATE_IDEMPOTENCY_MAX_ENTRIES`: bound of the memory store. */
  maxEntries: number
}

export const DEFAULT_COLLECTION = 'jobgate-idempotency'
export const DEFAULT_DATABASE = '(default)'

/** Reads the idempotency settings; a bad value throws ConfigError naming the variable. */
export function loadIdempotencyConfig (env: Env): IdempotencyConfig {
  return {
    store: oneOf(env, 'JOBGATE_IDEMPOTENCY', ['memory', 'firestore']) ?? 'memory',
    collection: collectionId(env),
    database: databaseId(env),
    ttlMs: wholeNumber(env, 'JOBGATE_IDEMPOTENCY_TTL_SECONDS', { fallback: 86_400, min: 1 }) * 1000,
    staleMs: wholeNumber(env, 'JOBGATE_IDEMPOTENCY_STALE_SECONDS', { fallback: 120, min: 1 }) * 1000,
    waitMs: wholeNumber(env, 'JOBGATE_IDEMPOTENCY_WAIT_SECONDS', { fallback: 10, min: 0 }) * 1000,
    maxEntries: wholeNumber(env, 'JOBGATE_IDEMPOTENCY_MAX_ENTRIES', { fallback: DEFAULT_MAX_ENTRIES, min: 1 })
  }
}

/** Firestore's rules for a database id. */
function databaseId (env: Env): string {
  const name = 'JOBGATE_FIRESTORE_DATABASE'
  const value = text(env, name) ?? DEFAULT_DATABASE
  if (value !== DEFAULT_DATABASE && !/^[a-z][a-z0-9-]{2,61}[a-z0-9]$/.test(value)) {
    throw new ConfigError(name, `must be ${DEFAULT_DATABASE} or 4-63 characters a-z, 0-9, - starting with a letter, not ${quote(value)}`)
  }
  return value
}

/** Firestore's rules for a collection id. */
function collectionId (env: Env): string {
  const name = 'JOBGATE_IDEMPOTENCY_COLLECTION'
  const value = text(env, name) ?? DEFAULT_COLLECTION
  if (value.includes('/')) throw new ConfigError(name, 'a collection id cannot contain "/"')
  if (value === '.' || value === '..' || /^__.*__$/.test(value)) throw new ConfigError(name, `${quote(value)} is reserved by Firestore`)
  if (Buffer.byteLength(value) > 1500) throw new ConfigError(name, 'longer than 1500 bytes')
  return value
}
