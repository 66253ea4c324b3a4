import type { JobEntry } from '../catalog.js'
import type { Batch } from '../schemas/batch.js'
import { batchFinishedEvent, batchOf, type BatchRecord } from './batch-record.js'
import type { TransitionRecorder } from './recorder.js'
import { EVENT_TYPES, type RunRecord, type StoredEvent } from './run-record.js'
import type { LifecycleStore } from './store.js'

export interface BatchesDeps {
  store: LifecycleStore
  recorder: TransitionRecorder
  now: () => number
}

/** A batch as read: its record (whose tenant says who may see it) and the Batch with its progress. */
export interface ReadBatch { record: BatchRecord, batch: Batch }

/** How often a `?wait` on a batch looks at its record, when no event of this instance says it ended. */
const END_CHECK_MS = 1_000

/**
 * Batches of queued runs (POST /v1/jobs/{job}/batches): the runs carry the batch's name, so whoever sees
 * the last of them end (the outbox's follow-up of a `finished` event, or a read) records the batch's end
 * and `jobgate.batch.finished`, once: the event's id is fixed by the batch.
 */
export class Batches {
  readonly #deps: BatchesDeps

  constructor (deps: BatchesDeps) {
    this.#deps = deps
  }

  /** Queues `records` (queued runs of `entry`) as the batch `id`; the Batch as it stands once written. */
  async create (id: string, entry: JobEntry, principal: string, records: readonly RunRecord[]): Promise<Batch> {
    const tenants = new Set(records.map(record => record.tenant))
    const [tenant] = tenants
    const batch: BatchRecord = {
      id,
      job: entry.id,
      principal,
      runs: records.map(record => record.id),
      createdAt: this.#deps.now(),
      // Runs of several tenants: only callers who may see every tenant see the batch.
      ...(tenants.size === 1 && tenant !== undefined && { tenant })
    }
    await this.#deps.recorder.queuedBatch(batch, records.map(record => ({ ...record, batch: id })))
    // Its runs may have ended while it was written (a shared store: another instance admits them at once).
    return (await this.#current(batch)).batch
  }

  /** The batch `id` of `entry` with its progress; undefined when there is none. */
  async read (entry: JobEntry, id: string): Promise<ReadBatch | undefined> {
    const record = await this.#deps.store.batch(id)
    return record?.job === entry.id ? await this.#current(record) : undefined
  }

  /**
   * Resolves once the batch ended, `waitMs` passed or `signal` aborted: its end recorded here wakes it at once,
   * a look each second catches other instances'.
   */
  async awaitEnd (read: ReadBatch, waitMs: number, signal?: AbortSignal): Promise<ReadBatch> {
    const { store, recorder, now } = this.#deps
    const deadline = now() + waitMs
    const endId = batchFinishedEvent(read.record, read.batch).id
    let record = read.record
    while (record.ended === undefined && deadline > now() && signal?.aborted !== true) {
      await recorder.until(event => event.id === endId, Math.min(deadline - now(), END_CHECK_MS), signal)
      record = await store.batch(record.id) ?? record
    }
    return record === read.record ? read : await this.#current(record)
  }

  /**
   * The outbox's follow-up of the events it is about to publish: a batch whose run ended may have ended too.
   * Run before the publish, so an instance that dies in between leaves the event, and this, to the job's sweep.
   */
  async runsEnded (events: readonly StoredEvent[]): Promise<void> {
    const ended = events.filter(event => event.type === EVENT_TYPES.finished && event.batch !== undefined)
    for (const id of new Set(ended.map(event => event.batch as string))) {
      const record = await this.#deps.store.batch(id)
      if (record !== undefined) await this.#current(record)
    }
  }

  /** Counts the batch's runs; when none waits or runs any more, records its end (whoever sees it first). */
  async #current (record: BatchRecord): Promise<ReadBatch> {
    const { store, recorder, now } = this.#deps
    if (record.ended !== undefined) return { record, batch: batchOf(record, record.ended.counts) }
    const counts = await store.batchCounts(record)
    if (counts.queued + counts.running > 0) return { record, batch: batchOf(record, counts) }
    const ended: BatchRecord = { ...record, ended: { counts, at: now() } }
    const batch = batchOf(ended, counts)
    if (await recorder.batchEnded(ended, batchFinishedEvent(ended, batch))) return { record: ended, batch }
    // Recorded by someone else a moment ago: their time of the end.
    const recorded = await store.batch(record.id) ?? ended
    return { record: recorded, batch: batchOf(recorded, counts) }
  }
}
