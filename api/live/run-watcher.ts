import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import { runNotFoundMessage } from '../cloudrun/errors.js'
import type { Execution } from '../cloudrun/execution.js'
import { isTerminal } from '../../common/run-state.js'
import { executionState } from '../cloudrun/mapping.js'
import { ApiError, apiErrorOf, notFound } from '../errors.js'
import { jsonBytes, FinishedCache } from './finished-cache.js'
import { Backoff, RUN_POLL, type PollSchedule } from './poll-schedule.js'
import { LiveLoops, watchKey } from './live-loops.js'
import { NotFoundCache } from './not-found-cache.js'
import { PollTimer } from './poll-timer.js'
import type { ReadBudget, Reader } from './read-budget.js'

/** The tenant check: the execution when this caller may see it, else the 404 of a missing run. */
export type SeeRun = (execution: Execution) => Execution

/** Who asks about a run: whose share of the budget pays, and what they may see. */
export interface RunAsker { reader: Reader, see: SeeRun }

/** The readers a subscription draws on when its watcher reads (a log tail's change as callers come and go). */
export type Readers = () => Iterable<Reader>

/** What a watcher tells its subscribers: the execution (raw, so tenant checks can read its spec) or why there is none. */
export type RunUpdate =
  | { kind: 'run', execution: Execution, ended: boolean }
  | { kind: 'error', error: ApiError }

export type RunListener = (update: RunUpdate) => void

/** Who else follows runs on this instance (the job's reconciler, api/lifecycle/): its view is read instead of Cloud Run. */
export interface RunFollower {
  /** The run's execution as last seen, when this instance follows the run (it then reports every change through observe). */
  latest: (entry: JobEntry, name: string) => Execution | undefined
  /** The run as a recent pass saw it, waiting for the next pass when the last is older than `maxAgeMs` or something changed. */
  current: (entry: JobEntry, name: string, maxAgeMs: number) => Promise<Execution | undefined>
  /** A reader waits on a followed run: look soon. */
  hurry: (entry: JobEntry) => void
}

export interface RunWatchersOptions {
  cloudRun: Pick<CloudRunClient, 'getExecution'>
  budget: ReadBudget
  finished?: FinishedCache<Execution>
  notFound?: NotFoundCache
  now?: () => number
  schedule?: PollSchedule
  /** Local mode: resolves when the emulator has ended the run, so the watcher reads at once instead of at its next poll. */
  runEnded?: (entry: JobEntry, name: string) => Promise<unknown>
  /** A plain read reuses an answer this fresh instead of asking again. */
  freshMs?: number
}

export const ended = (execution: Execution): boolean => isTerminal(executionState(execution))

/** An upstream read of a moment ago (or still under way), shared by concurrent readers, and who paid for it. */
interface RecentRead { at: number, read: Promise<Execution>, paidBy: Set<Reader>, settled: boolean }

/** Whether `see` lets the execution through. */
function visible (see: SeeRun, execution: Execution): boolean {
  try {
    see(execution)
    return true
  } catch {
    return false
  }
}

/** Why a read must not be retried at once; a 429 from Cloud Run closes the budget for its Retry-After. */
export function noteFailure (budget: ReadBudget, error: unknown): ApiError {
  const apiError = apiErrorOf(error) ?? new ApiError('INTERNAL', 'reading the run failed', { cause: error })
  if (apiError.status === 'RESOURCE_EXHAUSTED') budget.rateLimited(apiError.retryAfterSeconds)
  return apiError
}

/** One upstream poll loop for one execution, shared by everyone interested in it. */
class RunWatcher {
  /** Each listener, and the readers whose shares pay for the reads it wants. */
  readonly listeners = new Map<RunListener, Readers>()
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

