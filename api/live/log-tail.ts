import type { JobEntry } from '../catalog.js'
import type { Execution } from '../cloudrun/execution.js'
import { ApiError, apiErrorOf } from '../errors.js'
import type { CloudLoggingClient, RunLogEntry } from '../logging/client.js'
import { jsonBytes, FinishedCache } from './finished-cache.js'
import { Backoff, LOG_POLL, type PollSchedule } from './poll-schedule.js'
import { LiveLoops, watchKey } from './live-loops.js'
import { PollTimer } from './poll-timer.js'
import type { ReadBudget, Reader } from './read-budget.js'
import type { RunUpdate, RunWatchers } from './run-watcher.js'

/** Lines can reach Cloud Logging late and out of order: each read reaches this far behind the newest line seen. */
export const LATE_ARRIVAL_MS = 30_000
/** Cloud Logging's ingestion delay: after a run ends its tail keeps reading this long, then once more. */
export const CLOUD_LOG_GRACE_MS = 10_000
/** A plain read of a live run's logs keeps its tail this long, so clients polling the logs route share it. */
export const PLAIN_READ_LINGER_MS = 10_000
const PAGE_SIZE = 1000
const MAX_PAGES_PER_READ = 50

/** An entry's identity: Cloud Logging's insertId, else everything it says. */
export const entryKey = (entry: RunLogEntry): string =>
  entry.insertId ?? JSON.stringify([entry.timestamp, entry.taskIndex, entry.severity, entry.message, entry.payload])

export interface LogTailsOptions {
  logs: Pick<CloudLoggingClient, 'runEntries'>
  budget: ReadBudget
  runs: RunWatchers
  finished?: FinishedCache<RunLogEntry[]>
  schedule?: PollSchedule
  /** How long to keep reading after the run ended (Cloud Logging's ingestion delay); 0 in local mode. */
  graceMs?: number
  lingerMs?: number
}

export type TailListener = () => void

/** One run's log as this instance has read it: each entry once, in the order read, shared by every follower. */
export class LogTail {
  readonly entries: RunLogEntry[] = []
  readonly listeners = new Set<TailListener>()
  /** The first read is done: `entries` is what the log held then. */
  loaded = false
  /** The run ended, the grace period passed and a last read found everything: nothing more will come. */
  complete = false
  /** Why the tail cannot go on (the run does not exist, may not be read). */
  error: ApiError | undefined
  /** The last read was refused by the budget: what is here may be behind. */
  behind = false
  execution: Execution | undefined
  readonly #seen = new Set<string>()
  readonly #backoff: Backoff
  #newestMs = Number.NEGATIVE_INFINITY
  #endedAt: number | undefined
  readonly #poll = new PollTimer(() => { void this.#read() })
  #lingerTimer: NodeJS.Timeout | undefined
  #reading = false
  #unsubscribeRun: (() => void) | undefined
  leases = 0
  /** Whose shares of the budget pay for the reads: the followers, and who read it plainly within the linger period. */
  readonly #followers = new Map<Reader, number>()
  readonly #plainReaders = new Map<Reader, number>()

  readonly #owner: LogTails

  constructor (readonly entry: JobEntry, readonly name: string, owner: LogTails) {
    this.#owner = owner
    this.#backoff = new Backoff(owner.options.schedule ?? LOG_POLL)
  }

