import type { Logger } from 'pino'
import type { JobEntry } from '../catalog.js'
import type { EventFeed, RunLifecycle, RunRecord } from '../lifecycle/index.js'

/** A watched run as its job's queue last showed it: its record and, while it is queued, its place (1 = next). */
export interface QueueView { record: RunRecord, position?: number }

/** Told after every look at the run's job: its view, or undefined when its record is gone. */
export type QueueListener = (view: QueueView | undefined) => void

export interface QueueWatchOptions {
  lifecycle: Pick<RunLifecycle, 'queuedRecord' | 'positions'>
  /** Every run event of every instance: what says a job's queue moved. */
  feed: Pick<EventFeed, 'follow'>
  log: Logger
  /** Least time between two looks at one job's queue, however many events come (a queue of 10,000 moves constantly). */
  minIntervalMs?: number
  /** A watched job is looked at this often anyway: a claimed run put back in its place has no event. */
  idleMs?: number
  now?: () => number
}

const MIN_INTERVAL_MS = 1_000
const IDLE_MS = 10_000

/**
 * Queued runs that someone follows (their event streams), looked at from jobgate's own records, never
 * from Cloud Run: one look per job for all its watched runs, when a run event of the job says its queue
 * moved (at most once per `minIntervalMs`) or after `idleMs` without one.
 */
export class QueueWatch {
  readonly #options: QueueWatchOptions
  readonly #jobs = new Map<string, JobQueueWatch>()
  #stopFeed: (() => void) | undefined

  constructor (options: QueueWatchOptions) {
    this.#options = options
  }

  /** Jobs watched now (tests). */
  get jobs (): number { return this.#jobs.size }

  /** Tells `listener` about the queued run `id` of `entry` after each look; the returned function stops. */
  watch (entry: JobEntry, id: string, listener: QueueListener): () => void {
    let job = this.#jobs.get(entry.id)
    if (job === undefined) this.#jobs.set(entry.id, job = new JobQueueWatch(entry, this.#options))
    const unwatch = job.add(id, listener)
    this.#stopFeed ??= this.#options.feed.follow(undefined, {
      events: events => { for (const event of events) this.#jobs.get(event.job)?.soon() },
      gap: () => {}
    })
    return () => {
      unwatch()
      if (!job.idle || this.#jobs.get(entry.id) !== job) return
      job.stop()
      this.#jobs.delete(entry.id)
      if (this.#jobs.size > 0) return
      this.#stopFeed?.()
      this.#stopFeed = undefined
    }
  }
}

/** One job's watched queued runs: looked at together, one look at a time. */
class JobQueueWatch {
  readonly #entry: JobEntry
  readonly #options: QueueWatchOptions
  readonly #now: () => number
  readonly #listeners = new Map<string, Set<QueueListener>>()
  #timer: NodeJS.Timeout | undefined
  #due = 0
  #lastLook = Number.NEGATIVE_INFINITY
  #looking = false
  #again = false
  #stopped = false

  constructor (entry: JobEntry, options: QueueWatchOptions) {
    this.#entry = entry
    this.#options = options
    this.#now = options.now ?? Date.now
  }

  get idle (): boolean { return this.#listeners.size === 0 }

  add (id: string, listener: QueueListener): () => void {
    let listeners = this.#listeners.get(id)
    if (listeners === undefined) this.#listeners.set(id, listeners = new Set())
    listeners.add(listener)
    // What changed between the caller's own read and now is told at the next look.
    this.soon()
    return () => {
      listeners.delete(listener)
      if (listeners.size === 0 && this.#listeners.get(id) === listeners) this.#listeners.delete(id)
    }
  }

  /** The queue moved: look again as soon as the interval allows (a look under way looks once more after it). */
  soon (): void {
    if (this.#looking) { this.#again = true; return }
    this.#schedule(this.#lastLook + (this.#options.minIntervalMs ?? MIN_INTERVAL_MS))
  }

  stop (): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  /** A look at `at`, unless one is due sooner. */
  #schedule (at: number): void {
    if (this.#stopped || (this.#timer !== undefined && this.#due <= at)) return
    clearTimeout(this.#timer)
    this.#due = at
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#look()
    }, Math.max(0, at - this.#now()))
    this.#timer.unref()
  }

  async #look (): Promise<void> {
    this.#looking = true
    this.#lastLook = this.#now()
    try {
      const { lifecycle } = this.#options
      const ids = [...this.#listeners.keys()]
      const records = await Promise.all(ids.map(async id => await lifecycle.queuedRecord(this.#entry, id)))
      const queued = records.filter((record): record is RunRecord => record?.phase === 'queued')
      const places = await lifecycle.positions(queued)
      const positions = new Map(queued.map((record, at) => [record.id, places[at]]))
      ids.forEach((id, at) => {
        const record = records[at]
        const position = positions.get(id)
        const view = record === undefined ? undefined : { record, ...(position !== undefined && { position }) }
        for (const listener of [...this.#listeners.get(id) ?? []]) listener(view)
      })
    } catch (err) {
      this.#options.log.warn({ err, job: this.#entry.id }, `queue: could not read the queue of job "${this.#entry.id}"; trying again`)
    } finally {
      this.#looking = false
    }
    const again = this.#again
    this.#again = false
    if (again) this.soon()
    else this.#schedule(this.#now() + (this.#options.idleMs ?? IDLE_MS))
  }
}