  /** `seed`: a read of a moment ago (the look a `?wait` or stream began with) is the first answer, instead of a second read. */
  start (seed?: Promise<Execution>): void {
    this.#owner.options.runEnded?.(this.entry, this.name).then(() => { this.poke() }, () => {})
    // Not synchronously: the subscriber is not registered with its caller yet.
    if (seed === undefined) queueMicrotask(() => { this.poke() })
    else seed.then(execution => { if (!this.#poll.stopped) this.update(execution) }, () => { this.poke() })
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
    // A run the job's reconciler follows here: its view is the run's state; no read of our own.
    const followed = this.#owner.follower?.latest(this.entry, this.name)
    if (followed !== undefined) {
      this.#owner.follower?.hurry(this.entry)
      this.update(followed)
      return
    }
    const { budget } = this.#owner.options
    const readers = [...this.listeners.values()].flatMap(readersOf => [...readersOf()])
    // Spent shares: subscribers keep what they have, the loop just comes back later.
    if (!budget.tryTakeAny(readers)) {
      if (this.execution === undefined) this.#emit({ kind: 'error', error: budget.spent('Cloud Run', readers) })
      this.#poll.afterBudget(budget.waitMs(readers))
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
      else this.#poll.afterBudget(budget.waitMs(readers), this.#backoff.after(false))
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
    for (const listener of [...this.listeners.keys()]) listener(update)
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
  readonly notFound: NotFoundCache
  readonly #watchers = new LiveLoops<RunWatcher>()
  readonly #recent = new Map<string, RecentRead>()
  readonly #now: () => number
  /** Set once the lifecycle exists (services.ts): runs it follows are not read again here. */
  follower: RunFollower | undefined

  constructor (options: RunWatchersOptions) {
    this.options = options
    this.#now = options.now ?? Date.now
    this.finished = options.finished ?? new FinishedCache<Execution>({ maxItems: 1000, maxBytes: 8 * 1024 * 1024, sizeOf: jsonBytes })
    this.notFound = options.notFound ?? new NotFoundCache({ now: this.#now })
  }

  /** Live watchers and their pending timers: what leak tests count. */
  get size (): number { return this.#watchers.size }
  get timers (): number { return this.#watchers.values().filter(watcher => watcher.hasTimer).length }

  /**
   * Calls `listener` with the run now and on every change until it ends; returns the unsubscribe.
   * A finished run is answered from the cache, without a watcher.
   */
  subscribe (entry: JobEntry, name: string, listener: RunListener, readers: Readers): () => void {
    const key = watchKey(entry, name)
    const done = this.finished.get(key)
    if (done !== undefined) {
      let active = true
      queueMicrotask(() => { if (active) listener({ kind: 'run', execution: done, ended: true }) })
      return () => { active = false }
    }
    const schedule = this.options.schedule ?? RUN_POLL
    const { loop: watcher, fresh } = this.#watchers.obtain(entry, name, () => new RunWatcher(entry, name, this, schedule))
    watcher.listeners.set(listener, readers)
    if (fresh) watcher.start(this.#fresh(key)?.read)
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
   * The run as it is now, as `asker` may see it: a run it may see from the finished cache or a
   * watcher's latest, free; anything else costs one read of its share, paid before anything is
   * known, then a read a moment ago (concurrent readers share it) or one upstream read. So a
   * missing run and another tenant's cost and answer the same, cached or not; the 404 is then
   * remembered for this reader a few seconds (repeated random names cost nothing more).
   */
  async look (entry: JobEntry, name: string, asker: RunAsker): Promise<Execution> {
    const key = watchKey(entry, name)
    const missing = (): ApiError => notFound(runNotFoundMessage(entry, name))
    if (this.notFound.has(asker.reader, key)) throw missing()
    const known = this.finished.get(key) ?? this.#watchers.get(entry, name)?.execution ?? await this.#followed(entry, name, key)
    if (known !== undefined && visible(asker.see, known)) return known
    try {
      // This reader's own read of a moment ago is shared for free: it says nothing of anyone else's runs.
      const recent = this.#fresh(key)
      if (recent?.paidBy.has(asker.reader) === true) return asker.see(await recent.read)
      const { budget } = this.options
      if (!budget.tryTake(asker.reader)) throw budget.spent('Cloud Run', asker.reader)
      if (known !== undefined) throw missing()
      return asker.see(await this.#read(entry, name, key, asker.reader))
    } catch (error) {
      if (apiErrorOf(error)?.httpCode === 404) this.notFound.add(asker.reader, key)
      throw error
    }
  }

  /** A run this instance's reconciler follows, as fresh as a read would be (it may have ended meanwhile: the cache has it then). */
  async #followed (entry: JobEntry, name: string, key: string): Promise<Execution | undefined> {
    const seen = await this.follower?.current(entry, name, this.options.freshMs ?? 1_000)
    return this.finished.get(key) ?? seen
  }

  /** A read still under way, or answered less than `freshMs` after it began. */
  #fresh (key: string): RecentRead | undefined {
    const recent = this.#recent.get(key)
    return recent !== undefined && (!recent.settled || this.#now() - recent.at < (this.options.freshMs ?? 1_000)) ? recent : undefined
  }

  /** A read a moment ago, or one upstream read (paid for by `reader`). */
  async #read (entry: JobEntry, name: string, key: string, reader: Reader): Promise<Execution> {
    const recent = this.#fresh(key)
    if (recent !== undefined) {
      recent.paidBy.add(reader)
      return await recent.read
    }
    const { budget } = this.options
    const read: Promise<Execution> = this.options.cloudRun.getExecution(entry, name).then(execution => {
      const recent = this.#recent.get(key)
      if (recent?.read === read) recent.settled = true
      budget.succeeded()
      this.observe(entry, execution)
      return execution
    }, (error: unknown) => {
      this.#recent.delete(key)
      throw noteFailure(budget, error)
    })
    this.#remember(key, { at: this.#now(), read, paidBy: new Set([reader]), settled: false })
    return await read
  }

  #remember (key: string, value: RecentRead): void {
    this.#recent.delete(key)
    this.#recent.set(key, value)
    // Oldest first: drop what is no longer fresh, so the map stays small.
    for (const [oldKey, old] of this.#recent) {
      if (value.at - old.at < (this.options.freshMs ?? 1_000)) break
      if (old.settled) this.#recent.delete(oldKey)
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
