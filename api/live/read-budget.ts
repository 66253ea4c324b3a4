/**
 * How many upstream reads one jobgate instance may make per minute, shared by every caller.
 * A token bucket sized so that no rolling minute exceeds `perMinute`: a burst of a quarter of
 * it, refilled at the other three quarters per minute. An upstream 429 closes it until the
 * server's Retry-After has passed (doubling, to a cap, while 429s repeat).
 */
export interface Clock { now: () => number }

/** Without a Retry-After, the first pause after a 429, and the longest pause. */
export const RATE_LIMITED_PAUSE_MS = { first: 10_000, max: 120_000 }

export class ReadBudget {
  readonly perMinute: number
  readonly burst: number
  readonly #refillPerMs: number
  readonly #clock: Clock
  #tokens: number
  #updatedAt: number
  #closedUntil = 0
  #rateLimitedPauseMs = 0
  /** Reads allowed and refused since the start: what tests and the bench count. */
  taken = 0
  refused = 0

  constructor (perMinute: number, clock: Clock = Date) {
    if (!Number.isInteger(perMinute) || perMinute < 4) throw new RangeError(`a read budget needs at least 4 reads per minute, got ${perMinute}`)
    this.perMinute = perMinute
    this.burst = Math.floor(perMinute / 4)
    this.#refillPerMs = (perMinute - this.burst) / 60_000
    this.#clock = clock
    this.#tokens = this.burst
    this.#updatedAt = clock.now()
  }

  #refill (now: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#updatedAt) * this.#refillPerMs)
    this.#updatedAt = now
  }

  /** Takes one read if the budget has one; false means: serve what is cached, try again in `waitMs()`. */
  tryTake (): boolean {
    const now = this.#clock.now()
    this.#refill(now)
    if (now < this.#closedUntil || this.#tokens < 1) {
      this.refused++
      return false
    }
    this.#tokens -= 1
    this.taken++
    return true
  }

  /** Milliseconds until a read may be taken again (0: now). */
  waitMs (): number {
    const now = this.#clock.now()
    this.#refill(now)
    const refill = this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#refillPerMs)
    return Math.max(refill, this.#closedUntil - now, 0)
  }

  /** Seconds for a Retry-After header: at least 1. */
  retryAfterSeconds (): number {
    return Math.max(1, Math.ceil(this.waitMs() / 1000))
  }

  /** The upstream API said 429: no read until its Retry-After (or a doubling pause) has passed. */
  rateLimited (retryAfterSeconds: number | undefined): void {
    this.#rateLimitedPauseMs = retryAfterSeconds !== undefined
      ? retryAfterSeconds * 1000
      : Math.min(RATE_LIMITED_PAUSE_MS.max, this.#rateLimitedPauseMs === 0 ? RATE_LIMITED_PAUSE_MS.first : this.#rateLimitedPauseMs * 2)
    this.#closedUntil = Math.max(this.#closedUntil, this.#clock.now() + this.#rateLimitedPauseMs)
    this.#tokens = 0
  }

  /** A read went through: the next 429 without Retry-After starts from the first pause again. */
  succeeded (): void {
    this.#rateLimitedPauseMs = 0
  }
}
