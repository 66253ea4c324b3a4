import type { IdempotencyConfig } from './config.js'
import { openFirestoreStore } from './firestore-store.js'
import { MemoryStore } from './memory-store.js'
import type { IdempotencyStore } from './store.js'

export interface StoreDeps {
  /** Project of the Firestore database (e.g. GOOGLE_CLOUD_PROJECT). */
  projectId?: string
  /** `host:port` of a Firestore emulator (FIRESTORE_EMULATOR_HOST wins when set). */
  emulatorHost?: string
  now?: () => number
}

/** The store the configuration selects; Firestore's client library is loaded only in that case. */
export async function createIdempotencyStore (config: IdempotencyConfig, deps: StoreDeps = {}): Promise<IdempotencyStore> {
  if (config.store === 'memory') return new MemoryStore({ maxEntries: config.maxEntries, now: deps.now })
  return await openFirestoreStore({ collection: config.collection, ...deps })
}
