import type { IdempotencyConfig } from './config.js'
import type { FirestoreClientOptions } from './firestore-client.js'
import { openFirestoreStore } from './firestore-store.js'
import { MemoryStore } from './memory-store.js'
import type { IdempotencyStore } from './store.js'

/** The Firestore target (see firestoreTarget) and a clock. */
export interface StoreDeps extends FirestoreClientOptions {
  now?: () => number
}

/** The store the configuration selects; Firestore's client library is loaded only in that case. */
export async function createIdempotencyStore (config: IdempotencyConfig, deps: StoreDeps = {}): Promise<IdempotencyStore> {
  if (config.store === 'memory') return new MemoryStore({ maxEntries: config.maxEntries, now: deps.now })
  return await openFirestoreStore({ collection: config.collection, ...deps })
}
