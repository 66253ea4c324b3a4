import type { FastifyBaseLogger } from 'fastify'
import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution } from '../cloudrun/execution.js'
import { hasOverrides, toRun, toRunJobRequest } from '../cloudrun/mapping.js'
import { ConcurrencyConflict } from '../concurrency/conflict.js'
import { ConcurrencyControl } from '../concurrency/control.js'
import { MemoryLeaseStore } from '../concurrency/memory-lease-store.js'
import { ApiError, apiErrorOf } from '../errors.js'
import {
  fingerprint, runOnce, scopedKey,
  type IdempotencyConfig, type IdempotencyStore, type RunOnceOptions, type RunOnceResult, type StoredResponse
} from '../idempotency/index.js'
import { RUN_MARKER, type AdmitStart, type RunLifecycle } from '../lifecycle/index.js'
import { callerKey } from '../policy/caller-key.js'
import { applyRunPolicy, type Caller } from '../policy/run-policy.js'
import type { Batch } from '../schemas/batch.js'
import type { Run, RunRequest } from '../schemas/run.js'
import {
  auditAdmission, auditBatchAttempt, auditRunAttempt, auditTenant, type AuditRecord, type BatchAuditRecord, type Trigger
} from './audit.js'
import { inItem } from './request-check.js'
import { InflightLimit } from './inflight.js'

export interface StartRunInput {
  entry: JobEntry
  request: RunRequest
  caller: Caller
  log: FastifyBaseLogger
  trigger?: Trigger
  /**
   * Starts at most one run per key (per principal and tenant, job and trigger): the `Idempotency-Key` header,
   * `{subscription}/messages/{messageId}` for Pub/Sub, `queues/{queue}/tasks/{task}` for Cloud Tasks.
   */
  idempotencyKey?: string
  /** What a repeat must equal to be a replay rather than a 422; default: `request`. */
  fingerprintOf?: unknown
  /** Trigger facts for the audit line (delivery attempt, task retry count…). */
  details?: Record<string, string | number>
  /** Where the attempt's audit line goes; default: written to `log`. Routes pass their request's (see plugins/audit.ts). */
  audit?: (log: FastifyBaseLogger, record: AuditRecord) => void
}

/** Whose keys an idempotency key is among (principal and tenant, job), and where its store's failures are logged. */
type KeyScope = Pick<StartRunInput, 'caller' | 'entry' | 'log'>
type KeyTrigger = Trigger | 'batch'
type Start = () => Promise<StoredResponse>

/** A started (or, for a repeated key, earlier started) run: the route decides how to answer. */
export interface StartedRun {
  run: Run
  /** An earlier request with the same key started it: nothing was started now. */
  replayed: boolean
}

/** A batch of runs (POST …/batches), each item a well-formed run request (request-check.ts). */
export interface StartBatchInput {
  entry: JobEntry
  requests: readonly RunRequest[]
  caller: Caller
  log: FastifyBaseLogger
  /** The `Idempotency-Key` header: a repeat with the same body answers with the same batch and queues nothing. */
  idempotencyKey?: string
  /** The body as sent: what a repeat must equal. */
  fingerprintOf: unknown
  audit?: (log: FastifyBaseLogger, record: BatchAuditRecord) => void
}

export interface StartedBatch {
  batch: Batch
  replayed: boolean
}

/** The idempotency store and its timings (JOBGATE_IDEMPOTENCY_*). */
export interface IdempotencySetup extends Pick<IdempotencyConfig, 'ttlMs' | 'waitMs' | 'staleMs'> {
  store: IdempotencyStore
}

/** A run just started (or queued), and the runs a Replace policy cancelled for it. */
interface StartedNow { response: StoredResponse, replaced: string[], queued?: boolean }

/** The one path every trigger (REST, Pub/Sub push, Cloud Tasks) takes to start a run. */
export class RunStarter {
  readonly #cloudRun: CloudRunClient
  readonly #limit: InflightLimit
  readonly #idempotency: IdempotencySetup
  readonly #concurrency: ConcurrencyControl
  readonly #lifecycle: RunLifecycle | undefined

  /**
   * `concurrency` enforces the jobs' concurrency policies; default: leases in this process's memory.
   * `lifecycle` records each run from before its start (absent: runs are not followed beyond the request).
   */
  constructor (
    cloudRun: CloudRunClient,
    maxInflightRuns: number,
    idempotency: IdempotencySetup,
    concurrency = new ConcurrencyControl(cloudRun, new MemoryLeaseStore(), { pendingMs: idempotency.staleMs }),
    lifecycle?: RunLifecycle
  ) {
    this.#cloudRun = cloudRun
    this.#limit = new InflightLimit(maxInflightRuns)
    this.#idempotency = idempotency
    this.#concurrency = concurrency
    this.#lifecycle = lifecycle
  }

