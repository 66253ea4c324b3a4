import type { JobEntry } from '../catalog.js'
import { runNotFoundMessage } from '../cloudrun/errors.js'
import { isQueuedRunId } from '../cloudrun/mapping.js'
import { ApiError, notFound } from '../errors.js'
import type { RunLifecycle, RunRecord } from '../lifecycle/index.js'
import { unstartedRun } from '../lifecycle/run-record.js'
import { maySeeTenant } from '../policy/run-access.js'
import type { Caller } from '../policy/run-policy.js'
import type { Run } from '../schemas/run.js'
import type { QueueView, QueueWatch } from './queue-watch.js'

/** A run name as the run routes resolve it: an execution to read from Cloud Run, or a queued run that has none (yet). */
export type ResolvedRun = { execution: string } | { unstarted: RunRecord }

export interface ResolveOptions {
  /** `?wait`: hold up to this long for a queued run to start (then the rest of the wait follows its execution). */
  waitMs?: number
  signal?: AbortSignal
}

/** The Run of a run as its queue shows it: QUEUED with its place, PENDING while its admission starts it, or how it ended. */
export function runOfView ({ record, position }: QueueView): Run {
  if (record.phase === 'queued') return { ...unstartedRun(record), ...(position !== undefined && { position }) }
  return record.run ?? { ...unstartedRun(record), state: 'PENDING' }
}

/**
 * The run routes' view of queued runs (concurrency policy Queue): a queued run's name is its id for its
 * whole life, so GET, `?wait`, cancel, logs, tasks and the event stream resolve it here first; once
 * admitted it resolves to its execution, read like any other run.
 */
export class QueuedRuns {
  readonly #lifecycle: RunLifecycle
  /** Queued runs whose event streams are open, and their places as the queue moves. */
  readonly watch: QueueWatch

  constructor (lifecycle: RunLifecycle, watch: QueueWatch) {
    this.#lifecycle = lifecycle
    this.watch = watch
  }

  /** `name` as the caller may see it; another tenant's queued run is the 404 of a missing one. */
  async resolve (entry: JobEntry, caller: Caller, name: string, options: ResolveOptions = {}): Promise<ResolvedRun> {
    if (!isQueuedRunId(name)) return { execution: name }
    let record = await this.#lifecycle.queuedRecord(entry, name)
    if (record === undefined || !maySeeTenant(entry, caller, record.tenant)) throw notFound(runNotFoundMessage(entry, name))
    if (record.execution === undefined && record.phase !== 'finished' && (options.waitMs ?? 0) > 0) {
      record = await this.#lifecycle.awaitAdmission(entry, name, options.waitMs ?? 0, options.signal) ?? record
    }
    return record.execution === undefined ? { unstarted: record } : { execution: record.execution }
  }

  /** The Run of a run without an execution: QUEUED with its place, PENDING while its admission starts it, or how it ended. */
  async runOf (record: RunRecord): Promise<Run> {
    const [position] = record.phase === 'queued' ? await this.#lifecycle.positions([record]) : []
    return runOfView({ record, ...(position !== undefined && { position }) })
  }

  /** The caller's queued runs of `entry`, newest first, up to `limit` (their places: GET each run). */
  async list (entry: JobEntry, caller: Caller, limit: number): Promise<Run[]> {
    if (entry.concurrency?.policy !== 'Queue') return []
    // A tenant-bound caller's runs are its tenant's lane.
    const lane = entry.env.tenantKey === undefined || caller.tenantFree === true ? undefined : caller.tenant ?? ''
    const records = await this.#lifecycle.queuedRuns(entry, limit, lane)
    return records.filter(record => maySeeTenant(entry, caller, record.tenant)).map(record => unstartedRun(record)).reverse()
  }

  /** Cancels a run that has no execution: CANCELLED if still queued; a run admitted meanwhile resolves to its execution. */
  async cancel (entry: JobEntry, caller: Caller, record: RunRecord): Promise<{ run: Run } | ResolvedRun> {
    if (record.phase === 'finished') {
      throw new ApiError('FAILED_PRECONDITION',
        `run "${record.id}" of job "${entry.id}" already ended; only a queued, pending or running run can be cancelled.`)
    }
    const cancelled = record.phase === 'queued' ? await this.#lifecycle.cancelQueued(record, caller.name) : undefined
    if (cancelled !== undefined) return { run: cancelled }
    // Admitted meanwhile: wait for its execution (a start takes seconds), then cancel that.
    return await this.resolve(entry, caller, record.id, { waitMs: 30_000 })
  }
}
