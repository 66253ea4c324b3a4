import { randomBytes, randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { JobCatalog, JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution } from '../cloudrun/execution.js'
import { toRun } from '../cloudrun/mapping.js'
import { RECONCILE_POLL, type PollSchedule } from '../live/poll-schedule.js'
import { callerKey } from '../policy/caller-key.js'
import type { Caller } from '../policy/run-policy.js'
import type { RunRequest } from '../schemas/run.js'
import type { LifecycleConfig } from './config.js'
import { Outbox } from './outbox.js'
import type { EventPublisher } from './pubsub-publisher.js'
import { JobReconciler, type ReadAllowance } from './reconciler.js'
import { TransitionRecorder } from './recorder.js'
import { RUN_MARKER, type RunRecord } from './run-record.js'
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

/** 10 characters of [a-z0-9]: never the 5 of a Cloud Run execution suffix, so a run id is never an execution's name. */
function runIdSuffix (): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  return [...randomBytes(10)].map(byte => alphabet[byte % alphabet.length]).join('')
}

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
  readonly #deps: LifecycleDeps
  readonly #now: () => number
  readonly #reconcilers = new Map<string, JobReconciler>()
  readonly #leaseTimer: NodeJS.Timeout
  #observed: ((entry: JobEntry, execution: Execution) => void) | undefined
  #recordsCursor: string | undefined
  #catchingUp: Promise<void> | undefined
  #caughtUpAt = 0
  #closed = false
  /** The lease check under way: close waits for it. */
  #tending: Promise<void> = Promise.resolve()
  #tendingNow = false
  /** executions.list calls the reconcilers made here: what tests subtract from the upstream calls they count. */
  lists = 0

  constructor (deps: LifecycleDeps) {
    this.#deps = deps
    this.#now = deps.now ?? Date.now
    const publisher = deps.publisher === undefined ? {} : { publisher: deps.publisher }
    this.outbox = new Outbox({ store: deps.store, log: deps.log, maxWaitMs: deps.config.outboxMaxWaitMs, now: this.#now, ...publisher })
    this.recorder = new TransitionRecorder(deps.store, this.outbox, this.#now)
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
  async beginStart (entry: JobEntry, request: RunRequest, caller: Caller): Promise<PendingStart> {
    const tenantKey = entry.env.tenantKey
    const tenant = tenantKey === undefined ? undefined : request.env?.[tenantKey]
    const record: RunRecord = {
      id: `${entry.id.slice(0, 40)}-${runIdSuffix()}`,
      job: entry.id,
      principal: callerKey(caller),
      phase: 'starting',
      createdAt: this.#now(),
      ...(tenant !== undefined && { tenant })
    }
    await this.#deps.store.begin(record)
    // A job this instance follows needs nothing more; otherwise make sure someone does (usually: one read).
    const held = this.#reconcilers.get(entry.id)
    if (held !== undefined && !held.stopped) held.add(record)
    else if (await this.#deps.store.leases.acquire(entry.id, this.#claim)) this.#follow(entry).add(record)
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

  async #started (entry: JobEntry, record: RunRecord, execution: Execution): Promise<void> {
    const name = execution.metadata?.name ?? ''
    try {
      await this.recorder.record(entry, record, 'started', execution)
    } catch (err) {
      this.#deps.log.error({ err, run: name }, `run events: could not record the start of ${name}; its reconciler records it from Cloud Run`)
    }
    const reconciler = this.#reconcilers.get(entry.id)
    reconciler?.add({ ...record, phase: 'started', execution: name, run: toRun(entry.id, execution) }, execution)
    reconciler?.soon()
    this.#deps.runEnded?.(entry, name).then(() => { this.#reconcilers.get(entry.id)?.poke() }, () => {})
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

  /** A live reader waits on a followed run of `entry`: its reconciler looks soon. */
  hurry (entry: JobEntry): void {
    this.#reconcilers.get(entry.id)?.hurry()
  }

  /** This instance holds `entry`'s lease: its reconciler, made (and loaded with the job's open records) if needed. */
  #follow (entry: JobEntry): JobReconciler {
    const running = this.#reconcilers.get(entry.id)
    if (running !== undefined && !running.stopped) return running
    const deps = this.#deps
    const reconciler: JobReconciler = new JobReconciler(entry, {
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
