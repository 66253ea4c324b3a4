import type { Batch, BatchCounts, BatchState } from '../schemas/batch.js'
import type { RunState } from '../schemas/run.js'
import type { RunEvent } from './run-record.js'

/**
 * jobgate's record of a batch (POST /v1/jobs/{job}/batches): written once, after its runs were queued,
 * and once more when the end of its last run is recorded, together with `jobgate.batch.finished`.
 * Its progress in between is counted from its runs' records, which carry its name.
 */
export interface BatchRecord {
  /** The batch's name: `{job}-b` and 9 characters. */
  id: string
  job: string
  /** Who created it (policy/caller-key.ts). */
  principal: string
  /** The tenant of every run, when they all have the same one: who else may see it (policy/run-access.ts). */
  tenant?: string
  /** Its runs' names, in the request's order. */
  runs: string[]
  createdAt: number
  /** Set once, with the finished event: the counts and the time the end of its last run was recorded. */
  ended?: { counts: BatchCounts, at: number }
}

export const BATCH_FINISHED = 'jobgate.batch.finished'

export const batchPath = (job: string, batch: string): string => `/v1/jobs/${job}/batches/${batch}`

/** How a batch stands: RUNNING while a run waits or runs, then FAILED if any failed, CANCELLED if any was cancelled, else SUCCEEDED. */
export function batchState (counts: BatchCounts): BatchState {
  if (counts.queued + counts.running > 0) return 'RUNNING'
  if (counts.failed > 0) return 'FAILED'
  return counts.cancelled > 0 ? 'CANCELLED' : 'SUCCEEDED'
}

/** The count an ended run adds to: succeeded, cancelled, or failed (a queue timeout too). */
export function endedAs (state: RunState | undefined): 'succeeded' | 'failed' | 'cancelled' {
  return state === 'SUCCEEDED' ? 'succeeded' : state === 'CANCELLED' ? 'cancelled' : 'failed'
}

export const noCounts = (): BatchCounts => ({ queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 })

/** The Batch as the API answers it, with `counts` as counted now (or as recorded at its end). */
export function batchOf (record: BatchRecord, counts: BatchCounts): Batch {
  const ended = record.ended
  return {
    name: record.id,
    job: record.job,
    runs: record.runs,
    counts: ended?.counts ?? counts,
    state: batchState(ended?.counts ?? counts),
    createTime: new Date(record.createdAt).toISOString(),
    ...(ended !== undefined && { completionTime: new Date(ended.at).toISOString() }),
    links: { self: batchPath(record.job, record.id) }
  }
}

/** `jobgate.batch.finished`: once per batch (its ce-id is fixed by the batch), with the Batch as data. */
export function batchFinishedEvent (record: BatchRecord, batch: Batch): RunEvent {
  const subject = `jobs/${record.job}/batches/${record.id}`
  return {
    id: `${subject}/finished`,
    type: BATCH_FINISHED,
    subject,
    time: batch.completionTime ?? new Date(record.createdAt).toISOString(),
    job: record.job,
    ...(record.tenant !== undefined && { tenant: record.tenant }),
    batch: record.id,
    data: batch
  }
}
