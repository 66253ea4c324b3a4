import { runPath } from '../cloudrun/mapping.js'
import type { Batch } from '../schemas/batch.js'
import type { Run, RunRequest } from '../schemas/run.js'

/**
 * jobgate's record of a run it started, kept from just before the start until the run ended and its
 * events went out: what lets jobgate follow a run when nobody is asking about it.
 */
export type RunPhase = 'queued' | 'starting' | 'started' | 'finished'

/** What a run held back by a Queue policy keeps until it is admitted. */
export interface QueuedPart {
  /** The request as the job's policy allowed it: what the admission starts. */
  request: RunRequest
  /** Whose turn it is in the job's round-robin: the tenant, or the principal on a tenant-free job. */
  lane: string
  /** Epoch ms after which the run ends unstarted (queueTimeoutSeconds). */
  expiresAt: number
  /** Epoch ms of the claim that admitted it: when its start began. */
  claimedAt?: number
}

/** When the run's start began: its creation, or for a queued run its admission. */
export const startBegan = (record: RunRecord): number => record.queue?.claimedAt ?? record.createdAt

/** Cloud Run counts job-run requests per minute: a start counts against JOBGATE_RUN_STARTS_PER_MINUTE this long after its answer. */
export const START_WINDOW_MS = 60_000

/**
 * Until when a start counts against the starts-per-minute ceiling: a minute after Cloud Run answered it (or a scan found
 * its execution), so a minute of execution creations never holds more starts than the ceiling, however late answers come.
 * Unanswered, it counts for two minutes from its begin: a start is answered or given up within about a minute (the
 * client's timeouts), so the answer's minute is covered.
 */
export const startCountsUntil = (now: number, answered: boolean): number => now + (answered ? 1 : 2) * START_WINDOW_MS

/** A queued run claimed for admission at `now`: its start begins. */
export const claimedRecord = (queued: RunRecord, now: number): RunRecord =>
  ({ ...queued, phase: 'starting', queue: { ...queued.queue as QueuedPart, claimedAt: now }, startCountsUntil: startCountsUntil(now, false) })

/** A claimed run whose start provably started nothing, back in the queue: it no longer counts as a start. */
export function requeuedRecord (record: RunRecord): RunRecord {
  const { startCountsUntil: _, ...rest } = record
  return { ...rest, phase: 'queued' }
}

export interface RunRecord {
  /** jobgate's own id of the run; the execution carries it as RUN_MARKER, so a start whose answer was lost is found again. */
  id: string
  /** Catalog id of the job. */
  job: string
  /** The tenant the run belongs to (the value of the job's env.tenantKey), when the job is tenant-scoped. */
  tenant?: string
  /** Who started it (policy/caller-key.ts). */
  principal: string
  phase: RunPhase
  /** The execution's name, once Cloud Run answered the start or a listing showed it. */
  execution?: string
  /** Epoch ms when jobgate began the start. */
  createdAt: number
  /** The run as its last transition recorded it. */
  run?: Run
  /** Set on a run that was queued (its id is its name for its whole life). */
  queue?: QueuedPart
  /** The batch the run belongs to (POST …/batches): its end may be the batch's. */
  batch?: string
  /** Epoch ms until which its start counts against JOBGATE_RUN_STARTS_PER_MINUTE (startCountsUntil); unset while queued. */
  startCountsUntil?: number
}

export { RUN_MARKER } from '../cloudrun/mapping.js'

export type Transition = 'queued' | 'started' | 'finished'

/** The CloudEvents types jobgate publishes, per transition. */
export const EVENT_TYPES: Readonly<Record<Transition, string>> = {
  queued: 'jobgate.run.queued',
  started: 'jobgate.run.started',
  finished: 'jobgate.run.finished'
}

/** A transition as recorded (the outbox entry): everything a CloudEvent needs but the source, which is the instance's setting. */
export interface RunEvent {
  /** ce-id: the same for one run and transition whoever records or publishes it, so consumers can deduplicate. */
  id: string
  type: string
  /** ce-subject: `jobs/{job}/runs/{run}`. */
  subject: string
  /** ce-time, RFC 3339. */
  time: string
  job: string
  tenant?: string
  /** The batch (of the run): after a run's `finished`, the batch's end is checked (batches.ts). */
  batch?: string
  /** The Run as `GET …/runs/{run}` answers it at this transition; the Batch of `jobgate.batch.finished`. */
  data: Run | Batch
}

/** An event in the log: its place in the log's order, and whether Pub/Sub has it. */
export interface StoredEvent extends RunEvent {
  /** Commit order across instances, as fixed-width digits (compares as text): the firehose's resume position. */
  seq: string
  published: boolean
}

/** Where a reader of the event log stands: after this event. Events that share a seq are ordered by id. */
export interface EventCursor { seq: string, id: string }

export const subjectOf = (job: string, run: string): string => `jobs/${job}/runs/${run}`

export function runEvent (record: RunRecord, transition: Transition, run: Run, time: string): RunEvent {
  const subject = subjectOf(record.job, run.name)
  return {
    id: `${subject}/${transition}`,
    type: EVENT_TYPES[transition],
    subject,
    time,
    job: record.job,
    ...(record.tenant !== undefined && { tenant: record.tenant }),
    ...(record.batch !== undefined && { batch: record.batch }),
    data: run
  }
}

/** True when `event` comes after `cursor` in the log's order. */
export const isAfter = (event: Pick<StoredEvent, 'seq' | 'id'>, cursor: EventCursor | undefined): boolean =>
  cursor === undefined || event.seq > cursor.seq || (event.seq === cursor.seq && event.id > cursor.id)

/** The log's order: by seq, then id. */
export const byLogOrder = (a: StoredEvent, b: StoredEvent): number =>
  a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0

/** A run that has not started: QUEUED, or how it ended unstarted. */
export function unstartedRun (record: RunRecord, end?: Pick<Run, 'state' | 'message' | 'reason'>, at?: number): Run {
  const self = runPath(record.job, record.id)
  const run: Run = {
    name: record.id,
    job: record.job,
    state: 'QUEUED',
    createTime: new Date(record.createdAt).toISOString(),
    taskCount: record.queue?.request.taskCount ?? 1,
    runningCount: 0,
    succeededCount: 0,
    failedCount: 0,
    cancelledCount: 0,
    retriedCount: 0,
    links: { self, logs: `${self}/logs` }
  }
  return end === undefined ? run : { ...run, ...end, completionTime: new Date(at ?? Date.now()).toISOString() }
}
