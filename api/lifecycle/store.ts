import type { BatchCounts } from '../schemas/batch.js'
import type { BatchRecord } from './batch-record.js'
import type { EventCursor, RunEvent, RunRecord, StoredEvent } from './run-record.js'

/**
 * Where run records, their events (the outbox and the firehose's log) and the reconcilers' job leases
 * live: memory for one instance, Firestore when instances share state (the JOBGATE_IDEMPOTENCY setting).
 *
 * The one rule that makes events exactly once: a transition and its event are written together, and
 * the event's id is fixed by the run and the transition, so a second writer (a reconciler that just
 * lost its lease, the instance that started the run) finds it written and records nothing.
 */
export interface LifecycleStore {
  /**
   * Records a run about to be started. The caller then makes sure its job has a reconciler (leases.acquire
   * unless it holds the job already): a holder that releases the job meanwhile has seen this record, or
   * released before it was written, so the acquire that follows finds the job free.
   */
  begin: (record: RunRecord) => Promise<void>
  /** Records a run started outside jobgate, unless a record with its id exists already; true when this call created it. */
  adopt: (record: RunRecord) => Promise<boolean>
  /** The start provably started nothing: the record goes. */
  forget: (id: string) => Promise<void>
  /**
   * Writes `record` (its new phase and run) and appends `event`, atomically; undefined when that event
   * was recorded already (by anyone), in which case nothing is written.
   */
  transition: (record: RunRecord, event: RunEvent) => Promise<StoredEvent | undefined>
  /** One record by id. */
  record: (id: string) => Promise<RunRecord | undefined>
  /** Every unfinished record of a job: what a reconciler that takes a job over starts from. */
  openRecords: (job: string) => Promise<RunRecord[]>
  /** Records begun after `cursor` (any job, begin order) and the cursor to ask from next: other instances' starts. */
  recordsSince: (cursor: string | undefined) => Promise<{ records: RunRecord[], cursor: string | undefined }>
  /** The log holds every event after this position (not older than `retentionMs`), and maybe some before. */
  horizon: (retentionMs: number) => string
  /** Up to `limit` events after `after`, in log order, none older than `notBefore` (epoch ms). */
  events: (after: EventCursor | undefined, limit: number, notBefore: number) => Promise<StoredEvent[]>
  /** Up to `limit` events of `job` that Pub/Sub does not have yet, oldest first. */
  unpublished: (job: string, limit: number) => Promise<StoredEvent[]>
  markPublished: (ids: readonly string[]) => Promise<void>
  /** Records a queued run (phase queued) and its `jobgate.run.queued` event together. */
  enqueue: (record: RunRecord, event: RunEvent) => Promise<StoredEvent>
  /**
   * The oldest queued run of the first lane after `afterLane` (lanes in text order; undefined: from the first):
   * one step of the round-robin across lanes. Undefined when no lane after it has a queued run.
   */
  nextQueued: (job: string, afterLane: string | undefined) => Promise<RunRecord | undefined>
  /** Queued runs of `job` (of one lane, when given), oldest first, up to `limit`: what a runs list shows first. */
  queued: (job: string, limit: number, lane?: string) => Promise<RunRecord[]>
  /** Queued runs of `job` whose time ran out at `now`, up to `limit`. */
  expiredQueued: (job: string, now: number, limit: number) => Promise<RunRecord[]>
  /**
   * For each of these queued runs of one job: how many runs the round-robin admits before it, plus one (each lane's
   * share up to its place in its lane). One call for many runs reads the lanes once.
   */
  positions: (records: readonly RunRecord[]) => Promise<number[]>
  /** Takes a queued run for its start, exactly once across instances (phase starting); undefined when it is no longer queued. */
  claim: (id: string) => Promise<RunRecord | undefined>
  /** A claimed run whose start provably started nothing (no slot after all): queued again, in its old place. */
  requeue: (id: string) => Promise<void>
  /** Ends a run that is still queued (cancelled, timed out) with its event, atomically; undefined when it was no longer queued. */
  settle: (record: RunRecord, event: RunEvent) => Promise<StoredEvent | undefined>
  /**
   * Queues a batch's runs (each with its `jobgate.run.queued` event), then records the batch: a batch that
   * can be read has all its runs. The events as stored, in the runs' order.
   */
  createBatch: (batch: BatchRecord, runs: ReadonlyArray<{ record: RunRecord, event: RunEvent }>) => Promise<StoredEvent[]>
  /** One batch by id. */
  batch: (id: string) => Promise<BatchRecord | undefined>
  /** How many of the batch's runs wait, run, and ended how, counted from their records. */
  batchCounts: (batch: BatchRecord) => Promise<BatchCounts>
  /** Records the batch's end (`batch.ended`) and its event together; undefined when that event was recorded already (by anyone). */
  endBatch: (batch: BatchRecord, event: RunEvent) => Promise<StoredEvent | undefined>
  /** Runs of `jobs` starting or started and not ended (jobgate's own): what the running-executions ceiling counts. */
  countOpen: (jobs: readonly string[]) => Promise<number>
  /** Runs of `jobs` whose start still counts at `now` (epoch ms; RunRecord.startCountsUntil): what the starts-per-minute ceiling counts. */
  countRecentStarts: (jobs: readonly string[], now: number) => Promise<number>
  /** The reconcilers' leases: one holder per job. */
  leases: JobLeaseStore
  /** True when every instance sees the same store (Firestore): other instances' records and events must be read from it. */
  readonly shared: boolean
  close?: () => Promise<void>
}

/** Who would reconcile a job, and for how long a lease lasts unless renewed. */
export interface LeaseClaim { holder: string, ttlMs: number }

export interface JobLeaseStore {
  /** Takes (or renews) the job's lease when it is free, lapsed or ours already; true when `holder` holds it now. Another's live lease costs one read. */
  acquire: (job: string, lease: LeaseClaim) => Promise<boolean>
  /** Lets the lease lapse at once (the instance is stopping with work left): another instance takes the job over. */
  handOver: (job: string, holder: string) => Promise<void>
  /** Gives the lease up, but only when the job has no unfinished record and no unpublished event; false: work is left, keep it. */
  releaseIfIdle: (job: string, holder: string) => Promise<boolean>
  /** Jobs of `jobs` whose lease lapsed while they still had work (their holder stopped without releasing). */
  orphaned: (jobs: readonly string[], now: number) => Promise<string[]>
}
