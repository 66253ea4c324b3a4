import type { JobEntry } from '../catalog.js'
import type { Execution } from '../cloudrun/execution.js'
import { toRun } from '../cloudrun/mapping.js'
import type { Run } from '../schemas/run.js'
import type { BatchRecord } from './batch-record.js'
import type { Outbox } from './outbox.js'
import { runEvent, startCountsUntil, unstartedRun, type RunEvent, type RunRecord, type StoredEvent, type Transition } from './run-record.js'
import type { LifecycleStore } from './store.js'

/** ce-time of a transition: when Cloud Run says it happened, so every writer of one event agrees on it. */
function timeOf (transition: Transition, run: Run, now: () => number): string {
  const when = transition === 'finished' ? run.completionTime : run.createTime
  return when ?? new Date(now()).toISOString()
}

/** The record's next state after `transition` at `now`, with the run as seen. */
export function advanced (record: RunRecord, transition: Transition, run: Run, now: number): RunRecord {
  const execution = run.execution ?? (record.queue === undefined ? run.name : record.execution)
  return {
    ...record,
    phase: transition,
    run,
    ...(execution !== undefined && { execution }),
    ...(transition === 'started' && { startCountsUntil: startCountsUntil(now, true) })
  }
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
    return this.#handOut(await this.#store.transition(advanced(record, transition, run, this.#now()), event))
  }

  /** A run held back by its job's Queue policy: its record and `jobgate.run.queued` event. */
  async queued (record: RunRecord): Promise<Run> {
    const run = unstartedRun(record)
    this.#handOut(await this.#store.enqueue(record, runEvent(record, 'queued', run, timeOf('queued', run, this.#now))))
    return run
  }

  /** A batch's runs, queued, and then the batch: their records and `jobgate.run.queued` events. */
  async queuedBatch (batch: BatchRecord, records: readonly RunRecord[]): Promise<void> {
    const runs = records.map(record =>
      ({ record, event: runEvent(record, 'queued', unstartedRun(record), new Date(record.createdAt).toISOString()) }))
    for (const stored of await this.#store.createBatch(batch, runs)) this.#handOut(stored)
  }

  /** Records a batch's end and `jobgate.batch.finished`; false when that was recorded already (by anyone). */
  async batchEnded (batch: BatchRecord, event: RunEvent): Promise<boolean> {
    return this.#handOut(await this.#store.endBatch(batch, event)) !== undefined
  }

  /** Ends a run that is still queued (cancelled, timed out); undefined when it is no longer queued (admitted meanwhile). */
  async settle (record: RunRecord, end: Pick<Run, 'state' | 'message' | 'reason'>): Promise<Run | undefined> {
    const run = unstartedRun(record, end, this.#now())
    const stored = await this.#store.settle(advanced(record, 'finished', run, this.#now()),
      runEvent(record, 'finished', run, timeOf('finished', run, this.#now)))
    return this.#handOut(stored) === undefined ? undefined : run
  }

  /** Resolves at the first event this instance records that `matches`, after `ms`, or when `signal` aborts. */
  async until (matches: (event: StoredEvent) => boolean, ms: number, signal?: AbortSignal): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); stop(); signal?.removeEventListener('abort', done); resolve() }
      const timer = setTimeout(done, ms)
      const stop = this.listen(event => { if (matches(event)) done() })
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  #handOut (stored: StoredEvent | undefined): StoredEvent | undefined {
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