  async start (input: StartRunInput): Promise<StartedRun> {
    const { entry, caller, log } = input
    const auditLine = input.audit ?? auditRunAttempt
    const writeAudit = (record: AuditRecord): void => { auditLine(log, record) }
    const audit: AuditRecord = {
      entry,
      caller: caller.name,
      tenant: auditTenant(entry, caller, input.request.env),
      // The request as sent: env names the caller chose (the tenant, which jobgate sets, is the jobgate_tenant label).
      request: input.request,
      trigger: input.trigger ?? 'api',
      ...(input.idempotencyKey !== undefined && { idempotencyKey: input.idempotencyKey }),
      ...(input.details !== undefined && { details: input.details })
    }
    try {
      // Policy first: a request that may never run claims no key.
      const allowed = applyRunPolicy(entry, input.request, caller)
      let replaced: string[] = []
      let queued = false as boolean
      // Inside runOnce: a replayed key gets its first answer and never counts as a start against the concurrency policy.
      const start = async (): Promise<StoredResponse> => {
        const started = await this.#startNow(entry, allowed, caller, log)
        replaced = started.replaced
        queued = started.queued === true
        return started.response
      }
      const body = input.fingerprintOf ?? input.request
      const { response, replayed } = await this.#once(input, audit.trigger, input.idempotencyKey, body, start)
      const run = runOf(response)
      writeAudit({ ...audit, execution: run.name, replayed, ...(replaced.length > 0 && { replaced }), ...(queued && { queued }) })
      return { run, replayed }
    } catch (error) {
      writeAudit({ ...audit, error })
      throw error
    }
  }

  /**
   * Queues a batch of runs on a Queue job: every item passes the job's policy first (one bad item refuses
   * the batch, naming its index, and nothing is queued), then all are queued at once under the batch's name.
   */
  async startBatch (input: StartBatchInput): Promise<StartedBatch> {
    const { entry, caller, log } = input
    const key = input.idempotencyKey
    const runs = input.requests.length
    const audit: BatchAuditRecord = {
      entry, caller: caller.name, tenant: caller.tenant, runs, ...(key !== undefined && { idempotencyKey: key })
    }
    const auditLine = input.audit ?? auditBatchAttempt
    try {
      const lifecycle = this.#batchQueue(entry)
      const allowed = input.requests.map((request, index) => itemChecked(index, () => applyRunPolicy(entry, request, caller)))
      const queue = async (): Promise<Batch> => await lifecycle.enqueueBatch(entry, allowed, caller).catch(partlyQueued)
      const start = async (): Promise<StoredResponse> => storedBatch(await queue())
      const { response, replayed } = await this.#once(input, 'batch', key, input.fingerprintOf, start)
      const batch = response.body as Batch
      auditLine(log, { ...audit, batch: batch.name, replayed })
      return { batch, replayed }
    } catch (error) {
      auditLine(log, { ...audit, error })
      throw error
    }
  }

  /** A batch's runs go through the job's queue: 1,000 starts without one would only bounce off its limit. */
  #batchQueue (entry: JobEntry): RunLifecycle {
    if (entry.concurrency?.policy === 'Queue' && this.#lifecycle !== undefined) return this.#lifecycle
    throw new ApiError('FAILED_PRECONDITION',
      `job "${entry.id}" does not queue runs: batches need its concurrency.policy to be "Queue" (start its runs one by one otherwise)`)
  }

  /** `start` once per key (none: every time); a repeat with the same key and `body` gets the first answer. */
  async #once (input: KeyScope, trigger: KeyTrigger, key: string | undefined, body: unknown, start: Start): Promise<RunOnceResult> {
    if (key === undefined) return { response: await start(), replayed: false }
    return await runOnce(this.#idempotency.store, this.#runOnceOptions(input, trigger, key, body), start)
  }

