import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution } from '../cloudrun/execution.js'
import { isTerminal } from '../../common/run-state.js'
import { executionState } from '../cloudrun/mapping.js'
import { ApiError, apiErrorOf } from '../errors.js'
import { jsonBytes, FinishedCache } from './finished-cache.js'
import { Backoff, RUN_POLL, type PollSchedule } from './poll-schedule.js'
import { LiveLoops, watchKey } from './live-loops.js'
import { PollTimer } from './poll-timer.js'
import type { ReadBudget } from './read-budget.js'

/** What a watcher tells its subscribers: the execution (raw, so tenant checks can read its spec) or why there is none. */
export type RunUpdate =
  | { kind: 'run', execution: Execution, ended: boolean }
  | { kind: 'error', error: ApiError }

export type RunListener = (update: RunUpdate) => void

export interface RunWatchersOptions {
  cloudRun: Pick<CloudRunClient, 'getExecution'>
  budget: ReadBudget
  finished?: FinishedCache<Execution>
  schedule?: PollSchedule
  /** Local mode: resolves when the emulator has ended the run, so the watcher reads at once instead of at its next poll. */
  runEnded?: (entry: JobEntry, name: string) => Promise<unknown>
  /** A plain read reuses an answer this fresh instead of asking again. */
  freshMs?: number
}

export const ended = (execution: Execution): boolean => isTerminal(executionState(execution))
export const budgetSpent = (budget: ReadBudget): ApiError => new ApiError('RESOURCE_EXHAUSTED',
  `jobgate's Cloud Run read budget (${budget.perMinute} per minute) is spent for now; retry in ${budget.retryAfterSeconds()} s`,
  { retryAfterSeconds: budget.retryAfterSeconds() })

/** Why a read must not be retried at once; a 429 from Cloud Run closes the budget for its Retry-After. */
export function noteFailure (budget: ReadBudget, error: unknown): ApiError {
  const apiError = apiErrorOf(error) ?? new ApiError('INTERNAL', 'reading the run failed', { cause: error })
  if (apiError.status === 'RESOURCE_EXHAUSTED') budget.rateLimited(apiError.retryAfterSeconds)
  return apiError
}

/** One upstream poll loop for one execution, shared by everyone interested in it. */
class RunWatcher {
  readonly listeners = new Set<RunListener>()
  execution: Execution | undefined
  readonly #poll = new PollTimer(() => { void this.#read() })
  #reading = false
  readonly #backoff: Backoff

  readonly #owner: RunWatchers

  constructor (readonly entry: JobEntry, readonly name: string, owner: RunWatchers, schedule: PollSchedule) {
    this.#owner = owner
    this.#backoff = new Backoff(schedule)
  }

