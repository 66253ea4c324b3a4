import { ApiError } from '../errors.js'

/**
 * How many upstream calls one jobgate instance may make per minute to one API, divided fairly
 * between the callers that want them.
 *
 * The instance's bucket: a burst of a quarter of `perMinute`, refilled at the other three
 * quarters per minute (capped at the burst), so no rolling minute exceeds `perMinute`.
 *
 * The shares: each reader active in the last minute (a caller — principal and tenant — or
 * jobgate itself) has a share bucket refilled at 1/n of the instance's rate and holding at most
 * 1/n of half the burst, for n active readers. A read within its reader's share may take the
 * instance's last token; a read beyond it only a token above the reserve (half the burst). The
 * instance's bucket then always holds at least what the shares hold, so a reader asking no more
 * than its share is never refused, however hard another reader hammers, and a newcomer's first
 * read finds the reserve. An idle budget still goes to whoever asks, down to the reserve.
 *
 * An upstream 429 closes it for everyone until the server's Retry-After has passed (doubling,
 * to a cap, while 429s repeat).
 */
export interface Clock { now: () => number }

/** Whose share a read is drawn from: a caller's key (`callerKey`), or JOBGATE_READER. */
export type Reader = string

/** jobgate's own reads (reconcilers, anything no caller asked for): a reader with a share like any caller's. */
export const JOBGATE_READER: Reader = 'jobgate'

/** Without a Retry-After, the first pause after a 429, and the longest pause. */
export const RATE_LIMITED_PAUSE_MS = { first: 10_000, max: 120_000 }

/** A reader counts as active (and takes a share) this long after its last read or attempt. */
export const ACTIVE_MS = 60_000

interface Share { tokens: number, updatedAt: number, seenAt: number }

export class ReadBudget {
  readonly perMinute: number
  readonly burst: number
  /** Tokens only reads within their reader's share may take. */
  readonly reserve: number
  readonly #refillPerMs: number
  readonly #clock: Clock
  readonly #shares = new Map<Reader, Share>()
  #tokens: number
  #updatedAt: number
  #prunedAt: number
  #closedUntil = 0
  #rateLimitedPauseMs = 0
  /** Reads allowed and refused since the start: what tests and the bench count. */
  taken = 0
  refused = 0

  constructor (perMinute: number, clock: Clock = Date) {
    if (!Number.isInteger(perMinute) || perMinute < 4) throw new RangeError(`a read budget needs at least 4 reads per minute, got ${perMinute}`)
    this.perMinute = perMinute
    this.burst = Math.floor(perMinute / 4)
    this.reserve = this.burst / 2
    this.#refillPerMs = (perMinute - this.burst) / 60_000
    this.#clock = clock
    this.#tokens = this.burst
    this.#updatedAt = clock.now()
    this.#prunedAt = this.#updatedAt
  }

  /** Readers active in the last minute: the budget is divided between them. */
  get active (): number {
    this.#prune(this.#clock.now())
    return this.#shares.size
  }

  #refill (now: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#updatedAt) * this.#refillPerMs)
    this.#updatedAt = now
  }

  #prune (now: number): void {
    if (now - this.#prunedAt < 1_000) return
    this.#prunedAt = now
    for (const [reader, share] of this.#shares) if (now - share.seenAt >= ACTIVE_MS) this.#shares.delete(reader)
  }

  /** The reader's share, brought up to date (and counted as active from now). */
  #share (reader: Reader, now: number): Share {
    this.#prune(now)
    let share = this.#shares.get(reader)
    if (share === undefined) {
      share = { tokens: Number.POSITIVE_INFINITY, updatedAt: now, seenAt: now }
      this.#shares.set(reader, share)
    }
    const n = this.#shares.size
    share.tokens = Math.min(this.#shareCap(n), share.tokens + (now - share.updatedAt) * this.#refillPerMs / n)
    share.updatedAt = now
    share.seenAt = now
    return share
  }

  /** What one of n shares holds at most: its part of what the reserve leaves, and at least one read. */
  #shareCap (n: number): number {
    return Math.max(1, (this.burst - this.reserve) / n)
  }

  /** The share of `readers` with the most left. */
  #bestShare (readers: Iterable<Reader>, now: number): Share {
    let best: Share | undefined
    for (const reader of new Set(readers)) {
      const share = this.#share(reader, now)
      if (best === undefined || share.tokens > best.tokens) best = share
    }
    return best ?? this.#share(JOBGATE_READER, now)
  }

  /** Takes `count` reads for `reader` if its share (or the budget above the reserve) allows; false means: serve what is cached, retry in `waitMs(reader)`. */
  tryTake (reader: Reader, count = 1): boolean {
    return this.tryTakeAny([reader], count)
  }

  /** For a loop several readers share (a run's watcher, its log tail): draws on whichever of their shares has the most left. */
  tryTakeAny (readers: Iterable<Reader>, count = 1): boolean {
    const now = this.#clock.now()
    this.#refill(now)
    const share = this.#bestShare(readers, now)
    const within = share.tokens >= count
    if (now < this.#closedUntil || this.#tokens - count < (within ? 0 : this.reserve)) {
      this.refused++
      return false
    }
    this.#tokens -= count
    if (within) share.tokens -= count
    this.taken += count
    return true
  }

  /** Milliseconds until one of `readers` may take a read again (0: now). */
  waitMs (readers: Reader | Iterable<Reader>): number {
    const now = this.#clock.now()
    this.#refill(now)
    const share = this.#bestShare(typeof readers === 'string' ? [readers] : readers, now)
    const untilTokens = (wanted: number, have: number, perMs: number): number => have >= wanted ? 0 : Math.ceil((wanted - have) / perMs)
    const perMs = this.#refillPerMs
    const withinShare = Math.max(untilTokens(1, share.tokens, perMs / this.#shares.size), untilTokens(1, this.#tokens, perMs))
    const aboveReserve = this.reserve + 1 > this.burst ? Number.POSITIVE_INFINITY : untilTokens(this.reserve + 1, this.#tokens, perMs)
    return Math.max(Math.min(withinShare, aboveReserve), this.#closedUntil - now, 0)
  }

  /** Seconds for a Retry-After header: at least 1. */
  retryAfterSeconds (readers: Reader | Iterable<Reader>): number {
    return Math.max(1, Math.ceil(this.waitMs(readers) / 1000))
  }

  /** The 429 for a reader whose share of `api`'s budget is spent for now. */
  spent (api: string, readers: Reader | Iterable<Reader>): ApiError {
    const retryAfterSeconds = this.retryAfterSeconds(readers)
    return new ApiError('RESOURCE_EXHAUSTED', `your share of jobgate's ${api} read budget (${this.perMinute} per minute, ` +
      `divided between the ${this.#shares.size} callers reading now) is spent; retry in ${retryAfterSeconds} s`, { retryAfterSeconds })
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