  get timers (): number { return (this.#poll.pending ? 1 : 0) + (this.#lingerTimer === undefined ? 0 : 1) }

  start (): void {
    const onRun = (update: RunUpdate): void => { this.#onRun(update) }
    this.#unsubscribeRun = this.#owner.options.runs.subscribe(this.entry, this.name, onRun, () => this.readers())
  }

  /** The readers interested now. */
  readers (): Reader[] {
    const lingering = Date.now() - (this.#owner.options.lingerMs ?? PLAIN_READ_LINGER_MS)
    for (const [reader, at] of this.#plainReaders) if (at < lingering) this.#plainReaders.delete(reader)
    return [...new Set([...this.#followers.keys(), ...this.#plainReaders.keys()])]
  }

  /** `reader` follows the tail until the returned function is called. */
  addFollower (reader: Reader): () => void {
    this.#followers.set(reader, (this.#followers.get(reader) ?? 0) + 1)
    return () => {
      const left = (this.#followers.get(reader) ?? 1) - 1
      if (left === 0) this.#followers.delete(reader)
      else this.#followers.set(reader, left)
    }
  }

  /** `reader` read the tail plainly just now. */
  addPlainReader (reader: Reader): void {
    this.#plainReaders.delete(reader)
    this.#plainReaders.set(reader, Date.now())
  }

  #onRun (update: RunUpdate): void {
    if (update.kind === 'error') {
      if (update.error.httpCode === 404 || update.error.httpCode === 403) this.#fail(update.error)
      return
    }
    const first = this.execution === undefined
    this.execution = update.execution
    if (update.ended && this.#endedAt === undefined) {
      const completion = Date.parse(update.execution.status?.completionTime ?? '')
      this.#endedAt = Number.isNaN(completion) ? Date.now() : Math.min(completion, Date.now())
    }
    // The run's start bounds the log search, so the first read waits for the run; an end means: read soon.
    if (first || update.ended) this.#poke()
  }

  #poke (): void {
    if (this.#poll.stopped || this.#reading) return
    this.#poll.cancel()
    void this.#read()
  }

  async #read (): Promise<void> {
    if (this.#reading || this.#poll.stopped || this.execution === undefined) return
    const { budget, logs } = this.#owner.options
    const readers = this.readers()
    if (!budget.tryTakeAny(readers)) {
      this.behind = true
      this.#notify()
      this.#poll.afterBudget(budget.waitMs(readers))
      return
    }
    this.#reading = true
    const startedAt = Date.now()
    const createTime = this.execution.metadata?.creationTimestamp
    const since = Number.isFinite(this.#newestMs) ? new Date(this.#newestMs - LATE_ARRIVAL_MS).toISOString() : undefined
    let fresh = 0
    try {
      let pageToken: string | undefined
      for (let page = 0; page < MAX_PAGES_PER_READ; page++) {
        // Pages after the first also spend budget; if it runs out mid-way, the rest comes next time.
        if (page > 0 && !budget.tryTakeAny(readers)) { this.behind = true; break }
        const result = await logs.runEntries(this.entry, { name: this.name, ...(createTime !== undefined && { createTime }) }, {
          pageSize: PAGE_SIZE,
          ...(pageToken !== undefined && { pageToken }),
          ...(since !== undefined && { since })
        })
        budget.succeeded()
        fresh += this.#add(result.entries)
        if (result.nextPageToken === undefined) { this.behind = false; break }
        pageToken = result.nextPageToken
      }
    } catch (error) {
      this.#reading = false
      const apiError = apiErrorOf(error) ?? new ApiError('INTERNAL', 'reading the run\'s logs failed', { cause: error })
      if (apiError.status === 'RESOURCE_EXHAUSTED') budget.rateLimited(apiError.retryAfterSeconds)
      if (!this.loaded && apiError.httpCode < 500 && apiError.httpCode !== 429) { this.#fail(apiError); return }
      this.behind = true
      this.#notify()
      this.#poll.afterBudget(budget.waitMs(readers), this.#backoff.after(false))
      return
    }
    this.#reading = false
    this.loaded = true
    const graceMs = this.#owner.options.graceMs ?? CLOUD_LOG_GRACE_MS
    if (this.#endedAt !== undefined && !this.behind && startedAt >= this.#endedAt + graceMs) {
      this.complete = true
      this.#owner.completed(this)
      this.#notify()
      return
    }
    this.#notify()
    const pause = this.#backoff.after(fresh > 0)
    // After the end, the last read comes right when the grace period is over.
    this.#poll.after(this.#endedAt === undefined ? pause : Math.min(pause, Math.max(0, this.#endedAt + graceMs - Date.now())))
  }

  /** Appends what is new, in timestamp order within the read; returns how many were new. */
  #add (entries: RunLogEntry[]): number {
    let fresh = 0
    for (const entry of entries) {
      const key = entryKey(entry)
      if (this.#seen.has(key)) continue
      this.#seen.add(key)
      this.entries.push(entry)
      fresh++
      const at = Date.parse(entry.timestamp)
      if (!Number.isNaN(at) && at > this.#newestMs) this.#newestMs = at
    }
    return fresh
  }

  #fail (error: ApiError): void {
    this.error = error
    this.#notify()
    this.#owner.drop(this)
  }

  #notify (): void {
    for (const listener of [...this.listeners]) listener()
  }

  /** A plain read's interest: keeps the tail for the linger period after the last such read. */
  linger (ms: number): void {
    if (this.#poll.stopped) return
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer)
    this.#lingerTimer = setTimeout(() => { this.#lingerTimer = undefined; this.#owner.release(this) }, ms)
    this.#lingerTimer.unref()
  }

  get lingering (): boolean { return this.#lingerTimer !== undefined }

  stop (): void {
    this.#poll.stop()
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer)
    this.#lingerTimer = undefined
    this.#unsubscribeRun?.()
    this.#unsubscribeRun = undefined
  }
}

/**
 * One log tail per execution for this instance, shared by stream subscribers and readers of the
 * logs route. A finished run's whole log is kept in a cache bounded by bytes (least recently used
 * goes first) and served from there.
 */
export class LogTails {
  readonly options: LogTailsOptions
  readonly finished: FinishedCache<RunLogEntry[]>
  readonly #tails = new LiveLoops<LogTail>()

  constructor (options: LogTailsOptions) {
    this.options = options
    this.finished = options.finished ?? new FinishedCache<RunLogEntry[]>({ maxItems: 500, maxBytes: 32 * 1024 * 1024, sizeOf: jsonBytes })
  }

  get size (): number { return this.#tails.size }
  get timers (): number { return this.#tails.values().reduce((sum, tail) => sum + tail.timers, 0) }

  /** The finished run's whole log, when this instance has it. */
  finishedLog (entry: JobEntry, name: string): RunLogEntry[] | undefined {
    return this.finished.get(watchKey(entry, name))
  }

  /** Follows a run's log on `reader`'s share; `listener` hears of every change. Returns the tail and the unsubscribe. */
  follow (entry: JobEntry, name: string, reader: Reader, listener: TailListener): { tail: LogTail, stop: () => void } {
    const tail = this.#tailFor(entry, name)
    const unfollow = tail.addFollower(reader)
    tail.listeners.add(listener)
    tail.leases++
    let stopped = false
    return {
      tail,
      stop: () => {
        if (stopped) return
        stopped = true
        unfollow()
        tail.listeners.delete(listener)
        this.release(tail)
      }
    }
  }

  /** A plain read on `reader`'s share: the shared tail, kept a while for the next read; resolves once it has read (or cannot). */
  async read (entry: JobEntry, name: string, reader: Reader): Promise<LogTail> {
    const tail = this.#tailFor(entry, name)
    tail.addPlainReader(reader)
    if (!tail.lingering) tail.leases++
    tail.linger(this.options.lingerMs ?? PLAIN_READ_LINGER_MS)
    if (tail.loaded || tail.error !== undefined) return tail
    return await new Promise<LogTail>(resolve => {
      const listener = (): void => {
        if (!tail.loaded && tail.error === undefined && !tail.behind) return
        tail.listeners.delete(listener)
        resolve(tail)
      }
      tail.listeners.add(listener)
    })
  }

  #tailFor (entry: JobEntry, name: string): LogTail {
    const { loop: tail, fresh } = this.#tails.obtain(entry, name, () => new LogTail(entry, name, this))
    if (fresh) tail.start()
    return tail
  }

  /** One interest fewer; the last one stops the tail. */
  release (tail: LogTail): void {
    tail.leases = Math.max(0, tail.leases - 1)
    if (tail.leases === 0) this.drop(tail)
  }

  /** Everything has been read: keep the whole log, stop reading. */
  completed (tail: LogTail): void {
    this.finished.set(watchKey(tail.entry, tail.name), tail.entries)
    this.drop(tail)
  }

  drop (tail: LogTail): void {
    this.#tails.drop(tail)
  }

  close (): void {
    this.#tails.close()
  }
}
