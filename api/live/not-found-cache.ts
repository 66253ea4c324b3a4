import type { Reader } from './read-budget.js'

/** How long "no such run" is remembered for a reader: repeated reads of a random name cost one upstream read. */
export const NOT_FOUND_TTL_MS = 10_000

/**
 * The runs a reader was recently told do not exist, per reader: a run of another tenant is a "not found"
 * to that reader too, so a name costs a reader the same whether it is missing or someone else's.
 * Bounded: past `maxEntries`, the oldest go first.
 */
export class NotFoundCache {
  readonly #expiry = new Map<string, number>()
  readonly #ttlMs: number
  readonly #maxEntries: number
  readonly #now: () => number

  constructor (options: { ttlMs?: number, maxEntries?: number, now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? NOT_FOUND_TTL_MS
    this.#maxEntries = options.maxEntries ?? 10_000
    this.#now = options.now ?? Date.now
  }

  get size (): number { return this.#expiry.size }

  has (reader: Reader, run: string): boolean {
    const key = `${reader}\n${run}`
    const until = this.#expiry.get(key)
    if (until === undefined) return false
    if (until > this.#now()) return true
    this.#expiry.delete(key)
    return false
  }

  add (reader: Reader, run: string): void {
    const key = `${reader}\n${run}`
    // Re-inserted at the end, so the Map's order stays the expiry order.
    this.#expiry.delete(key)
    this.#expiry.set(key, this.#now() + this.#ttlMs)
    for (const oldest of this.#expiry.keys()) {
      if (this.#expiry.size <= this.#maxEntries) break
      this.#expiry.delete(oldest)
    }
  }
}
