import { ApiError } from '../errors.js'
import { callerKey } from './caller-key.js'
import type { Caller } from './run-policy.js'

export const DEFAULT_MAX_WAITS_PER_CALLER = 10

/**
 * Held requests (`?wait`, event streams) per caller: each holds a slot until it ends, and past the
 * cap the next one is a 429 right away, so one caller cannot pin hundreds of open requests.
 */
export class PerCallerConcurrency {
  readonly #open = new Map<string, number>()
  readonly max: number

  constructor (max: number) {
    this.max = max
  }

  /** Takes a slot for `caller`; the returned function gives it back (calling it again does nothing). */
  acquire (caller: Caller): () => void {
    const key = callerKey(caller)
    const open = this.#open.get(key) ?? 0
    if (open >= this.max) {
      throw new ApiError('RESOURCE_EXHAUSTED', `${caller.name} already holds ${this.max} waiting requests or event streams; close one or retry shortly`, { retryAfterSeconds: 1 })
    }
    this.#open.set(key, open + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.#open.get(key) ?? 1) - 1
      if (left === 0) this.#open.delete(key)
      else this.#open.set(key, left)
    }
  }

  /** Runs `work` in a slot of `caller`'s. */
  async hold<T> (caller: Caller, work: () => Promise<T>): Promise<T> {
    const release = this.acquire(caller)
    try {
      return await work()
    } finally {
      release()
    }
  }

  /** Slots held now by `caller` (tests, metrics). */
  heldBy (caller: Caller): number {
    return this.#open.get(callerKey(caller)) ?? 0
  }
}
