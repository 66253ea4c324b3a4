import { ApiError } from '../errors.js'

export const DEFAULT_MAX_INFLIGHT_RUNS = 32

/** A bound on concurrent upstream run calls: past it, callers are told to come back rather than queued without limit. */
export class InflightLimit {
  #inflight = 0
  readonly max: number

  constructor (max: number) {
    this.max = max
  }

  async run<T> (work: () => Promise<T>): Promise<T> {
    if (this.#inflight >= this.max) {
      throw new ApiError('RESOURCE_EXHAUSTED', `jobgate is already starting ${this.max} runs; retry shortly`, { retryAfterSeconds: 1 })
    }
    this.#inflight++
    try {
      return await work()
    } finally {
      this.#inflight--
    }
  }
}
