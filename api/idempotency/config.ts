import { ConfigError } from '../config-error.js'
import { DEFAULT_MAX_ENTRIES } from './memory-store.js'

export interface IdempotencyConfig {
  /** `JOBGATE_IDEMPOTENCY`: `memory` (one instance) or `firestore` (several instances share the keys). */
  store: 'memory' | 'firestore'
  /** `JOBGATE_IDEMPOTENCY_COLLECTION`: the Firestore collection. */
  collection: string
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

type Env = Record<string, string | undefined>

/** Reads the idempotency settings; a bad value throws ConfigError naming the variable. */
export function loadIdempotencyConfig (env: Env): IdempotencyConfig {
  return {
    store: storeKind(env),
    collection: collectionId(env),
    ttlMs: wholeNumber(env, 'JOBGATE_IDEMPOTENCY_TTL_SECONDS', 86_400, 1) * 1000,
    staleMs: wholeNumber(env, 'JOBGATE_IDEMPOTENCY_STALE_SECONDS', 120, 1) * 1000,
    waitMs: wholeNumber(env, 'JOBGATE_IDEMPOTENCY_WAIT_SECONDS', 10, 0) * 1000,
    maxEntries: wholeNumber(env, 'JOBGATE_IDEMPOTENCY_MAX_ENTRIES', DEFAULT_MAX_ENTRIES, 1)
  }
}

function valueOf (env: Env, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

function storeKind (env: Env): IdempotencyConfig['store'] {
  const value = valueOf(env, 'JOBGATE_IDEMPOTENCY') ?? 'memory'
  if (value === 'memory' || value === 'firestore') return value
  throw new ConfigError('JOBGATE_IDEMPOTENCY', `must be "memory" or "firestore", not "${value}"`)
}

/** Firestore's rules for a collection id. */
function collectionId (env: Env): string {
  const name = 'JOBGATE_IDEMPOTENCY_COLLECTION'
  const value = valueOf(env, name) ?? DEFAULT_COLLECTION
  if (value.includes('/')) throw new ConfigError(name, 'a collection id cannot contain "/"')
  if (value === '.' || value === '..' || /^__.*__$/.test(value)) throw new ConfigError(name, `"${value}" is reserved by Firestore`)
  if (Buffer.byteLength(value) > 1500) throw new ConfigError(name, 'longer than 1500 bytes')
  return value
}

function wholeNumber (env: Env, name: string, fallback: number, min: number): number {
  const value = valueOf(env, name)
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new ConfigError(name, `must be a whole number ≥ ${min}, not "${value}"`)
  }
  return Number(value)
}
