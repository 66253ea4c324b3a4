import type { Logger } from 'pino'
import { isTerminal } from '../../common/run-state.js'
import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution } from '../cloudrun/execution.js'
import { executionState, toRun } from '../cloudrun/mapping.js'
import { apiErrorOf } from '../errors.js'
import { callerKey } from '../policy/caller-key.js'
import { runTenant } from '../policy/run-access.js'
import { Backoff, type PollSchedule } from '../live/poll-schedule.js'
import { PollTimer } from '../live/poll-timer.js'
import type { ScopeView } from '../concurrency/scope-view.js'
import { EndForecast } from './end-forecast.js'
import { scanExecutions, type ScanResult, type ScanWanted } from './execution-scan.js'
import { followedScopeView } from './followed-view.js'
import type { AdmissionPass } from './admission.js'
import type { Outbox } from './outbox.js'
import { advanced, type TransitionRecorder } from './recorder.js'
import { startBegan, type RunRecord } from './run-record.js'
import type { LifecycleStore } from './store.js'

/** The Cloud Run read budget as the reconciler draws on it. */
export interface ReadAllowance {
  tryTake: () => boolean
  waitMs: () => number
}

export interface ReconcilerDeps {
  cloudRun: Pick<CloudRunClient, 'listExecutions' | 'getExecution'>
  /** Where outside runs are adopted (records of runs jobgate did not start), and admitted runs that started nothing are queued again. */
  store: Pick<LifecycleStore, 'adopt' | 'requeue'>
  recorder: TransitionRecorder
  outbox: Outbox
  budget: ReadAllowance
  log: Logger
  schedule: PollSchedule
  /** A start whose execution is nowhere to be seen this long after it began started nothing. */
  staleMs: number
  now: () => number
  /** Told of every execution a scan saw: the live layer's watchers share it. */
  observed?: (entry: JobEntry, execution: Execution) => void
  /** Told how many list calls each scan made: what tests and the bench count. */
  counted?: (lists: number) => void
  /** Before each pass: other instances' new records (a shared store). */
  catchUp?: () => Promise<void>
  /** Nothing left to follow: release the job's lease; true when released (the reconciler stops). */
  idle: () => Promise<boolean>
  /** A Queue job: admits queued runs into the slots the followed runs leave free (admission.ts). */
  admit?: (followed: readonly RunRecord[], listed: ReadonlySet<string> | undefined) => Promise<AdmissionPass>
}

/** A start's answer comes within seconds: only a start older than this, still without an execution, is looked for by its marker. */
export const ANSWER_GRACE_MS = 10_000

/** A burst of runs ending (a full queue's cap) costs a pass per this long, not one per run. */
export const ENDED_BATCH_MS = 10

/** Quick looks the end forecast may take in a row (a wave of ends), each earned back in the schedule's first pause. */
export const FORECAST_BURST = 4
/** The least time between passes the forecast brings forward. */
const FORECAST_GAP_MS = 250

/** How far back a reconciler that starts following a job's outside runs looks for runs it has not seen. */
export const EXTERNAL_LOOKBACK_MS = 10 * 60_000
/** Who started a run jobgate did not start, as its record says. */
const OUTSIDE = callerKey({ name: 'outside jobgate' })

/** What the live layer wants to know of a run: enough to tell whether a read changed anything. */
const progressOf = (execution: Execution): string => JSON.stringify([executionState(execution), execution.status])

/**
 * One job's reconcile loop, on the instance that holds the job's lease. Level-triggered: each pass lists
 * the job's executions (execution-scan.ts), compares them with the unfinished run records, and records
 * what differs (started, finished); a missed signal costs latency, never an event. Passes come quickly
 * after a start or a change, slower while nothing moves (the poll schedule), and stop when no run is left.
 */
export class JobReconciler {
  readonly entry: JobEntry
  readonly #deps: ReconcilerDeps
  readonly #records = new Map<string, RunRecord>()
  readonly #progress = new Map<string, string>()
  /** Each followed run's execution as last seen, by execution name: what live readers get instead of a read of their own. */
  readonly #seen = new Map<string, Execution>()
  /** Executions this reconciler saw end (or deleted), when: an admission's view of the job frees their leases. */
  readonly #ended = new Map<string, number>()
  #scannedAt = 0
  #scannedOkAt = 0
  /** When a pass last knew every run it follows (its scan was complete, or it followed none): scopeView's age. */
  #viewedAt = 0
  readonly #timer = new PollTimer(() => { this.#begin() })
  readonly #backoff: Backoff
  readonly #forecast = new EndForecast()
  /** Quick looks in hand (FORECAST_BURST at most), and when they were last counted. */
  #quickLooks = FORECAST_BURST
  #quickLooksAt: number
  /** Outside runs created before this were seen (or are too old to look for): the next scan starts there. */
  #discoveredUpTo: number
  #passing = false
  #passDone: Promise<void> = Promise.resolve()
  #again = false
  /** Something said the job changed (a start, a cancel, the emulator) since the last pass began: its view may be behind. */
  #dirty = false
  /** Readers waiting for the next pass's view (current()). */
  #waiters: Array<() => void> = []

