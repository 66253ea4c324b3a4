import type { Logger } from 'pino'
import type { JobEntry } from '../catalog.js'
import type { Execution } from '../cloudrun/execution.js'
import { apiErrorOf } from '../errors.js'
import { QUEUE_TIMEOUT } from '../schemas/run.js'
import type { CeilingHit } from './ceilings.js'
import type { TransitionRecorder } from './recorder.js'
import { unstartedRun, type RunRecord } from './run-record.js'
import type { LifecycleStore } from './store.js'

/** How an admitted run's start went. */
export type AdmitOutcome =
  | { started: Execution }
  /** The policy's slot was taken after all: the run goes back to its place. */
  | { full: true }
  | { failed: unknown, provenNotStarted: boolean }

/** Starts a claimed queued run: the starter's guarded start (concurrency leases, the run marker). */
export type AdmitStart = (entry: JobEntry, record: RunRecord) => Promise<AdmitOutcome>

export interface AdmissionDeps {
  store: LifecycleStore
  recorder: TransitionRecorder
  log: Logger
  now: () => number
  /** The project-wide ceilings (ceilings.ts): undefined when a start may go ahead now. */
  ceiling: (entry: JobEntry) => Promise<CeilingHit | undefined>
  /** The starter, once it exists (services wire it after the lifecycle). */
  start: () => AdmitStart | undefined
  /** A claimed run is about to start: its reconciler follows it from now (a crash leaves it findable by its marker). */
  claimed: (record: RunRecord) => void
  /** A claimed run went back to the queue or ended unstarted: no longer followed. */
  released: (id: string) => void
  /** Cloud Run answered the start. */
  started: (record: RunRecord, execution: Execution) => Promise<void>
}

export interface AdmissionPass {
  /** Runs still wait in the queue: the reconciler keeps the job and comes back. */
  waiting: boolean
  admitted: number
}

/** A bound on one pass's starts, so a pass ends and the reconciler's other work goes on. */
export const MAX_ADMISSIONS_PER_PASS = 100
const EXPIRY_BATCH = 100

/**
 * Admits a Queue job's runs on the instance that holds the job's lease, from its reconciler's passes
 * (the reconciler is what sees runs end). Round-robin across lanes, FIFO within one (queue-order.ts);
 * each run is claimed (exactly once, whoever else tries) and then started like any other start, under
 * the job's concurrency leases; a run the leases refuse goes back to its place.
 */
export class JobAdmission {
  readonly entry: JobEntry
  readonly #deps: AdmissionDeps
  /** The lane admitted last: the round-robin goes on after it. */
  #cursor: string | undefined

  constructor (entry: JobEntry, deps: AdmissionDeps) {
    this.entry = entry
    this.#deps = deps
  }

  /** Ends timed-out runs, then admits while the runs followed (`followed`) leave slots free. */
  async pass (followed: readonly RunRecord[]): Promise<AdmissionPass> {
    const rule = this.entry.concurrency
    if (rule?.policy !== 'Queue') return { waiting: false, admitted: 0 }
    await this.#expire()
    const start = this.#deps.start()
    const running = new Map<string, number>()
    for (const record of followed) running.set(record.tenant ?? '', (running.get(record.tenant ?? '') ?? 0) + 1)
    let total = followed.length
    let admitted = 0
    // Lanes looked at since the last start: coming back to one means every lane is at its limit.
    const looked = new Set<string>()
    while (start !== undefined && admitted < MAX_ADMISSIONS_PER_PASS && (rule.scope === 'tenant' || total < rule.maxRunning)) {
      const next = await this.#next()
      if (next?.queue === undefined) return { waiting: false, admitted }
      const lane = next.queue.lane
      this.#cursor = lane
      if (looked.has(lane)) break
      looked.add(lane)
      const scopeKey = next.tenant ?? ''
      if (rule.scope === 'tenant' && (running.get(scopeKey) ?? 0) >= rule.maxRunning) continue
      const outcome = await this.#admit(start, next)
      if (outcome === 'ceiling' || (outcome === 'full' && rule.scope === 'job')) break
      if (outcome !== 'started') continue
      admitted++
      total++
      running.set(scopeKey, (running.get(scopeKey) ?? 0) + 1)
      looked.clear()
    }
    return { waiting: await this.#deps.store.nextQueued(this.entry.id, undefined) !== undefined, admitted }
  }

  async #next (): Promise<RunRecord | undefined> {
    const { store } = this.#deps
    const after = await store.nextQueued(this.entry.id, this.#cursor)
    // Past the last lane: round again from the first.
    return after ?? (this.#cursor === undefined ? undefined : await store.nextQueued(this.entry.id, undefined))
  }

  /** Claims and starts one run; a run whose time ran out is never started late. */
  async #admit (start: AdmitStart, next: RunRecord): Promise<'started' | 'full' | 'ceiling' | 'skipped'> {
    const { store, recorder, log } = this.#deps
    if ((next.queue?.expiresAt ?? Infinity) <= this.#deps.now()) {
      await this.#timeOut(next)
      return 'skipped'
    }
    // The project-wide ceilings, counted before the claim (a claimed run counts as running).
    if (await this.#deps.ceiling(this.entry) !== undefined) return 'ceiling'
    const record = await store.claim(next.id)
    if (record === undefined) return 'skipped'
    this.#deps.claimed(record)
    const outcome = await start(this.entry, record)
    if ('started' in outcome) {
      await this.#deps.started(record, outcome.started)
      return 'started'
    }
    // Outcome unknown: the run stays claimed; its reconciler finds it by its marker, or queues it again after the stale bound.
    if ('failed' in outcome && !outcome.provenNotStarted) throw outcome.failed
    this.#deps.released(record.id)
    if ('full' in outcome) {
      await store.requeue(record.id)
      return 'full'
    }
    const message = apiErrorOf(outcome.failed)?.message ?? 'the start failed'
    log.warn({ job: this.entry.id, run: record.id }, `queued run ${record.id} of job "${this.entry.id}" could not start: ${message}`)
    await recorder.recordRun(record, 'finished', unstartedRun(record, { state: 'FAILED', message }, this.#deps.now()))
    return 'skipped'
  }

  async #expire (): Promise<void> {
    for (const record of await this.#deps.store.expiredQueued(this.entry.id, this.#deps.now(), EXPIRY_BATCH)) await this.#timeOut(record)
  }

  async #timeOut (record: RunRecord): Promise<void> {
    const seconds = Math.round((this.entry.concurrency?.queueTimeoutMs ?? 0) / 1000)
    const message = `queued for longer than the job's queueTimeoutSeconds (${seconds} s); never started`
    if (await this.#deps.recorder.settle(record, { state: 'FAILED', reason: QUEUE_TIMEOUT, message }) === undefined) return
    this.#deps.log.warn({ job: this.entry.id, run: record.id, reason: QUEUE_TIMEOUT }, `queued run ${record.id} of job "${this.entry.id}" timed out: ${message}`)
  }
}
