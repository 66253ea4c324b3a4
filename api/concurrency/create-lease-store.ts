import type { JobCatalog } from '../catalog.js'
import type { IdempotencyConfig } from '../idempotency/config.js'
import type { FirestoreClientOptions } from '../idempotency/firestore-client.js'
import { openFirestoreLeaseStore } from './firestore-lease-store.js'
import type { LeaseStore } from './lease-store.js'
import { MemoryLeaseStore } from './memory-lease-store.js'

/**
 * Leases live where the idempotency keys live (JOBGATE_IDEMPOTENCY): in Firestore, shared by all
 * instances, when it is selected and some job has a concurrency policy; otherwise in memory.
 */
export async function createLeaseStore (
  config: Pick<IdempotencyConfig, 'store' | 'collection'>,
  catalog: JobCatalog,
  target: FirestoreClientOptions = {}
): Promise<LeaseStore> {
  const needed = [...catalog.values()].some(entry => entry.concurrency !== undefined)
  if (config.store === 'memory' || !needed) return new MemoryLeaseStore()
  return await openFirestoreLeaseStore({ collection: config.collection, ...target })
}
