import { randomBytes, randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { JobCatalog, JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { ScopeView } from '../concurrency/scope-view.js'
import type { Execution } from '../cloudrun/execution.js'
import { toRun } from '../cloudrun/mapping.js'
import { RECONCILE_POLL, type PollSchedule } from '../live/poll-schedule.js'
import { callerKey } from '../policy/caller-key.js'
import type { Caller } from '../policy/run-policy.js'
import type { Batch } from '../schemas/batch.js'
import type { Run, RunRequest } from '../schemas/run.js'
import { JobAdmission, type AdmitStart } from './admission.js'
import { Batches } from './batches.js'
import { ProjectCeilings, type CeilingOutcome } from './ceilings.js'
import type { LifecycleConfig } from './config.js'
import { Outbox } from './outbox.js'
import type { EventPublisher } from './pubsub-publisher.js'
import { JobReconciler, type ReadAllowance } from './reconciler.js'
import { advanced, TransitionRecorder } from './recorder.js'
import { RUN_MARKER, startCountsUntil, type RunRecord, type StoredEvent } from './run-record.js'
import type { LifecycleStore } from './store.js'

export interface LifecycleDeps {
  config: LifecycleConfig
  store: LifecycleStore
  catalog: JobCatalog
  cloudRun: Pick<CloudRunClient, 'listExecutions' | 'getExecution'>
  /** The Cloud Run read budget: reconcilers' lists draw on it like every other read. */
  budget: ReadAllowance
  /** Absent: no events topic. */
  publisher?: EventPublisher
  log: Logger
  /** A start whose execution no listing shows this long after it began started nothing (the idempotency stale bound). */
  staleMs: number
  schedule?: PollSchedule
  /** Local mode: resolves when the emulator ended the run, so the reconciler looks at once. */
  runEnded?: (entry: JobEntry, name: string) => Promise<unknown>
  now?: () => number
}

/** What a start does around its `jobs.run` call (api/runs/starter.ts). */
export interface PendingStart {
  /** The run record's id, set on the execution as `RUN_MARKER`. */
  readonly id: string
  /** The marker, as the env override the start must add. */
  readonly marker: Readonly<Record<string, string>>
  /** Cloud Run answered: record the start. Never throws (a failure is logged; the reconciler finds the run by its marker). */
  started: (execution: Execution) => Promise<void>
  /** The start failed; `provenNotStarted`: nothing can have started, so the record goes at once. */
  failed: (provenNotStarted: boolean) => Promise<void>
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
const randomText = (length: number, alphabet = ALPHABET): string =>
  [...randomBytes(length)].map(byte => alphabet[byte % alphabet.length]).join('')

/**
 * 10 characters of [a-z0-9]: never the 5 of a Cloud Run execution suffix, so a run id is never an execution's name;
 * a queued run's begins with q, no other's does (isQueuedRunId).
 */
const runIdSuffix = (): string => randomText(1, ALPHABET.replace('q', '')) + randomText(9)
const queuedIdSuffix = (): string => `q${randomText(9)}`
/** A batch's name: `{job}-b` and 9 characters. */
const batchId = (job: string): string => `${job.slice(0, 40)}-b${randomText(9)}`

/** How often a `?wait` on a queued run looks at its record, when no event of this instance says it moved. */
const ADMISSION_CHECK_MS = 1_000

/**
 * Runs beyond one request: every run jobgate starts has a record from before its start until its end,
 * one reconciler per job (on the instance holding the job's lease) records its transitions, and the
 * outbox publishes them as CloudEvents. Routes, push routes and the live layer use only this class.
 */
export class RunLifecycle {
  /** This instance's name as a lease holder. */
  readonly instance = randomUUID()
  readonly recorder: TransitionRecorder
  readonly outbox: Outbox
  readonly batches: Batches
  readonly #deps: LifecycleDeps
  readonly #now: () => number
  readonly #reconcilers = new Map<string, JobReconciler>()
  readonly #leaseTimer: NodeJS.Timeout
  #observed: ((entry: JobEntry, execution: Execution) => void) | undefined
  #recordsCursor: string | undefined
  #catchingUp: Promise<void> | undefined
  #caughtUpAt = 0
  #closed = false
  #admitStart: AdmitStart | undefined
  readonly #ceilings: ProjectCeilings
  /** The lease check under way: close waits for it. */
  #tending: Promise<void> = Promise.resolve()
  #tendingNow = false
  /** executions.list calls the reconcilers made here: what tests subtract from the upstream calls they count. */
  lists = 0

  constructor (deps: LifecycleDeps) {
    this.#deps = deps
    this.#now = deps.now ?? Date.now
    const publisher = deps.publisher === undefined ? {} : { publisher: deps.publisher }
    // A run's end may be its batch's: checked before its event is published (batches.ts).
    const followUp = async (events: readonly StoredEvent[]): Promise<void> => { await this.batches.runsEnded(events) }
    const { store, log, config } = deps
    this.outbox = new Outbox({ store, log, maxWaitMs: config.outboxMaxWaitMs, now: this.#now, followUp, ...publisher })
    this.recorder = new TransitionRecorder(deps.store, this.outbox, this.#now)
    this.batches = new Batches({ store: deps.store, recorder: this.recorder, now: this.#now })
    this.#ceilings = new ProjectCeilings(deps.store, deps.catalog, deps.config.ceilings, this.#now)
    // Renew held leases well before they lapse; with a shared store, also take over jobs whose holder died.
    this.#leaseTimer = setInterval(() => { this.#tend() }, Math.max(500, Math.floor(deps.config.leaseMs / 3)))
    this.#leaseTimer.unref()
    // Jobs whose outside runs are followed need a reconciler from the start, not from their first start here.
    if ([...deps.catalog.values()].some(entry => entry.followsExternalRuns === true)) setImmediate(() => { this.#tend() })
  }

  /** The live layer hears of every execution a reconciler saw (one source of a run's state). */
  onObserved (listener: (entry: JobEntry, execution: Execution) => void): void {
    this.#observed = listener
  }

  /** Reconcilers running here: what tests count. */
  get reconcilers (): readonly JobReconciler[] { return [...this.#reconcilers.values()] }

  /** Records a run about to start; the start carries the marker and reports back through the handle. */
  #newRecord (entry: JobEntry, request: RunRequest, caller: Caller, id: string, phase: RunRecord['phase']): RunRecord {
    const tenantKey = entry.env.tenantKey
    const tenant = tenantKey === undefined ? undefined : request.env?.[tenantKey]
    return {
      id: `${entry.id.slice(0, 40)}-${id}`, job: entry.id, principal: callerKey(caller), phase, createdAt: this.#now(),
      ...(tenant !== undefined && { tenant }),
      ...(phase === 'starting' && { startCountsUntil: startCountsUntil(this.#now(), false) })
    }
  }

  /** A job this instance follows needs nothing more; otherwise make sure someone does (usually: one read). */
  async #followed (entry: JobEntry): Promise<JobReconciler | undefined> {
    const held = this.#reconcilers.get(entry.id)
    if (held !== undefined && !held.stopped) return held
    return await this.#deps.store.leases.acquire(entry.id, this.#claim) ? this.#follow(entry) : undefined
  }

  async beginStart (entry: JobEntry, request: RunRequest, caller: Caller): Promise<PendingStart> {
    const record = this.#newRecord(entry, request, caller, runIdSuffix(), 'starting')
    await this.#deps.store.begin(record)
    ;(await this.#followed(entry))?.add(record)
    return {
      id: record.id,
      marker: { [RUN_MARKER]: record.id },
      started: async execution => { await this.#started(entry, record, execution) },
      failed: async provenNotStarted => {
        if (!provenNotStarted) return
        this.#reconcilers.get(entry.id)?.drop(record.id)
        await this.#deps.store.forget(record.id).catch((err: unknown) => {
          this.#deps.log.warn({ err, run: record.id }, `run events: could not forget run ${record.id}; it lapses after the stale bound`)
        })
      }
    }
  }

  /**
   * Queues a run the job's Queue policy holds back: its record (the request as the policy allowed it) and
   * `jobgate.run.queued`. The job's reconciler admits it when a slot frees; the answer is the QUEUED Run.
   */
  async enqueue (entry: JobEntry, request: RunRequest, caller: Caller): Promise<Run> {
    const run = await this.recorder.queued(this.#queuedRecord(entry, request, caller))
    ;(await this.#followed(entry))?.soon()
    return run
  }

  /** Queues a batch of runs (each request as the job's policy allowed it) under one name: the Batch, all its runs QUEUED. */
  async enqueueBatch (entry: JobEntry, requests: readonly RunRequest[], caller: Caller): Promise<Batch> {
    const records = requests.map(request => this.#queuedRecord(entry, request, caller))
    const batch = await this.batches.create(batchId(entry.id), entry, callerKey(caller), records)
    ;(await this.#followed(entry))?.soon()
    return batch
  }

  #queuedRecord (entry: JobEntry, request: RunRequest, caller: Caller): RunRecord {
    const record = this.#newRecord(entry, request, caller, queuedIdSuffix(), 'queued')
    const timeoutMs = entry.concurrency?.queueTimeoutMs ?? 0
    return { ...record, queue: { request, lane: record.tenant ?? record.principal, expiresAt: record.createdAt + timeoutMs } }
  }

  /** Whether runs of `entry` wait in its queue (of `tenant`'s lane with per-tenant scope): a new start queues behind them. */
  async hasQueued (entry: JobEntry, tenant: string | undefined): Promise<boolean> {
    const { store } = this.#deps
    if (entry.concurrency?.scope === 'tenant') return (await store.queued(entry.id, 1, tenant ?? '')).length > 0
    return await store.nextQueued(entry.id, undefined) !== undefined
  }

  /** Begins a start (beginStart) if the project-wide ceilings let it go ahead now, or says why not. */
  async beginUnderCeilings (entry: JobEntry, request: RunRequest, caller: Caller): Promise<CeilingOutcome<PendingStart>> {
    return await this.#ceilings.within(entry, async () => await this.beginStart(entry, request, caller))
  }

  /** The starter that admits queued runs (services wire it once both exist). */
  admitWith (start: AdmitStart): void {
    this.#admitStart = start
  }

  /** A queued run's record (any phase), for the routes that take its name. */
  async queuedRecord (entry: JobEntry, id: string): Promise<RunRecord | undefined> {
    const record = await this.#deps.store.record(id)
    return record?.job === entry.id && record.queue !== undefined ? record : undefined
  }

  /** The oldest queued runs of `entry` (of one lane, when given), up to `limit`. */
  async queuedRuns (entry: JobEntry, limit: number, lane?: string): Promise<RunRecord[]> {
    return await this.#deps.store.queued(entry.id, limit, lane)
  }

  /** Where each of these queued runs of one job stands in its admission order (1 = next). */
  async positions (records: readonly RunRecord[]): Promise<number[]> {
    return records.length === 0 ? [] : await this.#deps.store.positions(records)
  }

  /** Cancels a run still queued: CANCELLED, never started; undefined when it was admitted meanwhile (cancel its execution). */
  async cancelQueued (record: RunRecord, by: string): Promise<Run | undefined> {
    return await this.recorder.settle(record, { state: 'CANCELLED', message: `cancelled by ${by} while queued; never started` })
  }

  /**
   * Resolves once the queued run `id` has an execution or ended, `waitMs` passed or `signal` aborted:
   * this instance's events wake it at once, a look at the record each second catches other instances' admissions.
   */
  async awaitAdmission (entry: JobEntry, id: string, waitMs: number, signal?: AbortSignal): Promise<RunRecord | undefined> {
    const deadline = this.#now() + waitMs
    for (;;) {
      const record = await this.queuedRecord(entry, id)
      const left = deadline - this.#now()
      const moved = record === undefined || record.execution !== undefined || record.phase === 'finished'
      if (moved || left <= 0 || signal?.aborted === true) return record
      await this.recorder.until(event => event.subject.endsWith(`/runs/${id}`), Math.min(left, ADMISSION_CHECK_MS), signal)
    }
  }

  async #started (entry: JobEntry, record: RunRecord, execution: Execution): Promise<void> {
    const name = execution.metadata?.name ?? ''
    try {
      await this.recorder.record(entry, record, 'started', execution)
    } catch (err) {
      this.#deps.log.error({ err, run: name }, `run events: could not record the start of ${name}; its reconciler records it from Cloud Run`)
    }
    const reconciler = this.#reconcilers.get(entry.id)
    reconciler?.add(advanced(record, 'started', toRun(entry.id, execution), this.#now()), execution)
    reconciler?.soon()
    this.#deps.runEnded?.(entry, name).then(() => { this.#reconcilers.get(entry.id)?.ended() }, () => {})
  }

  /** An execution jobgate just got from Cloud Run (a cancel's answer): the job's reconciler looks again soon. */
  observe (entry: JobEntry): void {
    this.#reconcilers.get(entry.id)?.poke()
  }

  /**
   * A run as this instance's reconciler last saw it, when the reconciler follows it: the live layer's
   * watchers take their state from here instead of reading Cloud Run themselves (one source of truth).
   */
  latest (entry: JobEntry, execution: string): Execution | undefined {
    return this.#reconcilers.get(entry.id)?.latest(execution)
  }

  /** A followed run as a pass at most `maxAgeMs` old saw it (after the next pass, when older or when something changed). */
  async current (entry: JobEntry, execution: string, maxAgeMs: number): Promise<Execution | undefined> {
    return await this.#reconcilers.get(entry.id)?.current(execution, maxAgeMs)
  }

  /**
   * The concurrency scope of `entry` (of `tenant`'s runs with tenant scope) as this instance's reconciler of the job sees it:
   * what a start needs instead of paging through Cloud Run's list. Undefined when no reconciler here has a recent complete view.
   */
  scopeView (entry: JobEntry, tenant: string | undefined): ScopeView | undefined {
    return this.#reconcilers.get(entry.id)?.scopeView(tenant)
  }

  /** A live reader waits on a followed run of `entry`: its reconciler looks soon. */
  hurry (entry: JobEntry): void {
    this.#reconcilers.get(entry.id)?.hurry()
  }

  /** This instance holds `entry`'s lease: its reconciler, made (and loaded with the job's open records) if needed. */
  #follow (entry: JobEntry): JobReconciler {
    const running = this.#reconcilers.get(entry.id)
    if (running !== undefined && !running.stopped) return running
    const deps = this.#deps
    const admission = entry.concurrency?.policy === 'Queue' ? this.#admission(entry, () => reconciler) : undefined
    const reconciler: JobReconciler = new JobReconciler(entry, {
      ...(admission !== undefined && { admit: async (followed, listed) => await admission.pass(followed, listed) }),
      cloudRun: deps.cloudRun,
      store: deps.store,
      recorder: this.recorder,
      outbox: this.outbox,
      budget: deps.budget,
      log: deps.log,
      schedule: deps.schedule ?? RECONCILE_POLL,
      staleMs: deps.staleMs,
      now: this.#now,
      observed: (job, execution) => { this.#observed?.(job, execution) },
      counted: lists => { this.lists += lists },
      ...(deps.store.shared && { catchUp: async () => { await this.#catchUp() } }),
      idle: async () => await this.#release(reconciler)
    })
    this.#reconcilers.set(entry.id, reconciler)
    void deps.store.openRecords(entry.id).then(records => {
      for (const record of records) reconciler.add(record)
      reconciler.poke()
    }, (err: unknown) => {
      deps.log.error({ err, job: entry.id }, `run events: could not load the unfinished runs of job "${entry.id}"; retrying at the next lease check`)
      reconciler.stop()
      this.#reconcilers.delete(entry.id)
    })
    return reconciler
  }

  #admission (entry: JobEntry, reconciler: () => JobReconciler): JobAdmission {
    return new JobAdmission(entry, {
      store: this.#deps.store,
      recorder: this.recorder,
      log: this.#deps.log,
      now: this.#now,
      start: () => this.#admitStart,
      underCeilings: async (entry, begin) => await this.#ceilings.within(entry, begin),
      claimed: record => { reconciler().add(record) },
      released: id => { reconciler().drop(id) },
      started: async (record, execution) => { await this.#started(entry, record, execution) }
    })
  }

  /** Lets the job go when nothing is left; a start that came in meanwhile keeps it. */
  async #release (reconciler: JobReconciler): Promise<boolean> {
    const id = reconciler.entry.id
    if (!await this.#deps.store.leases.releaseIfIdle(id, this.instance)) return false
    if (reconciler.following > 0) {
      await this.#deps.store.leases.acquire(id, this.#claim)
      return false
    }
    if (this.#reconcilers.get(id) === reconciler) this.#reconcilers.delete(id)
    return true
  }

  /** Other instances' new records, at most once a second, handed to the reconcilers held here. */
  async #catchUp (): Promise<void> {
    if (this.#now() - this.#caughtUpAt < 1_000) return
    this.#catchingUp ??= (async () => {
      const { records, cursor } = await this.#deps.store.recordsSince(this.#recordsCursor)
      this.#recordsCursor = cursor
      this.#caughtUpAt = this.#now()
      for (const record of records) this.#reconcilers.get(record.job)?.add(record)
    })().finally(() => { this.#catchingUp = undefined })
    await this.#catchingUp
  }

  /** This instance's claim on a job's lease. */
  get #claim (): { holder: string, ttlMs: number } {
    return { holder: this.instance, ttlMs: this.#deps.config.leaseMs }
  }

  #tend (): void {
    if (this.#tendingNow) return
    this.#tendingNow = true
    this.#tending = this.#tendLeases().finally(() => { this.#tendingNow = false })
  }

  async #tendLeases (): Promise<void> {
    if (this.#closed) return
    const { store, catalog, log } = this.#deps
    const claim = this.#claim
    try {
      for (const reconciler of [...this.#reconcilers.values()]) {
        if (await store.leases.acquire(reconciler.entry.id, claim)) continue
        log.warn({ job: reconciler.entry.id }, `run events: lost the lease of job "${reconciler.entry.id}" to another instance`)
        reconciler.stop()
        this.#reconcilers.delete(reconciler.entry.id)
      }
      const unheld = [...catalog.values()].filter(entry => !this.#reconcilers.has(entry.id))
      const watched = unheld.filter(entry => entry.followsExternalRuns === true).map(entry => entry.id)
      const orphaned = store.shared ? await store.leases.orphaned(unheld.map(entry => entry.id), this.#now()) : []
      for (const id of new Set([...watched, ...orphaned])) {
        const entry = catalog.get(id)
        if (entry === undefined || !await store.leases.acquire(id, claim)) continue
        if (orphaned.includes(id)) log.info({ job: id }, `run events: took over job "${id}" from an instance that stopped`)
        this.#follow(entry).poke()
      }
    } catch (err) {
      log.warn({ err }, 'run events: renewing the reconcilers\' leases failed; trying again')
    }
  }

  /** Stops the reconcilers; jobs with work left are handed over, so another instance takes them at once. */
  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#leaseTimer)
    const held = [...this.#reconcilers.values()]
    this.#reconcilers.clear()
    for (const reconciler of held) reconciler.stop()
    // Nothing may use the store once it closes: passes, lease checks and publishes under way end first.
    await Promise.all([this.#tending, this.outbox.settled(), ...held.map(async reconciler => { await reconciler.settled() })])
    await Promise.all(held.map(async reconciler => {
      await this.#deps.store.leases.handOver(reconciler.entry.id, this.instance).catch(() => {})
    }))
  }
}
