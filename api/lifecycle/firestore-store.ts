import { createHash } from 'node:crypto'
import type { CollectionReference, DocumentSnapshot, FieldValue, Firestore, Query, Timestamp, WriteBatch } from '@google-cloud/firestore'
import { openFirestoreClient, statusOf, whileAborted, type FirestoreClientOptions } from '../idempotency/firestore-client.js'
import type { BatchCounts } from '../schemas/batch.js'
import type { Run, RunRequest } from '../schemas/run.js'
import type { BatchRecord } from './batch-record.js'
import type { EventCursor, QueuedPart, RunEvent, RunRecord, StoredEvent } from './run-record.js'
import { roundRobinPosition } from './queue-order.js'
import { byLogOrder, claimedRecord, isAfter, requeuedRecord } from './run-record.js'
import { seqOf, seqParts } from './seq.js'
import type { JobLeaseStore, LeaseClaim, LifecycleStore } from './store.js'

export interface FirestoreLifecycleOptions extends FirestoreClientOptions {
  /**
   * The idempotency keys' collection: records go to `{collection}-runs`, events to `{collection}-events`,
   * batches to `{collection}-batches`, leases beside the keys.
   */
  collection: string
  /** How long the firehose's log keeps a published event (and a finished record is kept). */
  retentionMs: number
  /** How long an event may wait for Pub/Sub before Firestore's TTL may delete it (the outbox's bound, plus a margin). */
  unpublishedRetentionMs: number
  now?: () => number
}

const DAY_MS = 86_400_000
/** An unfinished record outlives any run (Cloud Run's longest is 7 days) before TTL may take it. */
const OPEN_RECORD_TTL_MS = 30 * DAY_MS
/**
 * A batch's runs and the batch itself are kept as long as any unfinished record, even once ended: a batch lives at most
 * 7 days queued and 7 days running, and its counts are counted from its runs' records.
 */
const BATCH_TTL_MS = OPEN_RECORD_TTL_MS
/** Runs queued per commit of a batch: two writes each (record and event), well below a commit's 500 writes. */
const BATCH_CHUNK = 200

interface RecordDocument {
  id: string
  job: string
  tenant?: string
  principal: string
  phase: RunRecord['phase']
  execution?: string
  createdAt: number
  /** Starting or started: what a reconciler follows. */
  open: boolean
  /** Waiting for admission (concurrency policy Queue). */
  queued?: boolean
  /** A queued run's lane, request (JSON text) and deadline (epoch ms). */
  lane?: string
  request?: string
  expiresAt?: number
  claimedAt?: number
  /** The Run as JSON text: Firestore maps cannot hold every JSON value. */
  run?: string
  /** The batch the run belongs to, and once finished its state: what a batch's counts are counted from. */
  batch?: string
  state?: Run['state']
  /** Commit time of the begin: other instances read new records by it. */
  begunAt?: Timestamp | FieldValue
  /** Epoch ms until which its start counts against the starts-per-minute ceiling; 0: it does not (queued, or requeued). */
  startCountsUntil: number
  expireAt: Timestamp
}

interface EventDocument extends Omit<RunEvent, 'data'> {
  data: string
  published: boolean
  /** Commit time: the log's order. */
  recordedAt: Timestamp | FieldValue
  expireAt: Timestamp
}

interface BatchDocument extends BatchRecord {
  expireAt: Timestamp
}

interface LeaseDocument {
  job: string
  holder: string
  /** Epoch ms the lease lapses unless renewed. */
  until: number
  /** Released by its holder with nothing left to do: not an orphan. */
  idle: boolean
}

const seqOfTime = (time: Timestamp): string => seqOf(time.seconds, time.nanoseconds)

/** Event ids hold slashes, which Firestore document ids cannot. */
const eventDocId = (id: string): string => id.replaceAll('/', '|')

