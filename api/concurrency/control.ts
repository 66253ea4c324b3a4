import type { FastifyBaseLogger } from 'fastify'
import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution } from '../cloudrun/execution.js'
import { apiErrorOf } from '../errors.js'
import type { RunRequest } from '../schemas/run.js'
import { ConcurrencyConflict } from './conflict.js'
import { ConcurrencyGate, type AdmitOptions } from './gate.js'
import type { LeaseStore } from './lease-store.js'
import { readScopeView, type ScopeView } from './scope-view.js'

export interface ConcurrencyControlOptions {
  /** How long a lease of a start still in flight counts (the idempotency stale bound: longer than any start). */
  pendingMs: number
  now?: () => number
}

export interface GuardedStart {
  execution: Execution
  /** Runs cancelled to make room (Replace). */
  replaced: string[]
}

/** Cancel answers that mean the run has ended anyway. */
const alreadyGone = new Set(['FAILED_PRECONDITION', 'NOT_FOUND'])

/**
 * The concurrency step of the run path: reads the scope's running runs from Cloud Run, takes a lease
 * (or cancels the oldest runs first, under Replace), starts the run and ties the lease to it.
 */
export class ConcurrencyControl {
  readonly #cloudRun: CloudRunClient
  readonly #gate: ConcurrencyGate
  readonly #options: ConcurrencyControlOptions
  readonly #now: () => number

  constructor (cloudRun: CloudRunClient, store: LeaseStore, options: ConcurrencyControlOptions) {
    this.#cloudRun = cloudRun
    this.#now = options.now ?? Date.now
    this.#gate = new ConcurrencyGate(store, this.#now)
    this.#options = options
  }

  /**
   * Starts a run the job's rule allows now (a job without one starts at once); throws ConcurrencyConflict otherwise.
   * `known`: the scope as the job's reconciler sees it (followed-view.ts), instead of a read of Cloud Run. `confirmFull`:
   * a start that view finds full reads Cloud Run's list before it is refused or replaces runs (the view may miss an end
   * since its scan); without it the refusal stands (an admission's run goes back to its place).
   */
  async start (
    entry: JobEntry, request: RunRequest, startRun: () => Promise<Execution>, log: FastifyBaseLogger, known?: ScopeView, confirmFull = false
  ): Promise<GuardedStart> {
    const rule = entry.concurrency
    if (rule === undefined) return { execution: await startRun(), replaced: [] }
    const tenant = rule.tenantKey === undefined ? undefined : request.env?.[rule.tenantKey]
    // Catalog aliases of one Cloud Run job share its scopes.
    const scope = JSON.stringify([entry.project, entry.region, entry.job, tenant ?? null])
    const maxTimeoutMs = entry.maxTimeoutSeconds * 1000
    const read = async (seek?: ReadonlySet<string>): Promise<ScopeView> =>
      await readScopeView(this.#cloudRun, entry, tenant, maxTimeoutMs, this.#now(), seek)
    const options: AdmitOptions = {
      pendingMs: this.#options.pendingMs,
      cancel: async runs => { await Promise.all(runs.map(async run => await this.#cancel(entry, run, log))) }
    }
    // On a view to confirm, a start only takes a free slot: refusing it, or cancelling runs (Replace), is Cloud Run's list's call,
    // read back as far as the runs the view counts (those a reconciler follows are recent: usually one page).
    const confirm = known !== undefined && confirmFull
    let admission = await this.#gate.admit(scope, confirm ? { ...rule, policy: 'Forbid' } : rule, known ?? await read(), options)
    if (!admission.admitted && confirm) {
      admission = await this.#gate.admit(scope, rule, await read(new Set(known.running.map(run => run.name))), options)
    }
    if (!admission.admitted) throw new ConcurrencyConflict(entry, rule, tenant, admission.running, admission.starting)
    const { ticket, replaced } = admission
    let execution: Execution
    try {
      execution = await startRun()
    } catch (err) {
      // Proven not started: free the slot now. Unknown outcome: the lease lapses after pendingMs, by when Cloud Run lists the run if it exists.
      const failure = apiErrorOf(err)
      if (failure !== undefined && failure.runMayHaveStarted !== true) await this.#gate.failed(ticket).catch(storeErr => log.error({ err: storeErr }, 'concurrency lease: could not release'))
      throw err
    }
    const name = execution.metadata?.name ?? ''
    await this.#gate.started(ticket, name, ticket.takenAt + maxTimeoutMs).catch(err => {
      log.error({ err }, `concurrency lease: could not record run ${name}; its lease lapses in ${this.#options.pendingMs / 1000} s, after which Cloud Run's list alone counts it`)
    })
    return { execution, replaced }
  }

  async #cancel (entry: JobEntry, run: string, log: FastifyBaseLogger): Promise<void> {
    try {
      await this.#cloudRun.cancelExecution(entry, run)
      log.info({ replaced: run }, `concurrency policy Replace: cancelled run ${run} of job "${entry.id}"`)
    } catch (err) {
      if (!alreadyGone.has(apiErrorOf(err)?.status ?? '')) throw err
    }
  }
}
