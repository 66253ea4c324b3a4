import type { ClaimResult, IdempotencyRecord, IdempotencyStore, StoredResponse } from './store.js'

export interface MemoryStoreOptions {
  /** Upper bound on remembered keys; past it, expired records go first, then the oldest. */
  maxEntries?: number
  /** Clock in epoch ms (tests pass a fake one). */
  now?: () => number
}

export const DEFAULT_MAX_ENTRIES = 10_000

/**
 * One process's memory: right for a single API instance. Several instances need FirestoreStore.
 * Records are copied in and out, so callers cannot change what is stored.
 */
export class MemoryStore implements IdempotencyStore {
  readonly maxEntries: number
  readonly #now: () => number
  /** Insertion order = claim order, which is also expiry order for a constant TTL. */
  readonly #records = new Map<string, IdempotencyRecord>()

  constructor (options: MemoryStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError('maxEntries must be an integer ≥ 1')
    this.#now = options.now ?? Date.now
  }

  get size (): number {
    return this.#records.size
  }

  async claim (key: string, fingerprint: string, ttlMs: number): Promise<ClaimResult> {
    const existing = this.#live(key)
    if (existing !== undefined) return { claimed: false, record: structuredClone(existing) }
    this.#records.delete(key) // an expired record: re-insert at the end
    this.#makeRoom()
    const claimedAt = this.#now()
    this.#records.set(key, { state: 'in_progress', fingerprint, claimedAt, expiresAt: claimedAt + ttlMs })
    return { claimed: true }
  }

  async get (key: string): Promise<IdempotencyRecord | undefined> {
    const record = this.#live(key)
    return record === undefined ? undefined : structuredClone(record)
  }

  async finish (key: string, state: 'done' | 'unknown', response: StoredResponse): Promise<void> {
    const record = this.#records.get(key)
    // Evicted while in flight (only under a burst beyond maxEntries): nothing left to complete.
    if (record === undefined) return
    record.state = state
    record.response = structuredClone(response)
  }

  async release (key: string): Promise<void> {
    this.#records.delete(key)
  }

  #live (key: string): IdempotencyRecord | undefined {
    const record = this.#records.get(key)
    return record !== undefined && record.expiresAt > this.#now() ? record : undefined
  }

  /** Drops expired records from the oldest end, then the oldest live one if still full. */
  #makeRoom (): void {
    const now = this.#now()
    for (const [key, record] of this.#records) {
      if (this.#records.size < this.maxEntries) return
      if (record.expiresAt > now) break
      this.#records.delete(key)
    }
    if (this.#records.size >= this.maxEntries) this.#records.delete(this.#records.keys().next().value as string)
  }
}