function recordOf (stored: RecordDocument): RunRecord {
  const { id, job, principal, phase, createdAt } = stored
  const record: RunRecord = { id, job, principal, phase, createdAt }
  if (stored.tenant !== undefined) record.tenant = stored.tenant
  if (stored.execution !== undefined) record.execution = stored.execution
  if (stored.run !== undefined) record.run = JSON.parse(stored.run) as Run
  if (stored.batch !== undefined) record.batch = stored.batch
  if (stored.startCountsUntil > 0) record.startCountsUntil = stored.startCountsUntil
  if (stored.request !== undefined) {
    const queue: QueuedPart = {
      request: JSON.parse(stored.request) as RunRequest, lane: stored.lane ?? '', expiresAt: stored.expiresAt ?? 0
    }
    if (stored.claimedAt !== undefined) queue.claimedAt = stored.claimedAt
    record.queue = queue
  }
  return record
}

const recordOfDoc = (doc: DocumentSnapshot): RunRecord => recordOf(doc.data() as RecordDocument)

/** Lanes whose sizes a position is computed from; past it, the position counts these lanes only. */
const POSITION_LANES = 100

function eventOf (snapshot: DocumentSnapshot): StoredEvent {
  const stored = snapshot.data() as EventDocument
  const { data, published, recordedAt, expireAt: _expireAt, ...event } = stored
  return { ...event, data: JSON.parse(data) as Run, published, seq: seqOfTime(recordedAt as Timestamp) }
}

/**
 * Run records, events and reconciler leases shared by every instance. A transition is one batch: the
 * event's `create()` fails when another writer recorded it first, and then nothing of the batch is
 * written. Commit times order the log, so a reader that asks for what came after its last event misses
 * nothing another instance committed. The collections' `expireAt` is the field for Firestore's TTL policy.
 * A query that needs a composite index needs it listed in firestore-indexes.json (the deploy creates those; tests check).
 */
export class FirestoreLifecycleStore implements LifecycleStore {
  readonly shared = true
  readonly leases: FirestoreJobLeases
  readonly #db: Firestore
  readonly #records: CollectionReference
  readonly #events: CollectionReference
  readonly #batches: CollectionReference
  readonly #timestamp: typeof Timestamp
  readonly #serverTime: () => FieldValue
  readonly #options: FirestoreLifecycleOptions
  readonly #now: () => number

  constructor (db: Firestore, timestamp: typeof Timestamp, serverTime: () => FieldValue, options: FirestoreLifecycleOptions) {
    this.#db = db
    this.#records = db.collection(`${options.collection}-runs`)
    this.#events = db.collection(`${options.collection}-events`)
    this.#batches = db.collection(`${options.collection}-batches`)
    this.#timestamp = timestamp
    this.#serverTime = serverTime
    this.#options = options
    this.#now = options.now ?? Date.now
    this.leases = new FirestoreJobLeases(db.collection(options.collection), this.#records, this.#events, this.#now)
  }

  #recordDocument (record: RunRecord): RecordDocument {
    const finished = record.phase === 'finished'
    const { retentionMs } = this.#options
    const stored: RecordDocument = {
      id: record.id,
      job: record.job,
      principal: record.principal,
      phase: record.phase,
      createdAt: record.createdAt,
      open: record.phase === 'starting' || record.phase === 'started',
      queued: record.phase === 'queued',
      startCountsUntil: record.startCountsUntil ?? 0,
      // A batch's finished runs are kept as long as unfinished ones (BATCH_TTL_MS): its counts are counted from them.
      expireAt: this.#timestamp.fromMillis(this.#now() + (finished && record.batch === undefined ? retentionMs : BATCH_TTL_MS))
    }
    if (record.tenant !== undefined) stored.tenant = record.tenant
    if (record.batch !== undefined) stored.batch = record.batch
    if (finished && record.run !== undefined) stored.state = record.run.state
    if (record.execution !== undefined) stored.execution = record.execution
    if (record.run !== undefined) stored.run = JSON.stringify(record.run)
    if (record.queue !== undefined) {
      const { lane, request, expiresAt, claimedAt } = record.queue
      Object.assign(stored, { lane, request: JSON.stringify(request), expiresAt, ...(claimedAt !== undefined && { claimedAt }) })
    }
    return stored
  }

