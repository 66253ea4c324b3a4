/** Idempotency-Key support: run something at most once per key, across retries and API instances. */
export { fingerprint, canonicalJson } from './fingerprint.js'
export { idempotencyKeyProblem, scopedKey } from './key.js'
export type { ClaimResult, IdempotencyRecord, IdempotencyState, IdempotencyStore, StoredResponse } from './store.js'
export { MemoryStore, DEFAULT_MAX_ENTRIES, type MemoryStoreOptions } from './memory-store.js'
export { openFirestoreStore, type FirestoreStoreOptions } from './firestore-store.js'
export { loadIdempotencyConfig, DEFAULT_COLLECTION, type IdempotencyConfig } from './config.js'
export { createIdempotencyStore, type StoreDeps } from './create-store.js'
export { runOnce, REPLAYED_HEADER, IN_FLIGHT_RETRY_AFTER_SECONDS, type RunOnceOptions, type RunOnceResult } from './run-once.js'
