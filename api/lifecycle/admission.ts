import type { Logger } from 'pino'
import type { JobEntry } from '../catalog.js'
import type { Execution } from '../cloudrun/execution.js'
import type { ScopeView } from '../concurrency/scope-view.js'
import { apiErrorOf } from '../errors.js'
import { QUEUE_TIMEOUT } from '../schemas/run.js'
import type { CeilingOutcome } from './ceilings.js'
import type { TransitionRecorder } from './recorder.js'
import { followedScopeView } from './followed-view.js'
import { unstartedRun, type RunRecord } from './run-record.js'
import type { LifecycleStore } from './store.js'

/** How an admitted run's start went. */
export type AdmitOutcome =
  | { started: Execution }
  /** The policy's slot was taken after all (`slot`), or too many starts are in flight (`busy`): back to its place. */
  | { full: 'slot' | 'busy' }
  | { failed: unknown, provenNotStarted: boolean }

/**
 * Starts a claimed queued run: the starter's guarded start (concurrency leases, the run marker). `known`: the job's
 * runs as its reconciler just saw them, so an admission costs no read of Cloud Run; absent, the start reads them itself.
 */
export type AdmitStart = (entry: JobEntry, record: RunRecord, known?: ScopeView) => Promise<AdmitOutcome>

export interface AdmissionDeps {
  store: LifecycleStore
  recorder: TransitionRecorder
  log: Logger
  now: () => number
  /** Runs `begin` if the project-wide ceilings (ceilings.ts) let a start of `entry` go ahead now, one start at a time. */
  underCeilings: <T>(entry: JobEntry, begin: () => Promise<T>) => Promise<CeilingOutcome<T>>
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
/** Admitted runs whose start is under way at once: a free cap refills in a few round trips, within the in-flight bound. */
export const PARALLEL_STARTS = 16
const EXPIRY_BATCH = 100

/** What one pass counts as it admits: runs of the job (and of each tenant) not ended, with the claims under way. */
class PassCount {
  readonly #byTenant = new Map<string, number>()
  total = 0

  constructor (followed: readonly RunRecord[]) {
    for (const record of followed) this.add(record.tenant ?? '', 1)
  }

  of (tenant: string): number { return this.#byTenant.get(tenant) ?? 0 }

  add (tenant: string, delta: number): void {
    this.total += delta
    this.#byTenant.set(tenant, this.of(tenant) + delta)
  }
}

/**
 * Admits a Queue job's runs on the instance that holds the job's lease, from its reconciler's passes
 * (the reconciler is what sees runs end). Round-robin across lanes, FIFO within one (queue-order.ts);
 * each run is claimed (exactly once, whoever else tries) and then started like any other start, under
 * the job's concurrency leases, up to PARALLEL_STARTS at once; a run the leases refuse goes back to its place.
 */
export class JobAdmission {
  readonly entry: JobEntry
  readonly #deps: AdmissionDeps
  /** The lane admitted last: the round-robin goes on after it. */
  #cursor: string | undefined
  /** A start refused for its slot: the reconciler's view may miss a lease's end, so the next pass reads Cloud Run. */
  #readNext = false

  constructor (entry: JobEntry, deps: AdmissionDeps) {
    this.entry = entry
    this.#deps = deps
  }

  /** Ends timed-out runs, then admits while the runs followed (`followed`) leave slots free. */
  async pass (followed: readonly RunRecord[], listed?: ReadonlySet<string>): Promise<AdmissionPass> {
    const rule = this.entry.concurrency
    if (rule?.policy !== 'Queue') return { waiting: false, admitted: 0 }
    await this.#expire()
    const start = this.#deps.start()
    // This pass reads Cloud Run if the last one was refused a slot; the next trusts the reconciler again.
    const known = this.#readNext ? undefined : listed
    this.#readNext = false
    const count = new PassCount(followed)
    const starting = new Set<Promise<void>>()
    let admitted = 0
    let claimed = 0
    let full = false
    let failure: { err: unknown } | undefined
    // Lanes looked at since the last claim: coming back to one means every lane is at its limit.
    const looked = new Set<string>()
    while (start !== undefined && !full && failure === undefined && claimed < MAX_ADMISSIONS_PER_PASS &&
      (rule.scope === 'tenant' || count.total < rule.maxRunning)) {
      if (starting.size >= PARALLEL_STARTS) { await Promise.race(starting); continue }
      const next = await this.#next()
      if (next?.queue === undefined) break
      const lane = next.queue.lane
      this.#cursor = lane
      if (looked.has(lane)) break
      looked.add(lane)
      const tenant = next.tenant ?? ''
      if (rule.scope === 'tenant' && count.of(tenant) >= rule.maxRunning) continue
      const record = await this.#claim(next)
      if (record === 'ceiling') break
      if (record === undefined) continue
      claimed++
      count.add(tenant, 1)
      looked.clear()
      // Without a complete scan (or after a refusal) the start reads Cloud Run itself.
      const view = known === undefined ? undefined : followedScopeView(this.entry, followed, known, next.tenant)
      const started = this.#start(start, record, view).then(outcome => {
        if (outcome === 'started') { admitted++; return }
        count.add(tenant, -1)
        // The job's slot went to another start: the scope is full for now, and the view missed something.
        this.#readNext ||= outcome === 'slot'
        if ((outcome === 'slot' && rule.scope === 'job') || outcome === 'busy') full = true
      }, (err: unknown) => { failure ??= { err } }).finally(() => { starting.delete(started) })
      starting.add(started)
    }
    await Promise.all(starting)
    if (failure !== undefined) throw failure.err
    return { waiting: await this.#deps.store.nextQueued(this.entry.id, undefined) !== undefined, admitted }
  }

  async #next (): Promise<RunRecord | undefined> {
    const { store } = this.#deps
    const after = await store.nextQueued(this.entry.id, this.#cursor)
    // Past the last lane: round again from the first.
    return after ?? (this.#cursor === undefined ? undefined : await store.nextQueued(this.entry.id, undefined))
  }

  /** Claims the next run; a run whose time ran out is never started late, and none is claimed past a ceiling. */
  async #claim (next: RunRecord): Promise<RunRecord | 'ceiling' | undefined> {
    if ((next.queue?.expiresAt ?? Infinity) <= this.#deps.now()) {
      await this.#timeOut(next)
      return undefined
    }
    // The project-wide ceilings, counted before the claim (a claimed run counts as running).
    const claim = await this.#deps.underCeilings(this.entry, async () => await this.#deps.store.claim(next.id))
    if ('hit' in claim) return 'ceiling'
    const record = claim.begun
    if (record !== undefined) this.#deps.claimed(record)
    return record
  }

  /** Starts one claimed run; a start whose slot was taken after all goes back to its place. */
  async #start (start: AdmitStart, record: RunRecord, known: ScopeView | undefined): Promise<'started' | 'slot' | 'busy' | 'skipped'> {
    const { store, recorder, log } = this.#deps
    const outcome = await start(this.entry, record, known)
    if ('started' in outcome) {
      await this.#deps.started(record, outcome.started)
      return 'started'
    }
    // Outcome unknown: the run stays claimed; its reconciler finds it by its marker, or queues it again after the stale bound.
    if ('failed' in outcome && !outcome.provenNotStarted) throw outcome.failed
    this.#deps.released(record.id)
    if ('full' in outcome) {
      await store.requeue(record.id)
      return outcome.full
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
    const line = `queued run ${record.id} of job "${this.entry.id}" timed out: ${message}`
    this.#deps.log.warn({ job: this.entry.id, run: record.id, reason: QUEUE_TIMEOUT }, line)
  }
}
