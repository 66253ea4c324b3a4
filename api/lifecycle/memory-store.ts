import type { EventCursor, RunEvent, RunRecord, StoredEvent } from './run-record.js'
import { ApiError } from '../errors.js'
import type { BatchCounts } from '../schemas/batch.js'
import { endedAs, noCounts, type BatchRecord } from './batch-record.js'
import { roundRobinPosition } from './queue-order.js'
import { claimedRecord, isAfter, requeuedRecord } from './run-record.js'
import { seqMs, SeqClock } from './seq.js'
import type { JobLeaseStore, LeaseClaim, LifecycleStore } from './store.js'

export interface MemoryLifecycleOptions {
  /** Events the log keeps for the firehose (oldest go first). */
  maxEvents?: number
  /** Events waiting for Pub/Sub; past it the oldest are dropped (`onDrop` tells). */
  maxUnpublished?: number
  /** Finished records kept for lookups by id. */
  maxFinished?: number
  /** Unfinished records; past it the oldest is given up (`onDrop` tells). Cloud Run runs at most 1,000 executions per region. */
  maxOpen?: number
  /** Queued runs (concurrency policy Queue); past it a start is refused with 429. */
  maxQueued?: number
  /** Batches kept (the oldest go first), each with how its ended runs ended. */
  maxBatches?: number
  now?: () => number
  onDrop?: (dropped: { event: StoredEvent } | { record: RunRecord }) => void
}

export const MEMORY_LIMITS = {
  maxEvents: 10_000, maxUnpublished: 10_000, maxFinished: 1_000, maxOpen: 10_000, maxQueued: 100_000, maxBatches: 1_000
}

/**
 * One instance's run records and events. Every method reads and writes without awaiting in between,
 * so none interleaves with another; records and events are copied in and out.
 */
export class MemoryLifecycleStore implements LifecycleStore {
  readonly shared = false
  readonly leases: MemoryJobLeases
  readonly #open = new Map<string, RunRecord>()
  readonly #queue = new MemoryQueue()
  readonly #finished = new Map<string, RunRecord>()
  /** Batches, and how each of their ended runs ended: finished records are let go of, a batch's counts are not. */
  readonly #batches = new Map<string, { record: BatchRecord, ended: Map<string, ReturnType<typeof endedAs>> }>()
  readonly #recorded = new Set<string>()
  /** The log in order, and by id. */
  readonly #log: StoredEvent[] = []
  readonly #logged = new Map<string, StoredEvent>()
  /** The log holds every event after this: its start (a restart forgets), then the last event it let go of. */
  #horizon: string
  readonly #unpublished = new Map<string, StoredEvent>()
  readonly #clock: SeqClock
  readonly #now: () => number
  readonly #limits: typeof MEMORY_LIMITS
  readonly #onDrop: NonNullable<MemoryLifecycleOptions['onDrop']>