  get hasTimer (): boolean { return this.#poll.pending }

  start (): void {
    this.#owner.options.runEnded?.(this.entry, this.name).then(() => { this.poke() }, () => {})
    // Not synchronously: the subscriber is not registered with its caller yet.
    queueMicrotask(() => { this.poke() })
  }

  /** Read now (unless a read is under way). */
  poke (): void {
    if (this.#poll.stopped) return
    this.#poll.cancel()
    void this.#read()
  }

  stop (): void {
    this.#poll.stop()
  }

  async #read (): Promise<void> {
    if (this.#reading || this.#poll.stopped) return
    const { budget } = this.#owner.options
    // Spent budget: subscribers keep what they have, the loop just comes back later.
    if (!budget.tryTake()) {
      if (this.execution === undefined) this.#emit({ kind: 'error', error: budgetSpent(budget) })
      this.#poll.afterBudget(budget)
      return
    }
    this.#reading = true
    try {
      const execution = await this.#owner.options.cloudRun.getExecution(this.entry, this.name)
      budget.succeeded()
      this.#reading = false
      this.#owner.observe(this.entry, execution)
    } catch (error) {
      this.#reading = false
      const apiError = noteFailure(budget, error)
      this.#emit({ kind: 'error', error: apiError })
      // A run that does not exist (or may not be read) will not appear: stop; anything else is retried later.
      if (apiError.httpCode === 404 || apiError.httpCode === 403) this.#owner.drop(this)
      else this.#poll.afterBudget(budget, this.#backoff.after(false))
    }
  }

  /** A fresh execution, from this loop or from elsewhere (a start, a cancel). */
  update (execution: Execution): void {
    const changed = this.execution === undefined || JSON.stringify(this.execution) !== JSON.stringify(execution)
    this.execution = execution
    const isEnded = ended(execution)
    if (changed || isEnded) this.#emit({ kind: 'run', execution, ended: isEnded })
    if (isEnded) this.#owner.drop(this)
    else if (!this.#reading) this.#poll.after(this.#backoff.after(changed))
  }

  #emit (update: RunUpdate): void {
    for (const listener of [...this.listeners]) listener(update)
  }
}

/**
 * Every run watched by this instance: at most one upstream poll loop per execution, started by
 * the first subscriber and stopped when the last one leaves or the run ends. Finished runs are
 * kept in a bounded cache, so reading one again costs nothing upstream.
 */
export class RunWatchers {
  readonly options: RunWatchersOptions
  readonly finished: FinishedCache<Execution>
  readonly #watchers = new LiveLoops<RunWatcher>()
  readonly #recent = new Map<string, { at: number, read: Promise<Execution> }>()

  constructor (options: RunWatchersOptions) {
    this.options = options
    this.finished = options.finished ?? new FinishedCache<Execution>({ maxItems: 1000, maxBytes: 8 * 1024 * 1024, sizeOf: jsonBytes })
  }

  /** Live watchers and their pending timers: what leak tests count. */
  get size (): number { return this.#watchers.size }
  get timers (): number { return this.#watchers.values().filter(watcher => watcher.hasTimer).length }

  /**
   * Calls `listener` with the run now and on every change until it ends; returns the unsubscribe.
   * A finished run is answered from the cache, without a watcher.
   */
  subscribe (entry: JobEntry, name: string, listener: RunListener): () => void {
    const key = watchKey(entry, name)
    const done = this.finished.get(key)
    if (done !== undefined) {
      let active = true
      queueMicrotask(() => { if (active) listener({ kind: 'run', execution: done, ended: true }) })
      return () => { active = false }
    }
    const schedule = this.options.schedule ?? RUN_POLL
    const { loop: watcher, fresh } = this.#watchers.obtain(entry, name, () => new RunWatcher(entry, name, this, schedule))
    watcher.listeners.add(listener)
    if (fresh) watcher.start()
    else if (watcher.execution !== undefined) {
      const { execution } = watcher
      queueMicrotask(() => { if (watcher.listeners.has(listener)) listener({ kind: 'run', execution, ended: false }) })
    }
    return () => {
      watcher.listeners.delete(listener)
      if (watcher.listeners.size === 0) this.drop(watcher)
    }
  }

  /**
   * The run as it is now, for a plain read: the finished cache, a watcher's latest, a read
   * a moment ago, or one budgeted read (concurrent readers share it). `stale` says the budget
   * is spent and the answer is the last one known.
   */
  async current (entry: JobEntry, name: string): Promise<Execution> {
    const key = watchKey(entry, name)
    const known = this.finished.get(key) ?? this.#watchers.get(entry, name)?.execution
    if (known !== undefined) return known
    const now = Date.now()
    const recent = this.#recent.get(key)
    if (recent !== undefined && now - recent.at < (this.options.freshMs ?? 1_000)) return await recent.read
    const { budget } = this.options
    if (!budget.tryTake()) throw budgetSpent(budget)
    const read = this.options.cloudRun.getExecution(entry, name).then(execution => {
      budget.succeeded()
      this.observe(entry, execution)
      return execution
    }, (error: unknown) => {
      this.#recent.delete(key)
      throw noteFailure(budget, error)
    })
    this.#remember(key, { at: now, read })
    return await read
  }

  #remember (key: string, value: { at: number, read: Promise<Execution> }): void {
    this.#recent.delete(key)
    this.#recent.set(key, value)
    // Oldest first: drop what is no longer fresh, so the map stays small.
    for (const [oldKey, old] of this.#recent) {
      if (value.at - old.at < (this.options.freshMs ?? 1_000)) break
      this.#recent.delete(oldKey)
    }
  }

  /** An execution read by anyone: watchers learn of it, and a finished one is cached. */
  observe (entry: JobEntry, execution: Execution): void {
    const name = execution.metadata?.name
    if (name === undefined) return
    const key = watchKey(entry, name)
    if (ended(execution)) this.finished.set(key, execution)
    this.#watchers.get(entry, name)?.update(execution)
  }

  /** Stops a watcher and forgets it. */
  drop (watcher: RunWatcher): void {
    this.#watchers.drop(watcher)
  }

  /** Stops every watcher (the app is closing). */
  close (): void {
    this.#watchers.close()
  }
}
