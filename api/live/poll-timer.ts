/** The shortest wait after the read budget refused a read, so a spent budget is not spun on. */
const SPENT_BUDGET_FLOOR_MS = 100

/** The next read of one poll loop: at most one pending, unref'd (a poll never keeps the process up), none once stopped. */
export class PollTimer {
  #timer: NodeJS.Timeout | undefined
  #dueAt = 0
  #stopped = false
  readonly #read: () => void

  constructor (read: () => void) {
    this.#read = read
  }

  get pending (): boolean { return this.#timer !== undefined }

  get stopped (): boolean { return this.#stopped }

  /** Read again in `ms`, replacing any pending read. */
  after (ms: number): void {
    if (this.#stopped) return
    this.cancel()
    this.#dueAt = Date.now() + ms
    this.#timer = setTimeout(() => { this.#timer = undefined; this.#read() }, ms)
    this.#timer.unref()
  }

  /** Read again in `ms` unless a read is already due sooner. */
  sooner (ms: number): void {
    if (this.#stopped) return
    const dueAt = Date.now() + ms
    if (this.#timer !== undefined && this.#dueAt <= dueAt) return
    this.after(ms)
  }

  /** Read again once the budget has room again (`budgetWaitMs`, from ReadBudget.waitMs), and no sooner than `atLeastMs`. */
  afterBudget (budgetWaitMs: number, atLeastMs = SPENT_BUDGET_FLOOR_MS): void {
    this.after(Math.max(budgetWaitMs, atLeastMs))
  }

  /** Drop the pending read (a read is about to happen now). */
  cancel (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  stop (): void {
    this.#stopped = true
    this.cancel()
  }
}
