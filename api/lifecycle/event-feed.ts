import type { Logger } from 'pino'
import { invalidArgument } from '../errors.js'
import type { TransitionRecorder } from './recorder.js'
import type { EventCursor, StoredEvent } from './run-record.js'
import { isAfter } from './run-record.js'
import { isSeq, seqOf } from './seq.js'
import type { LifecycleStore } from './store.js'

export interface EventFeedOptions {
  store: LifecycleStore
  recorder: TransitionRecorder
  /** How far back a reader can resume. */
  retentionMs: number
  log: Logger
  /** A shared store is read this often while anyone follows (other instances' events); default 1 s. */
  pollMs?: number
  now?: () => number
}

/** What a follower is told: events in log order, and once, at the start, that its cursor was older than the log. */
export interface FeedListener {
  events: (events: readonly StoredEvent[]) => void
  gap: (horizon: string) => void
}

const PAGE = 500
/** Instances' clocks and Firestore's commit times differ a little: "from now" reaches this far back in a shared log. */
const CLOCK_SLACK_MS = 2_000

/** A follower's cursor as the `id:` of a server-sent event: `{seq}~{ce-id}`. */
export const formatEventCursor = (event: EventCursor): string => `${event.seq}~${event.id}`

export function parseEventCursor (text: string | undefined): EventCursor | undefined {
  if (text === undefined || text === '') return undefined
  const at = text.indexOf('~')
  const seq = text.slice(0, at)
  const id = text.slice(at + 1)
  if (at < 0 || !isSeq(seq) || !/^jobs\/[a-z0-9-]{1,63}\/(?:runs|batches)\/[a-z0-9-]{1,63}\/[a-z]{1,20}$/.test(id)) {
    throw invalidArgument('Last-Event-ID: not a cursor from this stream (pass the id of the last event received)')
  }
  return { seq, id }
}

interface Follower {
  cursor: EventCursor | undefined
  listener: FeedListener
  /** Catching up from its own cursor: live events wait until it has read up to them. */
  catchingUp: boolean
}

/**
 * The log of every run event, followed live: one reader per instance (of memory, or of Firestore every
 * second while anyone follows, so other instances' events come too) fanned out to every follower,
 * each from its own cursor. Events come in one order everywhere (the store's), so a cursor resumes
 * on any instance without repeats or gaps, within the retention window.
 */
export class EventFeed {
  readonly #options: EventFeedOptions
  readonly #now: () => number
  readonly #followers = new Set<Follower>()
  #head: EventCursor | undefined
  #timer: NodeJS.Timeout | undefined
  /** Resuming followers' own reads under way. */
  readonly #catchingUp = new Set<Promise<void>>()
  #reading: Promise<void> | undefined
  #again = false
  #stopRecorder: (() => void) | undefined

  constructor (options: EventFeedOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
  }

  get followers (): number { return this.#followers.size }

  /** Follows the log from after `cursor` (undefined: from now on); returns the stop. */
  follow (cursor: EventCursor | undefined, listener: FeedListener): () => void {
    const follower: Follower = { cursor: cursor ?? this.#nowCursor(), listener, catchingUp: cursor !== undefined }
    if (this.#followers.size === 0) this.#start()
    this.#followers.add(follower)
    if (cursor !== undefined) {
      const catchingUp = this.#catchUp(follower).finally(() => { this.#catchingUp.delete(catchingUp) })
      this.#catchingUp.add(catchingUp)
    }
    return () => {
      this.#followers.delete(follower)
      if (this.#followers.size === 0) this.#stop()
    }
  }

  #nowCursor (): EventCursor {
    const ms = this.#now() - (this.#options.store.shared ? CLOCK_SLACK_MS : 0)
    return { seq: seqOf(Math.floor(ms / 1000), (ms % 1000) * 1e6), id: '' }
  }

  #start (): void {
    // Nobody followed until now: the reader starts at the present, not where it stopped.
    this.#head = this.#nowCursor()
    this.#stopRecorder = this.#options.recorder.listen(() => { this.#poke() })
    if (!this.#options.store.shared) return
    this.#timer = setInterval(() => { this.#poke() }, this.#options.pollMs ?? 1_000)
    this.#timer.unref()
  }

  #stop (): void {
    this.#stopRecorder?.()
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  #notBefore (): number {
    return this.#now() - this.#options.retentionMs
  }

  /** A resuming follower reads its own way up to the head, then joins the live fan-out. */
  async #catchUp (follower: Follower): Promise<void> {
    const { store, retentionMs } = this.#options
    const horizon = store.horizon(retentionMs)
    if (follower.cursor !== undefined && follower.cursor.seq < horizon) {
      follower.listener.gap(horizon)
      follower.cursor = undefined
    }
    try {
      for (;;) {
        const page = await store.events(follower.cursor, PAGE, this.#notBefore())
        if (!this.#followers.has(follower)) return
        this.#deliver(follower, page)
        if (page.length < PAGE) break
      }
    } catch (err) {
      this.#options.log.warn({ err }, 'events: reading the event log failed; the follower resumes with the live events')
    }
    follower.catchingUp = false
    this.#poke()
  }

  #deliver (follower: Follower, events: readonly StoredEvent[]): void {
    const fresh = events.filter(event => isAfter(event, follower.cursor))
    const last = fresh.at(-1)
    if (last === undefined) return
    follower.cursor = { seq: last.seq, id: last.id }
    follower.listener.events(fresh)
  }

  /** Reads what is new (one read at a time; a poke during a read reads again after it). */
  #poke (): void {
    if (this.#reading !== undefined) { this.#again = true; return }
    this.#reading = this.#read().finally(() => {
      this.#reading = undefined
      if (this.#again && this.#followers.size > 0) { this.#again = false; this.#poke() }
    })
  }

  async #read (): Promise<void> {
    try {
      for (;;) {
        const page = await this.#options.store.events(this.#head, PAGE, this.#notBefore())
        const last = page.at(-1)
        if (last !== undefined) this.#head = { seq: last.seq, id: last.id }
        for (const follower of [...this.#followers]) if (!follower.catchingUp) this.#deliver(follower, page)
        if (page.length < PAGE) return
      }
    } catch (err) {
      this.#options.log.warn({ err }, 'events: reading the event log failed; trying again')
    }
  }

  /** Stops, and resolves once no read of the store is under way (the store may close after it). */
  async close (): Promise<void> {
    this.#followers.clear()
    this.#stop()
    await Promise.all([this.#reading, ...this.#catchingUp])
  }
}