  constructor (options: MemoryLifecycleOptions = {}) {
    this.#now = options.now ?? Date.now
    this.#clock = new SeqClock(this.#now)
    this.#horizon = this.#clock.next()
    this.#limits = { ...MEMORY_LIMITS, ...options }
    this.#onDrop = options.onDrop ?? (() => {})
    this.leases = new MemoryJobLeases(job => this.#hasWork(job))
  }

  /** What leak tests and the bench count. */
  get sizes (): { open: number, queued: number, finished: number, events: number, unpublished: number } {
    const { size: queued } = this.#queue
    return { open: this.#open.size, queued, finished: this.#finished.size, events: this.#log.length, unpublished: this.#unpublished.size }
  }

  async begin (record: RunRecord): Promise<void> {
    this.#open.set(record.id, structuredClone(record))
    if (this.#open.size > this.#limits.maxOpen) {
      const [oldest] = this.#open.values()
      if (oldest !== undefined) {
        this.#open.delete(oldest.id)
        this.#onDrop({ record: oldest })
      }
    }
  }

  async adopt (record: RunRecord): Promise<boolean> {
    if (this.#open.has(record.id) || this.#finished.has(record.id) || this.#queue.get(record.id) !== undefined) return false
    await this.begin(record)
    return true
  }

  async forget (id: string): Promise<void> {
    this.#open.delete(id)
  }

  async transition (record: RunRecord, event: RunEvent): Promise<StoredEvent | undefined> {
    if (this.#recorded.has(event.id)) return undefined
    this.#recorded.add(event.id)
    // A guard against recording twice is needed only while a run is followed: forget the oldest ids beyond a bound.
    if (this.#recorded.size > 4 * this.#limits.maxEvents) this.#recorded.delete(this.#recorded.values().next().value as string)
    const copy = structuredClone(record)
    if (copy.phase === 'finished') {
      this.#open.delete(copy.id)
      this.#keepFinished(copy)
    } else {
      this.#open.set(copy.id, copy)
    }
    const stored: StoredEvent = { ...structuredClone(event), seq: this.#clock.next(), published: false }
    this.#append(stored)
    return structuredClone(stored)
  }

  async enqueue (record: RunRecord, event: RunEvent): Promise<StoredEvent> {
    if (this.#queue.size >= this.#limits.maxQueued) {
      throw new ApiError('RESOURCE_EXHAUSTED', `jobgate's queue holds ${this.#limits.maxQueued} runs (memory, one instance); retry later`,
        { retryAfterSeconds: 60 })
    }
    this.#queue.add(structuredClone(record))
    return this.#log1(event)
  }

  async nextQueued (job: string, afterLane: string | undefined): Promise<RunRecord | undefined> {
    const next = this.#queue.next(job, afterLane)
    return next === undefined ? undefined : structuredClone(next)
  }

  async queued (job: string, limit: number, lane?: string): Promise<RunRecord[]> {
    const oldest = lane === undefined ? this.#queue.oldest(job, limit, () => true) : this.#queue.inLane(job, lane).slice(0, limit)
    return oldest.map(record => structuredClone(record))
  }

  async expiredQueued (job: string, now: number, limit: number): Promise<RunRecord[]> {
    return this.#queue.oldest(job, limit, record => (record.queue?.expiresAt ?? Infinity) <= now).map(record => structuredClone(record))
  }

  async positions (records: readonly RunRecord[]): Promise<number[]> {
    return records.map(record => this.#queue.position(record))
  }

  async claim (id: string): Promise<RunRecord | undefined> {
    const queued = this.#queue.take(id)
    if (queued === undefined) return undefined
    const claimed = claimedRecord(queued, this.#now())
    this.#open.set(id, claimed)
    return structuredClone(claimed)
  }

  async requeue (id: string): Promise<void> {
    const record = this.#open.get(id)
    if (record?.phase !== 'starting' || record.queue === undefined) return
    this.#open.delete(id)
    this.#queue.add(requeuedRecord(record))
  }

  async settle (record: RunRecord, event: RunEvent): Promise<StoredEvent | undefined> {
    if (this.#queue.take(record.id) === undefined) return undefined
    this.#keepFinished(structuredClone(record))
    this.#recorded.add(event.id)
    return this.#log1(event)
  }

  async createBatch (batch: BatchRecord, runs: ReadonlyArray<{ record: RunRecord, event: RunEvent }>): Promise<StoredEvent[]> {
    if (this.#queue.size + runs.length > this.#limits.maxQueued) {
      throw new ApiError('RESOURCE_EXHAUSTED',
        `jobgate's queue holds at most ${this.#limits.maxQueued} runs (memory, one instance); retry later`, { retryAfterSeconds: 60 })
    }
    const stored = runs.map(({ record, event }) => {
      this.#queue.add(structuredClone(record))
      return this.#log1(event)
    })
    this.#batches.set(batch.id, { record: structuredClone(batch), ended: new Map() })
    if (this.#batches.size > this.#limits.maxBatches) this.#batches.delete(this.#batches.keys().next().value as string)
    return stored
  }

  async batch (id: string): Promise<BatchRecord | undefined> {
    const batch = this.#batches.get(id)?.record
    return batch === undefined ? undefined : structuredClone(batch)
  }

  async batchCounts (batch: BatchRecord): Promise<BatchCounts> {
    const counts = noCounts()
    const ended = this.#batches.get(batch.id)?.ended
    for (const id of batch.runs) {
      const outcome = ended?.get(id)
      if (outcome !== undefined) counts[outcome]++
      else if (this.#queue.get(id) !== undefined) counts.queued++
      else counts.running++
    }
    return counts
  }

  async endBatch (batch: BatchRecord, event: RunEvent): Promise<StoredEvent | undefined> {
    const kept = this.#batches.get(batch.id)
    if (kept === undefined || kept.record.ended !== undefined) return undefined
    kept.record = structuredClone(batch)
    return this.#log1(event)
  }

  async countOpen (jobs: readonly string[]): Promise<number> {
    return [...this.#open.values()].filter(record => jobs.includes(record.job)).length
  }

  async countRecentStarts (jobs: readonly string[], now: number): Promise<number> {
    const counts = (record: RunRecord): boolean => jobs.includes(record.job) && stillCounts(record, now)
    return [...this.#open.values()].filter(counts).length + [...this.#finished.values()].filter(counts).length
  }

  /** Appends an event that cannot have been recorded before (its run was queued until now). */
  #log1 (event: RunEvent): StoredEvent {
    const stored: StoredEvent = { ...structuredClone(event), seq: this.#clock.next(), published: false }
    this.#append(stored)
    return structuredClone(stored)
  }

  async record (id: string): Promise<RunRecord | undefined> {
    const record = this.#open.get(id) ?? this.#queue.get(id) ?? this.#finished.get(id)
    return record === undefined ? undefined : structuredClone(record)
  }

  async openRecords (job: string): Promise<RunRecord[]> {
    return [...this.#open.values()].filter(record => record.job === job).map(record => structuredClone(record))
  }

  async recordsSince (cursor: string | undefined): Promise<{ records: RunRecord[], cursor: string | undefined }> {
    // One instance hears of its own starts directly: nothing to catch up with.
    return { records: [], cursor }
  }

  horizon (retentionMs: number): string {
    const floor = this.#clock.at(this.#now() - retentionMs)
    return floor > this.#horizon ? floor : this.#horizon
  }

  async events (after: EventCursor | undefined, limit: number, notBefore: number): Promise<StoredEvent[]> {
    // The log is in order: find the first event after the cursor by bisection.
    let low = 0
    let high = this.#log.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (isAfter(this.#log[middle] as StoredEvent, after)) high = middle
      else low = middle + 1
    }
    const out: StoredEvent[] = []
    for (let at = low; at < this.#log.length && out.length < limit; at++) {
      const event = this.#log[at] as StoredEvent
      if (seqMs(event.seq) >= notBefore) out.push(structuredClone(event))
    }
    return out
  }

  async unpublished (job: string, limit: number): Promise<StoredEvent[]> {
    return [...this.#unpublished.values()].filter(event => event.job === job).slice(0, limit).map(event => structuredClone(event))
  }

  async markPublished (ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      this.#unpublished.delete(id)
      const logged = this.#logged.get(id)
      if (logged !== undefined) logged.published = true
    }
  }

  #append (event: StoredEvent): void {
    this.#log.push(event)
    this.#logged.set(event.id, event)
    if (this.#log.length > this.#limits.maxEvents) {
      const gone = this.#log.shift() as StoredEvent
      this.#logged.delete(gone.id)
      this.#horizon = gone.seq
    }
    this.#unpublished.set(event.id, event)
    if (this.#unpublished.size > this.#limits.maxUnpublished) {
      const [oldest] = this.#unpublished.values()
      if (oldest !== undefined) {
        this.#unpublished.delete(oldest.id)
        this.#onDrop({ event: structuredClone(oldest) })
      }
    }
  }

  #keepFinished (record: RunRecord): void {
    if (record.batch !== undefined) this.#batches.get(record.batch)?.ended.set(record.id, endedAs(record.run?.state))
    this.#finished.set(record.id, record)
    // The oldest go, but not while their start still counts against the starts-per-minute ceiling (a minute's starts at most).
    for (const [id, oldest] of this.#finished) {
      if (this.#finished.size <= this.#limits.maxFinished || stillCounts(oldest, this.#now())) break
      this.#finished.delete(id)
    }
  }

  #hasWork (job: string): boolean {
    for (const record of this.#open.values()) if (record.job === job) return true
    for (const event of this.#unpublished.values()) if (event.job === job) return true
    return this.#queue.next(job, undefined) !== undefined
  }
}

const stillCounts = (record: RunRecord, now: number): boolean => (record.startCountsUntil ?? 0) > now

/** One instance's queued runs: per job, per lane, in the order they were queued. */
class MemoryQueue {
  readonly #jobs = new Map<string, Map<string, RunRecord[]>>()
  readonly #byId = new Map<string, RunRecord>()

  get size (): number { return this.#byId.size }

  get (id: string): RunRecord | undefined { return this.#byId.get(id) }

  add (record: RunRecord): void {
    const lane = record.queue?.lane ?? ''
    let lanes = this.#jobs.get(record.job)
    if (lanes === undefined) this.#jobs.set(record.job, lanes = new Map())
    let line = lanes.get(lane)
    if (line === undefined) lanes.set(lane, line = [])
    // Usually the newest; a requeued run goes back to its old place.
    let at = line.length
    while (at > 0 && (line[at - 1] as RunRecord).createdAt > record.createdAt) at--
    line.splice(at, 0, record)
    this.#byId.set(record.id, record)
  }

  take (id: string): RunRecord | undefined {
    const record = this.#byId.get(id)
    if (record === undefined) return undefined
    this.#byId.delete(id)
    const lanes = this.#jobs.get(record.job) as Map<string, RunRecord[]>
    const lane = record.queue?.lane ?? ''
    const line = lanes.get(lane) as RunRecord[]
    // Admission takes the head: no copy then.
    if (line[0]?.id === id) line.shift()
    else line.splice(line.findIndex(queued => queued.id === id), 1)
    if (line.length === 0) lanes.delete(lane)
    if (lanes.size === 0) this.#jobs.delete(record.job)
    return record
  }

  next (job: string, afterLane: string | undefined): RunRecord | undefined {
    let best: string | undefined
    for (const lane of this.#jobs.get(job)?.keys() ?? []) {
      if ((afterLane === undefined || lane > afterLane) && (best === undefined || lane < best)) best = lane
    }
    return best === undefined ? undefined : this.#jobs.get(job)?.get(best)?.[0]
  }

  inLane (job: string, lane: string): readonly RunRecord[] {
    return this.#jobs.get(job)?.get(lane) ?? []
  }

  /** The oldest `limit` runs that are `wanted`, merged from the lanes (each in queue order): no sort of the whole queue. */
  oldest (job: string, limit: number, wanted: (record: RunRecord) => boolean): RunRecord[] {
    const lines = [...this.#jobs.get(job)?.values() ?? []].map(line => line.filter(wanted))
    const heads = lines.map(() => 0)
    const found: RunRecord[] = []
    while (found.length < limit) {
      let pick: { lane: number, head: RunRecord } | undefined
      for (const [lane, line] of lines.entries()) {
        const head = line[heads[lane] as number]
        if (head !== undefined && (pick === undefined || head.createdAt < pick.head.createdAt)) pick = { lane, head }
      }
      if (pick === undefined) break
      found.push(pick.head)
      heads[pick.lane] = (heads[pick.lane] as number) + 1
    }
    return found
  }

  position (record: RunRecord): number {
    const lane = record.queue?.lane ?? ''
    const lanes = this.#jobs.get(record.job) ?? new Map<string, RunRecord[]>()
    const place = (lanes.get(lane) ?? []).findIndex(queued => queued.id === record.id) + 1
    // Claimed since its record was read: it is being admitted, so it is next.
    if (place === 0) return 1
    return roundRobinPosition(place, lane, [...lanes].map(([other, line]) => [other, line.length]))
  }
}

/** Leases for one instance: it is the only holder there is, so a lease is held from acquire to release. */
class MemoryJobLeases implements JobLeaseStore {
  readonly #held = new Map<string, string>()
  readonly #hasWork: (job: string) => boolean

  constructor (hasWork: (job: string) => boolean) {
    this.#hasWork = hasWork
  }

  async acquire (job: string, lease: LeaseClaim): Promise<boolean> {
    const current = this.#held.get(job)
    if (current !== undefined && current !== lease.holder) return false
    this.#held.set(job, lease.holder)
    return true
  }

  async handOver (job: string, holder: string): Promise<void> {
    if (this.#held.get(job) === holder) this.#held.delete(job)
  }

  async releaseIfIdle (job: string, holder: string): Promise<boolean> {
    if (this.#held.get(job) !== holder) return true
    if (this.#hasWork(job)) return false
    this.#held.delete(job)
    return true
  }

  async orphaned (): Promise<string[]> {
    return []
  }
}
