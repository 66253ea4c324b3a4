import type { Logger } from 'pino'
import type { EventPublisher } from './pubsub-publisher.js'
import type { StoredEvent } from './run-record.js'
import { seqMs } from './seq.js'
import type { LifecycleStore } from './store.js'

export interface OutboxOptions {
  store: LifecycleStore
  /** Absent: no topic is set; events are only logged for the firehose. */
  publisher?: EventPublisher
  log: Logger
  /** An event older than this that Pub/Sub still does not have is given up, with an error line. */
  maxWaitMs: number
  /** What events lead to (a batch's end), recorded before they are published: a failure leaves them for the sweep. */
  followUp?: (events: readonly StoredEvent[]) => Promise<void>
  now?: () => number
}

/** Events another instance recorded are left to it this long (its own publish, with its retries, ends sooner). */
export const SWEEP_FLOOR_MS = 60_000
/** How often a job's holder looks for events left unpublished, and the longest pause after failures. */
const SWEEP_EVERY_MS = 10_000
const MAX_BACKOFF_MS = 10_000
/** Pub/Sub takes at most 1,000 messages per publish. */
const BATCH = 500

/**
 * The publishing half of the outbox: an event is recorded first (store.transition), then published
 * here and marked. The instance that recorded an event publishes it at once; what that could not
 * publish (Pub/Sub down, the instance gone) the job's reconciler sweeps up, oldest first. Publishing
 * is at least once: a publish whose answer was lost, or a crash before the mark, publishes again later,
 * with the same ce-id.
 */
export class Outbox {
  readonly #options: OutboxOptions
  readonly #now: () => number
  #pending: StoredEvent[] = []
  #flushing = false
  #flushed: Promise<void> = Promise.resolve()
  /** Ids being published from here: a sweep never publishes them a second time. */
  readonly #inFlight = new Set<string>()
  /** Per job: when its sweep is due, and the pause after a failure. */
  readonly #sweeps = new Map<string, { dueAt: number, backoffMs: number }>()
  /** Events published since the start: what tests and the bench count. */
  published = 0

  constructor (options: OutboxOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
  }

  get hasTopic (): boolean { return this.#options.publisher !== undefined }

  /** An event this instance just recorded: published within this turn's batch. */
  recorded (event: StoredEvent): void {
    this.#pending.push(event)
    this.#inFlight.add(event.id)
    // A flush under way takes it in its loop (a follow-up records events while it runs): close waits for that flush, not a no-op.
    if (this.#pending.length === 1) setImmediate(() => { if (!this.#flushing) this.#flushed = this.#flush() })
  }

  /** Resolves once no publish of this instance's events is under way (close waits for it). */
  async settled (): Promise<void> {
    await this.#flushed
  }

  async #flush (): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, BATCH)
        const ok = await this.#send(batch)
        // Left for the job's sweep, which retries with a pause: no tight loop while Pub/Sub is down.
        if (!ok) for (const event of batch) this.#failed(event.job)
        for (const event of batch) this.#inFlight.delete(event.id)
      }
    } finally {
      this.#flushing = false
    }
  }

  /** Publishes and marks; false when Pub/Sub (or the mark) failed: the events stay in the outbox. */
  async #send (events: StoredEvent[]): Promise<boolean> {
    const { publisher, store, log, followUp } = this.#options
    try {
      await followUp?.(events)
    } catch (err) {
      log.warn({ err, events: events.length },
        'events: checking whether a batch ended failed; its run\'s event waits in the outbox and is checked again')
      return false
    }
    try {
      await publisher?.publish(events)
    } catch (err) {
      log.warn({ err, events: events.length }, `events: publishing ${events.length} event(s) failed; they wait in the outbox and go out later`)
      return false
    }
    this.published += publisher === undefined ? 0 : events.length
    try {
      await store.markPublished(events.map(event => event.id))
    } catch (err) {
      log.error({ err }, 'events: published, but could not mark them sent; they will be published again later (same ce-id)')
      return false
    }
    return true
  }

  #failed (job: string): void {
    const sweep = this.#sweeps.get(job) ?? { dueAt: 0, backoffMs: 0 }
    sweep.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(1_000, sweep.backoffMs * 2))
    sweep.dueAt = this.#now() + sweep.backoffMs
    this.#sweeps.set(job, sweep)
  }

  /** When `job`'s next sweep is due (epoch ms): its reconciler keeps its lease and comes back by then. */
  sweepDueAt (job: string): number {
    return this.#sweeps.get(job)?.dueAt ?? 0
  }

  /**
   * The job's holder publishes what is left in the outbox: events whose publish failed here, and events
   * other instances recorded more than SWEEP_FLOOR_MS ago and did not publish. True when nothing is left.
   */
  async sweep (job: string): Promise<boolean> {
    const now = this.#now()
    const state = this.#sweeps.get(job) ?? { dueAt: 0, backoffMs: 0 }
    if (now < state.dueAt) return false
    const waiting = (await this.#options.store.unpublished(job, BATCH)).filter(event => !this.#inFlight.has(event.id))
    const retrying = state.backoffMs > 0
    const due = waiting.filter(event => retrying || now - seqMs(event.seq) >= SWEEP_FLOOR_MS)
    const expired = due.filter(event => now - seqMs(event.seq) > this.#options.maxWaitMs)
    const sending = due.filter(event => !expired.includes(event))
    if (expired.length > 0) await this.#giveUp(expired)
    const ok = await this.#send(sending)
    if (ok) {
      this.#sweeps.set(job, { dueAt: now + SWEEP_EVERY_MS, backoffMs: 0 })
    } else {
      this.#failed(job)
    }
    return ok && waiting.length === due.length && waiting.length < BATCH
  }

  async #giveUp (events: StoredEvent[]): Promise<void> {
    for (const event of events) {
      this.#options.log.error({ ceId: event.id, ceType: event.type, ceTime: event.time },
        `events: ${event.id} waited longer than ${Math.round(this.#options.maxWaitMs / 3_600_000)} h for Pub/Sub; it is given up unpublished`)
    }
    await this.#options.store.markPublished(events.map(event => event.id))
  }

  /** An event dropped from memory's bounded outbox (memory store only). */
  dropped (event: StoredEvent): void {
    this.#options.log.error({ ceId: event.id, ceType: event.type },
      `events: the outbox in memory is full; ${event.id} is dropped unpublished (set JOBGATE_IDEMPOTENCY=firestore for a durable outbox)`)
  }
}
