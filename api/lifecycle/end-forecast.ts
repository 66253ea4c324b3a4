import type { Execution } from '../cloudrun/execution.js'

/** Recent lengths the forecast keeps: a job whose runs change length is followed within a few runs. */
const KEPT = 15
/** Lengths needed before anything is forecast. */
const MIN_LENGTHS = 3
/** A forecast end is looked at this long after it: Cloud Run lists an end a moment after it happened. */
export const FORECAST_LAG_MS = 100

const timeOf = (text: string | undefined): number => Date.parse(text ?? '')

/**
 * When a job's running runs are likely to end, from how long its recent runs lasted (the median of the last few).
 * Runs started together end together: while runs wait for a slot, the reconciler looks just after a forecast end
 * instead of up to a pass later (reconciler.ts). A wrong forecast costs a read, never an event.
 */
export class EndForecast {
  readonly #lengths: number[] = []

  /** A run ended: its length (from Cloud Run's start and completion times) joins the forecast. */
  ended (execution: Execution): void {
    const length = timeOf(execution.status?.completionTime) - timeOf(execution.status?.startTime)
    if (!(length >= 0)) return
    this.#lengths.push(length)
    if (this.#lengths.length > KEPT) this.#lengths.shift()
  }

  /** Epoch ms when the first of `running` is likely to end after `now` (plus the lag); undefined when nothing is forecast. */
  nextEnd (running: Iterable<Execution>, now: number): number | undefined {
    if (this.#lengths.length < MIN_LENGTHS) return undefined
    const sorted = [...this.#lengths].sort((a, b) => a - b)
    const typical = sorted[Math.floor(sorted.length / 2)] as number
    let next: number | undefined
    for (const execution of running) {
      const end = timeOf(execution.status?.startTime) + typical + FORECAST_LAG_MS
      if (end > now && (next === undefined || end < next)) next = end
    }
    return next
  }
}