  #runOnceOptions (input: KeyScope, trigger: KeyTrigger, key: string, body: unknown): RunOnceOptions {
    const { ttlMs, waitMs, staleMs } = this.#idempotency
    return {
      // The trigger is part of the key, so a client's Idempotency-Key can never collide with a Pub/Sub message id
      // (nor a run's with a batch's).
      // Principal AND tenant: two key entries sharing a principal name but bound to different tenants never share keys.
      key: scopedKey(callerKey(input.caller), input.entry.id, `${trigger}:${key}`),
      fingerprint: fingerprint(body),
      ttlMs,
      waitMs,
      staleMs,
      onStoreError: (err, operation) =>
        input.log.error(
          { err, operation, idempotencyKey: key },
          `idempotency store: could not ${operation} key "${key}"; a repeat will be treated as outcome unknown once the record is stale`
        )
    }
  }

  async #startNow (entry: JobEntry, request: RunRequest, caller: Caller, log: FastifyBaseLogger): Promise<StartedNow> {
    // A Queue job's start waits behind the runs already queued (first in first out), and queues past the limit.
    const queue = entry.concurrency?.policy === 'Queue' ? this.#lifecycle : undefined
    const tenantKey = entry.concurrency?.tenantKey
    const enqueue = async (): Promise<StartedNow> =>
      ({ response: storedRun(await (queue as RunLifecycle).enqueue(entry, request, caller)), replaced: [], queued: true })
    const tenant = tenantKey === undefined ? undefined : request.env?.[tenantKey]
    if (queue !== undefined && await queue.hasQueued(entry, tenant)) return await enqueue()
    // Recorded before the start, and marked on the execution: a start whose answer is lost is still followed to its end.
    const begun = await this.#lifecycle?.beginUnderCeilings(entry, request, caller)
    // The project-wide ceilings: a Queue job waits under them, any other start is refused for now.
    if (begun !== undefined && 'hit' in begun) {
      if (queue !== undefined) return await enqueue()
      throw new ApiError('RESOURCE_EXHAUSTED', begun.hit.message, { retryAfterSeconds: begun.hit.retryAfterSeconds })
    }
    const pending = begun?.begun
    // A run without overrides stays one: it needs only run.jobs.run (its lost answer then cannot be matched, see docs/events.md).
    const marked = pending !== undefined && hasOverrides(toRunJobRequest(entry, request))
    const sent = marked ? { ...request, env: { ...request.env, ...pending.marker } } : request
    const runJob = async (): Promise<Execution> => await this.#cloudRun.runJob(entry, toRunJobRequest(entry, sent))
    // Where the job's reconciler sees every run the rule counts, its view spares the start a read of Cloud Run's list.
    const known = followedViewCounts(entry) ? this.#lifecycle?.scopeView(entry, tenant) : undefined
    try {
      const bounded = async (): Promise<Execution> => await this.#limit.run(runJob)
      // A start the view finds full reads Cloud Run's list first: no 409, no Replace and no queueing on a view that missed an end.
      const { execution, replaced } = await this.#concurrency.start(entry, request, bounded, log, known, true)
      void pending?.started(execution)
      return { response: storedRun(toRun(entry.id, execution)), replaced }
    } catch (error) {
      const failure = apiErrorOf(error)
      const provenNotStarted = failure !== undefined && failure.runMayHaveStarted !== true
      await pending?.failed(provenNotStarted)
      // A Queue job never bounces: past its limit, the in-flight bound or Cloud Run's own quota (429), the run waits its turn.
      if (queue !== undefined && (error instanceof ConcurrencyConflict || (provenNotStarted && failure.status === 'RESOURCE_EXHAUSTED'))) {
        return await enqueue()
      }
      throw error
    }
  }

  /**
   * How the job reconcilers start admitted queued runs: the same guarded start (concurrency leases, the
   * in-flight bound), always marked (an admission whose answer is lost is found by its marker, never started twice).
   */
  admitter (log: FastifyBaseLogger): AdmitStart {
    return async (entry, record, known) => {
      const request = record.queue?.request ?? {}
      const marked = { ...request, env: { ...request.env, [RUN_MARKER]: record.id } }
      const runJob = async (): Promise<Execution> => await this.#cloudRun.runJob(entry, toRunJobRequest(entry, marked))
      const admission = { entry, principal: record.principal, tenant: record.tenant, run: record.id }
      try {
        const { execution } = await this.#concurrency.start(entry, request, async () => await this.#limit.run(runJob), log, known)
        auditAdmission(log, { ...admission, execution: execution.metadata?.name ?? '' })
        return { started: execution }
      } catch (error) {
        const failure = apiErrorOf(error)
        // The policy's slot went to another start, or too many starts are in flight: back in line.
        if (error instanceof ConcurrencyConflict) return { full: 'slot' }
        if (failure?.status === 'RESOURCE_EXHAUSTED' && failure.runMayHaveStarted !== true) return { full: 'busy' }
        auditAdmission(log, { ...admission, error })
        return { failed: error, provenNotStarted: failure !== undefined && failure.runMayHaveStarted !== true }
      }
    }
  }
}

/**
 * Whether a job's reconciler follows every run its concurrency rule counts. A Queue job counts jobgate's own runs (as its
 * admissions do); other policies count runs started outside jobgate too, which a reconciler follows only with events.external.
 */
const followedViewCounts = (entry: JobEntry): boolean => entry.concurrency?.policy === 'Queue' || entry.followsExternalRuns === true

/**
 * The record kept per idempotency key. Its shape is the REST answer (202, Location, Run), as it
 * has been since the first release: instances of different versions share Firestore records.
 */
const storedRun = (run: Run): StoredResponse => ({ statusCode: 202, headers: { location: run.links.self }, body: run })
const runOf = (response: StoredResponse): Run => response.body as Run
/** A batch's answer, kept per idempotency key like a run's. */
const storedBatch = (batch: Batch): StoredResponse => ({ statusCode: 202, headers: { location: batch.links.self }, body: batch })

/** A batch the store refused part of the way (its runs are written in chunks): some runs may be queued, and will run. */
function partlyQueued (error: unknown): never {
  if (apiErrorOf(error) !== undefined) throw error
  const message = 'the batch could not be recorded; some of its runs may be queued: check the job\'s runs before retrying with a new key'
  throw new ApiError('UNAVAILABLE', message, {
    runMayHaveStarted: true, cause: error
  })
}

/** Runs an item's policy check; its refusal names the item (`runs[3].env.FOO: …`), with the status it had. */
function itemChecked<T> (index: number, check: () => T): T {
  try {
    return check()
  } catch (error) {
    const failure = apiErrorOf(error)
    if (failure === undefined) throw error
    throw new ApiError(failure.status, inItem(index, failure.message))
  }
}