  constructor (entry: JobEntry, deps: ReconcilerDeps) {
    this.entry = entry
    this.#deps = deps
    this.#backoff = new Backoff(deps.schedule)
    this.#discoveredUpTo = deps.now() - EXTERNAL_LOOKBACK_MS
    this.#quickLooksAt = deps.now()
  }

  get stopped (): boolean { return this.#timer.stopped }
  get following (): number { return this.#records.size }

  /**
   * The execution of a run this reconciler follows, as last seen; undefined when it is not followed, not seen
   * yet, or when the last good scan is too old (Cloud Run failing): readers then read it themselves.
   */
  latest (execution: string): Execution | undefined {
    return this.#recent(this.#scannedOkAt) ? this.#seen.get(execution) : undefined
  }

  /**
   * A concurrency scope of the job as this reconciler sees it (followed-view.ts), for a start that then reads no Cloud Run;
   * undefined when stopped, or when its last complete scan is too old (Cloud Run failing, or the read budget spent).
   */
  scopeView (tenant: string | undefined): ScopeView | undefined {
    if (this.stopped || !this.#recent(this.#viewedAt)) return undefined
    return followedScopeView(this.entry, [...this.#records.values()], this.#listed(), tenant)
  }

  /** A pass is due at most maxMs after the last one: a look older than twice that means passes fail or fall short. */
  #recent (at: number): boolean {
    return this.#deps.now() - at <= 2 * this.#deps.schedule.maxMs
  }

  /**
   * The run as a pass at most `maxAgeMs` old saw it, with nothing since saying it changed and no pass under way;
   * otherwise after the pass under way or the next one (one pass for every reader of the job). Undefined when this
   * reconciler does not follow the run.
   */
  async current (execution: string, maxAgeMs: number): Promise<Execution | undefined> {
    if (this.latest(execution) === undefined) return undefined
    if (!this.#dirty && !this.#passing && this.#deps.now() - this.#scannedOkAt <= maxAgeMs) return this.latest(execution)
    await new Promise<void>(resolve => {
      this.#waiters.push(resolve)
      if (!this.#passing) this.poke()
    })
    return this.#seen.get(execution)
  }

  /** Someone waits on a followed run: look soon, but no more than once a second however many wait. */
  hurry (): void {
    if (this.stopped || this.#passing) return
    const sinceScan = this.#deps.now() - this.#scannedAt
    if (sinceScan >= 1_000) this.poke()
    else this.#timer.after(1_000 - sinceScan)
  }

  /** A run to follow (or a newer state of one): a start here, another instance's start, a takeover's load. */
  add (record: RunRecord, execution?: Execution): void {
    if (this.stopped) return
    if (execution !== undefined && record.execution !== undefined) this.#seen.set(record.execution, execution)
    const known = this.#records.get(record.id)
    if (record.phase === 'finished') { this.#records.delete(record.id); return }
    if (record.phase === 'queued') return
    if (known?.phase === 'started' && record.phase === 'starting') return
    if (known === undefined) this.#deps.log.debug({ job: this.entry.id, run: record.id }, `run events: following run ${record.id}`)
    this.#records.set(record.id, record)
  }

  /** Stops following a run (its start provably started nothing). */
  drop (id: string): void {
    this.#forget(id)
  }

  /** A run just started: look after the schedule's first pause (starts in a burst share one list), unless due sooner. */
  soon (): void {
    if (this.stopped || this.#passing) return
    this.#backoff.after(true)
    this.#timer.sooner(this.#deps.schedule.firstMs)
  }

  /** The emulator said a run ended: look within ENDED_BATCH_MS, one pass for all the runs that end meanwhile. */
  ended (): void {
    if (this.stopped) return
    this.#dirty = true
    if (this.#passing) { this.#again = true; return }
    this.#timer.sooner(ENDED_BATCH_MS)
  }

  /** Reconcile now: a run just started, a cancel was answered. */
  poke (): void {
    if (this.stopped) return
    this.#dirty = true
    if (this.#passing) { this.#again = true; return }
    this.#timer.cancel()
    this.#begin()
  }

  stop (): void {
    this.#timer.stop()
    for (const resolve of this.#waiters.splice(0)) resolve()
  }

  /** Resolves once no pass is under way: close waits for it, so no pass uses a store that closed. */
  async settled (): Promise<void> {
    for (let pass = this.#passDone; ; pass = this.#passDone) {
      await pass
      if (pass === this.#passDone) return
    }
  }

  #begin (): void {
    if (this.#passing || this.stopped) return
    this.#passDone = this.#pass()
  }

  async #pass (): Promise<void> {
    if (this.#passing || this.stopped) return
    this.#passing = true
    this.#again = false
    this.#dirty = false
    const serving = this.#waiters.splice(0)
    let changed = false
    let waiting = false
    let waitMs: number | undefined
    // What this pass knows of every run it follows, when its scan was complete (or it follows none): admission's view.
    let listed: ReadonlySet<string> | undefined
    try {
      await this.#deps.catchUp?.()
      const external = this.entry.followsExternalRuns === true
      if (this.#records.size > 0 || external) {
        const scannedAt = this.#deps.now()
        this.#scannedAt = scannedAt
        const wanted = this.#wanted(external)
        const scan = await scanExecutions(this.#deps.cloudRun, this.entry, wanted, () => this.#deps.budget.tryTake())
        if (scan.pages === 0) waitMs = this.#deps.budget.waitMs()
        else {
          this.#deps.counted?.(scan.pages)
          this.#scannedOkAt = scannedAt
          changed = await this.#adoptOutsideRuns(scan) || changed
          changed = await this.#apply(scan, wanted) || changed
          if (scan.complete) {
            this.#discoveredUpTo = scannedAt
            this.#viewedAt = scannedAt
            listed = this.#listed()
          }
        }
      } else {
        this.#viewedAt = this.#deps.now()
        listed = this.#listed()
      }
      if (this.#deps.admit !== undefined) {
        const admission = await this.#deps.admit([...this.#records.values()], listed)
        waiting = admission.waiting
        changed = admission.admitted > 0 || changed
      }
      const swept = await this.#deps.outbox.sweep(this.entry.id)
      // A job whose outside runs are followed is never let go: a run may start any time.
      if (this.#records.size === 0 && swept && !external && !waiting && await this.#deps.idle()) {
        this.#deps.log.debug({ job: this.entry.id }, `run events: job "${this.entry.id}" has no unfinished run; its lease is released`)
        this.stop()
        return
      }
    } catch (err) {
      this.#deps.log.warn({ err, job: this.entry.id }, `run events: reconciling job "${this.entry.id}" failed; trying again`)
      waitMs = this.#backoff.after(false)
    } finally {
      this.#passing = false
      // Readers who came during this pass are served by it, unless something changed meanwhile (then by the next).
      for (const resolve of this.#again ? serving : [...serving, ...this.#waiters.splice(0)]) resolve()
    }
    if (this.#again) { this.#begin(); return }
    // Runs waiting for a slot: a run's end is what frees one, so look at the quickest pace (the read budget bounds it).
    this.#schedule(waitMs ?? (waiting ? this.#waitingPaceMs() : this.#backoff.after(changed)), waiting)
  }

  /**
   * Runs wait for a slot: the next pass at the quickest pace, or just after the next forecast end when that is sooner
   * and a quick look is in hand (at most FORECAST_BURST in a row, and one more per firstMs on average than the pace).
   */
  #waitingPaceMs (): number {
    const { firstMs } = this.#deps.schedule
    const now = this.#deps.now()
    this.#quickLooks = Math.min(FORECAST_BURST, this.#quickLooks + (now - this.#quickLooksAt) / firstMs)
    this.#quickLooksAt = now
    const end = this.#forecast.nextEnd(this.#seen.values(), now)
    if (end === undefined || end >= now + firstMs || this.#quickLooks < 1) return firstMs
    this.#quickLooks -= 1
    return Math.max(FORECAST_GAP_MS, end - now)
  }

  #schedule (ms: number, waiting: boolean): void {
    // Events waiting for Pub/Sub keep the loop coming back for the sweep, even with no run left to follow.
    const sweepIn = this.#deps.outbox.sweepDueAt(this.entry.id) - this.#deps.now()
    this.#timer.after(this.#records.size > 0 || waiting ? ms : Math.max(ms, sweepIn, 1_000))
  }

  #wanted (external: boolean): ScanWanted {
    const names = new Set<string>()
    const markers = new Set<string>()
    let since = external ? this.#discoveredUpTo : Number.POSITIVE_INFINITY
    const answerDue = this.#deps.now() - ANSWER_GRACE_MS
    for (const record of this.#records.values()) {
      // A start still awaiting its answer: a look for its marker would page through the job's recent runs, the view incomplete.
      if (record.execution === undefined && startBegan(record) > answerDue) continue
      if (record.execution === undefined) markers.add(record.id)
      else names.add(record.execution)
      since = Math.min(since, startBegan(record))
    }
    return { names, markers, since, unmarked: external }
  }

  /** Records the runs started outside jobgate that the scan shows for the first time. */
  async #adoptOutsideRuns (scan: ScanResult): Promise<boolean> {
    let adopted = false
    const followed = new Set([...this.#records.values()].map(record => record.execution))
    for (const execution of scan.unmarked) {
      const name = execution.metadata?.name
      if (name === undefined || followed.has(name)) continue
      const tenant = runTenant(this.entry, execution)
      // The id is the execution's: every instance that ever follows this job adopts it as the same record.
      const record: RunRecord = {
        id: `${this.entry.id}~${name}`,
        job: this.entry.id,
        principal: OUTSIDE,
        phase: 'starting',
        execution: name,
        createdAt: Date.parse(execution.metadata?.creationTimestamp ?? '') || this.#deps.now(),
        ...(tenant !== undefined && { tenant })
      }
      if (!await this.#deps.store.adopt(record)) continue
      this.#deps.log.info({ job: this.entry.id, run: name }, `run events: following run ${name} of job "${this.entry.id}", started outside jobgate`)
      this.#records.set(record.id, record)
      scan.byName.set(name, execution)
      adopted = true
    }
    return adopted
  }

  /** Records what the scan shows; true when anything moved. Runs added while it listed wait for the next scan. */
  async #apply (scan: ScanResult, wanted: ScanWanted): Promise<boolean> {
    let changed = false
    for (const record of [...this.#records.values()]) {
      const execution = record.execution === undefined ? scan.byMarker.get(record.id) : scan.byName.get(record.execution)
      const lookedFor = record.execution === undefined ? wanted.markers.has(record.id) : wanted.names.has(record.execution)
      if (execution !== undefined) changed = await this.#follow(record, execution) || changed
      else if (scan.complete && lookedFor) changed = await this.#missing(record) || changed
    }
    return changed
  }

  /** Records the start and the end of a run as the execution shows them. */
  async #follow (record: RunRecord, execution: Execution): Promise<boolean> {
    const { recorder } = this.#deps
    const name = execution.metadata?.name ?? ''
    this.#seen.set(name, execution)
    this.#deps.observed?.(this.entry, execution)
    const progress = progressOf(execution)
    const moved = this.#progress.get(record.id) !== progress
    this.#progress.set(record.id, progress)
    let current = record
    if (record.phase === 'starting') {
      await recorder.record(this.entry, record, 'started', execution)
      current = advanced(record, 'started', toRun(this.entry.id, execution), this.#deps.now())
      this.#records.set(record.id, current)
    }
    if (isTerminal(executionState(execution))) {
      this.#deps.log.debug({ job: this.entry.id, run: name }, `run events: run ${name} ended`)
      this.#forecast.ended(execution)
      await recorder.record(this.entry, current, 'finished', execution)
      this.#ended.set(name, this.#deps.now())
      this.#forget(record.id)
      return true
    }
    return moved || current !== record
  }

  /** A run the scan did not show: a start that never happened, or an execution deleted before it ended. */
  async #missing (record: RunRecord): Promise<boolean> {
    if (record.execution === undefined) {
      if (this.#deps.now() - startBegan(record) < this.#deps.staleMs) return false
      this.#deps.log.warn({ job: this.entry.id, run: record.id }, `run events: the start of run ${record.id} of job "${this.entry.id}" created no execution`)
      // An admitted run whose start started nothing goes back to its place in the queue.
      if (record.queue === undefined) await this.#deps.recorder.forget(record)
      else await this.#deps.store.requeue(record.id)
      this.#forget(record.id)
      return true
    }
    if (!this.#deps.budget.tryTake()) return false
    try {
      return await this.#follow(record, await this.#deps.cloudRun.getExecution(this.entry, record.execution))
    } catch (err) {
      if (apiErrorOf(err)?.httpCode !== 404) throw err
    }
    const last = record.run ?? toRun(this.entry.id, { metadata: { name: record.execution } })
    const deleted = { ...last, state: 'FAILED' as const, message: 'the execution was deleted before jobgate saw it end' }
    this.#deps.log.warn({ job: this.entry.id, run: record.execution }, `run events: execution ${record.execution} was deleted before it ended`)
    await this.#deps.recorder.recordRun(record, 'finished', deleted)
    this.#ended.set(record.execution, this.#deps.now())
    this.#forget(record.id)
    return true
  }

  /** The executions seen (followed, or ended within the job's longest run: a lease lasts no longer). */
  #listed (): ReadonlySet<string> {
    const horizon = this.#deps.now() - this.entry.maxTimeoutSeconds * 1000
    for (const [name, at] of this.#ended) if (at < horizon) this.#ended.delete(name)
    return new Set([...this.#seen.keys(), ...this.#ended.keys()])
  }

  #forget (id: string): void {
    const execution = this.#records.get(id)?.execution
    if (execution !== undefined) this.#seen.delete(execution)
    this.#records.delete(id)
    this.#progress.delete(id)
  }
}