  #eventDocument (event: RunEvent): EventDocument {
    const { data, ...fields } = event
    return {
      ...fields,
      data: JSON.stringify(data),
      published: false,
      recordedAt: this.#serverTime(),
      expireAt: this.#timestamp.fromMillis(this.#now() + this.#options.unpublishedRetentionMs)
    }
  }

  #queuedOf (job: string): Query {
    return this.#records.where('job', '==', job).where('queued', '==', true)
  }

  async enqueue (record: RunRecord, event: RunEvent): Promise<StoredEvent> {
    const commit = async (): Promise<Array<{ writeTime: Timestamp }>> => await this.#db.batch()
      .create(this.#records.doc(record.id), this.#recordDocument(record))
      .create(this.#events.doc(eventDocId(event.id)), this.#eventDocument(event))
      .commit()
    const [written] = await whileAborted(commit)
    return { ...structuredClone(event), published: false, seq: seqOfTime(written?.writeTime as Timestamp) }
  }

  async createBatch (batch: BatchRecord, runs: ReadonlyArray<{ record: RunRecord, event: RunEvent }>): Promise<StoredEvent[]> {
    const stored: StoredEvent[] = []
    for (let at = 0; at < runs.length; at += BATCH_CHUNK) {
      const chunk = runs.slice(at, at + BATCH_CHUNK)
      const commit = async (): Promise<Array<{ writeTime: Timestamp }>> => {
        const write = this.#db.batch()
        for (const { record, event } of chunk) {
          write.create(this.#records.doc(record.id), this.#recordDocument(record))
          write.create(this.#events.doc(eventDocId(event.id)), this.#eventDocument(event))
        }
        return await write.commit()
      }
      const [written] = await whileAborted(commit)
      const seq = seqOfTime(written?.writeTime as Timestamp)
      stored.push(...chunk.map(({ event }) => ({ ...structuredClone(event), published: false, seq })))
    }
    const document: BatchDocument = { ...batch, expireAt: this.#timestamp.fromMillis(this.#now() + BATCH_TTL_MS) }
    await whileAborted(async () => await this.#batches.doc(batch.id).create(document))
    return stored
  }

  async batch (id: string): Promise<BatchRecord | undefined> {
    const snapshot = await this.#batches.doc(id).get()
    if (!snapshot.exists) return undefined
    const { expireAt: _expireAt, ...batch } = snapshot.data() as BatchDocument
    return batch
  }

  async batchCounts (batch: BatchRecord): Promise<BatchCounts> {
    const runs = this.#records.where('batch', '==', batch.id)
    const count = async (query: Query): Promise<number> => (await query.count().get()).data().count
    const [queued, running, ended, succeeded, cancelled] = await Promise.all([
      count(runs.where('queued', '==', true)),
      count(runs.where('open', '==', true)),
      count(runs.where('phase', '==', 'finished')),
      count(runs.where('state', '==', 'SUCCEEDED')),
      count(runs.where('state', '==', 'CANCELLED'))
    ])
    return { queued, running, succeeded, failed: ended - succeeded - cancelled, cancelled }
  }

  async endBatch (batch: BatchRecord, event: RunEvent): Promise<StoredEvent | undefined> {
    const ended = { ended: batch.ended, expireAt: this.#timestamp.fromMillis(this.#now() + this.#options.retentionMs) }
    return await this.#withEvent(event, write => write.update(this.#batches.doc(batch.id), ended))
  }

  /** Creates `event` and writes what `also` adds, in one commit; undefined when the event was recorded already (nothing is written). */
  async #withEvent (event: RunEvent, also: (write: WriteBatch) => WriteBatch): Promise<StoredEvent | undefined> {
    const stored = this.#eventDocument(event)
    // A batch commits once: each try builds its own.
    const commit = async (): Promise<Array<{ writeTime: Timestamp }>> =>
      await also(this.#db.batch().create(this.#events.doc(eventDocId(event.id)), stored)).commit()
    try {
      const [written] = await whileAborted(commit)
      return { ...structuredClone(event), published: false, seq: seqOfTime(written?.writeTime as Timestamp) }
    } catch (err) {
      if (statusOf(err) === 'ALREADY_EXISTS') return undefined
      throw err
    }
  }

  async nextQueued (job: string, afterLane: string | undefined): Promise<RunRecord | undefined> {
    const lanes = afterLane === undefined ? this.#queuedOf(job) : this.#queuedOf(job).where('lane', '>', afterLane)
    const query = await lanes.orderBy('lane').orderBy('createdAt').limit(1).get()
    const [first] = query.docs
    return first === undefined ? undefined : recordOfDoc(first)
  }

  async queued (job: string, limit: number, lane?: string): Promise<RunRecord[]> {
    const queued = lane === undefined ? this.#queuedOf(job) : this.#queuedOf(job).where('lane', '==', lane)
    return (await queued.orderBy('createdAt').limit(limit).get()).docs.map(recordOfDoc)
  }

  async expiredQueued (job: string, now: number, limit: number): Promise<RunRecord[]> {
    return (await this.#queuedOf(job).where('expiresAt', '<=', now).orderBy('expiresAt').limit(limit).get()).docs.map(recordOfDoc)
  }

  async positions (records: readonly RunRecord[]): Promise<number[]> {
    const job = records[0]?.job
    if (job === undefined) return []
    const count = async (query: Query): Promise<number> => (await query.count().get()).data().count
    const laneOf = (record: RunRecord): string => record.queue?.lane ?? ''
    const places = await Promise.all(records.map(async record =>
      1 + await count(this.#queuedOf(job).where('lane', '==', laneOf(record)).where('createdAt', '<', record.createdAt))))
    // Each lane counts up to the furthest place asked about: one count per lane, found by stepping from lane to lane.
    const furthest = Math.max(...places)
    const sizes: Array<[string, number]> = []
    for (let next = await this.nextQueued(job, undefined); next !== undefined && sizes.length < POSITION_LANES;) {
      const lane = laneOf(next)
      sizes.push([lane, await count(this.#queuedOf(job).where('lane', '==', lane).limit(furthest))])
      next = await this.nextQueued(job, lane)
    }
    return records.map((record, at) => roundRobinPosition(places[at] as number, laneOf(record), sizes))
  }

  /**
   * Writes `next(record)` (and whatever `also` adds to the batch) only while the record is in `phase` as read:
   * a precondition on the version read, not a transaction, so racing claims never wait on a document lock.
   * The record as written; undefined when it was in another phase or changed meanwhile.
   */
  async #fromPhase (
    id: string, phase: RunRecord['phase'], next: (record: RunRecord) => RunRecord, also?: (batch: WriteBatch) => void
  ): Promise<RunRecord | undefined> {
    const doc = this.#records.doc(id)
    const snapshot = await doc.get()
    if ((snapshot.data() as RecordDocument | undefined)?.phase !== phase) return undefined
    const record = next(recordOfDoc(snapshot))
    const fields = { ...this.#recordDocument(record), ...(record.phase === 'starting' && { begunAt: this.#serverTime() }) }
    const batch = this.#db.batch().update(doc, fields, { lastUpdateTime: snapshot.updateTime as Timestamp })
    also?.(batch)
    try {
      await batch.commit()
      return record
    } catch (err) {
      if (statusOf(err) === 'FAILED_PRECONDITION') return undefined
      throw err
    }
  }

  /** `query` narrowed to `jobs`: Firestore's `in` takes 30 values; more jobs count them all (one project and region, usually). */
  #ofJobs (jobs: readonly string[], query: Query): Query {
    return jobs.length <= 30 ? query.where('job', 'in', [...jobs]) : query
  }

  async countOpen (jobs: readonly string[]): Promise<number> {
    return (await this.#ofJobs(jobs, this.#records.where('open', '==', true)).count().get()).data().count
  }

  async countRecentStarts (jobs: readonly string[], now: number): Promise<number> {
    return (await this.#ofJobs(jobs, this.#records.where('startCountsUntil', '>', now)).count().get()).data().count
  }

  async claim (id: string): Promise<RunRecord | undefined> {
    return await this.#fromPhase(id, 'queued', record => claimedRecord(record, this.#now()))
  }

  async requeue (id: string): Promise<void> {
    await this.#fromPhase(id, 'starting', record => record.queue === undefined ? record : requeuedRecord(record))
  }

  async settle (record: RunRecord, event: RunEvent): Promise<StoredEvent | undefined> {
    const eventDoc = this.#events.doc(eventDocId(event.id))
    const settled = await this.#fromPhase(record.id, 'queued', () => record, batch => {
      batch.create(eventDoc, this.#eventDocument(event))
    })
    // The event's commit time, read back, is its place in the log.
    return settled === undefined ? undefined : eventOf(await eventDoc.get())
  }

  async begin (record: RunRecord): Promise<void> {
    const stored = { ...this.#recordDocument(record), begunAt: this.#serverTime() }
    await whileAborted(async () => await this.#records.doc(record.id).create(stored))
  }

  async adopt (record: RunRecord): Promise<boolean> {
    try {
      await this.begin(record)
      return true
    } catch (err) {
      if (statusOf(err) === 'ALREADY_EXISTS') return false
      throw err
    }
  }

  async forget (id: string): Promise<void> {
    await this.#records.doc(id).delete()
  }

  async transition (record: RunRecord, event: RunEvent): Promise<StoredEvent | undefined> {
    return await this.#withEvent(event, write => write.set(this.#records.doc(record.id), this.#recordDocument(record), { merge: true }))
  }

  async record (id: string): Promise<RunRecord | undefined> {
    const snapshot = await this.#records.doc(id).get()
    return snapshot.exists ? recordOf(snapshot.data() as RecordDocument) : undefined
  }

  async openRecords (job: string): Promise<RunRecord[]> {
    const query = await this.#records.where('job', '==', job).where('open', '==', true).get()
    return query.docs.map(doc => recordOf(doc.data() as RecordDocument))
  }

  async recordsSince (cursor: string | undefined): Promise<{ records: RunRecord[], cursor: string | undefined }> {
    const from = cursor === undefined ? this.#timestamp.fromMillis(this.#now() - 60_000) : this.#timeOf(cursor)
    const query = await this.#records.where('begunAt', '>', from).orderBy('begunAt').limit(500).get()
    const last = query.docs.at(-1)
    return {
      records: query.docs.map(doc => recordOf(doc.data() as RecordDocument)),
      cursor: last === undefined ? cursor ?? seqOfTime(from) : seqOfTime((last.data() as RecordDocument).begunAt as Timestamp)
    }
  }

  horizon (retentionMs: number): string {
    return seqOfTime(this.#timestamp.fromMillis(this.#now() - retentionMs))
  }

  async events (after: EventCursor | undefined, limit: number, notBefore: number): Promise<StoredEvent[]> {
    const floor = this.#timestamp.fromMillis(notBefore)
    const from = after === undefined || this.#timeOf(after.seq) < floor ? floor : this.#timeOf(after.seq)
    // Events that share the cursor's commit time come back too: the order's tie-break by id skips those already seen.
    const query = await this.#events.where('recordedAt', '>=', from).orderBy('recordedAt').limit(limit + 10).get()
    return query.docs.map(eventOf).filter(event => isAfter(event, after)).sort(byLogOrder).slice(0, limit)
  }

  async unpublished (job: string, limit: number): Promise<StoredEvent[]> {
    const query = await this.#events.where('job', '==', job).where('published', '==', false).orderBy('recordedAt').limit(limit).get()
    return query.docs.map(eventOf)
  }

  async markPublished (ids: readonly string[]): Promise<void> {
    const expireAt = this.#timestamp.fromMillis(this.#now() + this.#options.retentionMs)
    await whileAborted(async () => {
      const batch = this.#db.batch()
      for (const id of ids) batch.update(this.#events.doc(eventDocId(id)), { published: true, expireAt })
      await batch.commit()
    })
  }

  #timeOf (seq: string): Timestamp {
    const { seconds, nanos } = seqParts(seq)
    return new this.#timestamp(seconds, nanos)
  }

  async close (): Promise<void> {
    await this.#db.terminate()
  }
}

/** One document per job beside the idempotency keys: who reconciles it, until when. */
class FirestoreJobLeases implements JobLeaseStore {
  readonly #leases: CollectionReference
  readonly #records: CollectionReference
  readonly #events: CollectionReference
  readonly #now: () => number

  constructor (leases: CollectionReference, records: CollectionReference, events: CollectionReference, now: () => number) {
    this.#leases = leases
    this.#records = records
    this.#events = events
    this.#now = now
  }

  #doc (job: string): FirebaseFirestoreDocument {
    return this.#leases.doc(`reconciler-${createHash('sha256').update(job).digest('hex').slice(0, 32)}`)
  }

  async acquire (job: string, claim: LeaseClaim): Promise<boolean> {
    const doc = this.#doc(job)
    const takeable = (lease: LeaseDocument | undefined): boolean =>
      lease === undefined || lease.idle || lease.until <= this.#now() || lease.holder === claim.holder
    // Most starts find the job followed by a live holder: one read, no transaction on the job's document.
    if (!takeable((await doc.get()).data() as LeaseDocument | undefined)) return false
    return await whileAborted(async () => await this.#leases.firestore.runTransaction(async transaction => {
      if (!takeable((await transaction.get(doc)).data() as LeaseDocument | undefined)) return false
      transaction.set(doc, { job, holder: claim.holder, until: this.#now() + claim.ttlMs, idle: false } satisfies LeaseDocument)
      return true
    }))
  }

  async handOver (job: string, holder: string): Promise<void> {
    const doc = this.#doc(job)
    await this.#leases.firestore.runTransaction(async transaction => {
      const lease = (await transaction.get(doc)).data() as LeaseDocument | undefined
      if (lease?.holder === holder && !lease.idle) transaction.update(doc, { until: 0 })
    })
  }

  async releaseIfIdle (job: string, holder: string): Promise<boolean> {
    const doc = this.#doc(job)
    return await whileAborted(async () => await this.#leases.firestore.runTransaction(async transaction => {
      const snapshot = await transaction.get(doc)
      const lease = snapshot.data() as LeaseDocument | undefined
      if (lease?.holder !== holder || lease.idle) return true
      // Inside the transaction: a start that records a run meanwhile either is seen here or finds the lease released.
      const open = await transaction.get(this.#records.where('job', '==', job).where('open', '==', true).limit(1))
      const waiting = await transaction.get(this.#events.where('job', '==', job).where('published', '==', false).limit(1))
      const queued = await transaction.get(this.#records.where('job', '==', job).where('queued', '==', true).limit(1))
      if (!open.empty || !waiting.empty || !queued.empty) return false
      transaction.set(doc, { ...lease, until: 0, idle: true } satisfies LeaseDocument)
      return true
    }))
  }

  async orphaned (jobs: readonly string[], now: number): Promise<string[]> {
    if (jobs.length === 0) return []
    const snapshots = await this.#leases.firestore.getAll(...jobs.map(job => this.#doc(job)))
    return snapshots.flatMap((snapshot, index) => {
      const lease = snapshot.data() as LeaseDocument | undefined
      return lease !== undefined && !lease.idle && lease.until <= now ? [jobs[index] as string] : []
    })
  }
}

type FirebaseFirestoreDocument = ReturnType<CollectionReference['doc']>

export async function openFirestoreLifecycleStore (options: FirestoreLifecycleOptions): Promise<FirestoreLifecycleStore> {
  const { db, timestamp } = await openFirestoreClient(options)
  const { FieldValue } = await import('@google-cloud/firestore')
  return new FirestoreLifecycleStore(db, timestamp, () => FieldValue.serverTimestamp(), options)
}
