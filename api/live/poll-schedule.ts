/**
 * When a watcher or a log tail reads upstream next: quick while things change, slower while
 * nothing does. Every change starts again from `firstMs`; each read that brought nothing new
 * multiplies the pause by `growth`, up to `maxMs`.
 */
export interface PollSchedule { firstMs: number, growth: number, maxMs: number }

/** Run state: 250 ms after a start or a change, ×1.5 per unchanged read, at most 5 s apart. */
export const RUN_POLL: PollSchedule = { firstMs: 250, growth: 1.5, maxMs: 5_000 }
/** Logs (the scarcer quota): 1 s after new lines, ×1.5 per empty read, at most 10 s apart. */
export const LOG_POLL: PollSchedule = { firstMs: 1_000, growth: 1.5, maxMs: 10_000 }

/**
 * A job's reconciler (api/lifecycle/): 1 s after a start or a change, ×1.5 per unchanged list, at most 4.5 s
 * apart, so a run's end is recorded within 5 s of it, the list's own time included.
 */
export const RECONCILE_POLL: PollSchedule = { firstMs: 1_000, growth: 1.5, maxMs: 4_500 }

export class Backoff {
  readonly #schedule: PollSchedule
  #next: number

  constructor (schedule: PollSchedule) {
    this.#schedule = schedule
    this.#next = schedule.firstMs
  }

  /** The pause before the next read, given whether the last one changed anything. */
  after (changed: boolean): number {
    if (changed) this.#next = this.#schedule.firstMs
    const pause = this.#next
    this.#next = Math.min(this.#schedule.maxMs, Math.round(this.#next * this.#schedule.growth))
    return pause
  }
}
