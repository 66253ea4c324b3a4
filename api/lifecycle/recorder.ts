import type { JobEntry } from '../catalog.js'
import type { Execution } from '../cloudrun/execution.js'
import { toRun } from '../cloudrun/mapping.js'
import type { Run } from '../schemas/run.js'
import type { Outbox } from './outbox.js'
import { runEvent, type RunRecord, type StoredEvent, type Transition } from './run-record.js'
import type { LifecycleStore } from './store.js'

/** ce-time of a transition: when Cloud Run says it happened, so every writer of one event agrees on it. */
function timeOf (transition: Transition, run: Run, now: () => number): string {
  const when = transition === 'started' ? run.createTime : run.completionTime
  return when ?? new Date(now()).toISOString()
}

/** The record's next state after `transition`, with the run as seen. */
export function advanced (record: RunRecord, transition: Transition, run: Run): RunRecord {
  return { ...record, phase: transition, execution: run.name, run }
}

/**
 * Writes transitions: the record and its event together (store.transition), then hands the event to the
 * outbox and to the firehose's listeners. Whoever records a transition first wins; the others get undefined.
 */
export class TransitionRecorder {
  readonly #store: LifecycleStore
  readonly #outbox: Outbox
  readonly #listeners = new Set<(event: StoredEvent) => void>()
  readonly #now: () => number

  constructor (store: LifecycleStore, outbox: Outbox, now: () => number = Date.now) {
    this.#store = store
    this.#outbox = outbox
    this.#now = now
  }

  /** Called with every event this instance records (the firehose in memory mode hears of them here). */
  listen (listener: (event: StoredEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  async record (entry: JobEntry, record: RunRecord, transition: Transition, execution: Execution): Promise<StoredEvent | undefined> {
    return await this.recordRun(record, transition, toRun(entry.id, execution))
  }

  /** The same with the Run given (a run whose execution is gone). */
  async recordRun (record: RunRecord, transition: Transition, run: Run): Promise<StoredEvent | undefined> {
    const event = runEvent(record, transition, run, timeOf(transition, run, this.#now))
    const stored = await this.#store.transition(advanced(record, transition, run), event)
    if (stored === undefined) return undefined
    this.#outbox.recorded(stored)
    for (const listener of [...this.#listeners]) listener(stored)
    return stored
  }

  /** A start that provably (or after the stale bound) started nothing: its record goes, with no event. */
  async forget (record: RunRecord): Promise<void> {
    await this.#store.forget(record.id)
  }
}
