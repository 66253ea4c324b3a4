/** LifecycleStore scenarios every store must pass; run by the memory and the Firestore test files. */
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import { runEvent, type RunRecord, type StoredEvent } from '../../api/lifecycle/run-record.js'
import type { LifecycleStore } from '../../api/lifecycle/store.js'
import type { Run } from '../../api/schemas/run.js'

const DAY_MS = 86_400_000

export function recordOf (job: string, fields: Partial<RunRecord> = {}): RunRecord {
  return { id: `${job}-${randomUUID().slice(0, 10)}`, job, principal: '["ci",null]', phase: 'starting', createdAt: Date.now(), ...fields }
}

export function runOf (job: string, name: string, state: Run['state'] = 'PENDING'): Run {
  return {
    name,
    job,
    state,
    taskCount: 1,
    runningCount: 0,
    succeededCount: state === 'SUCCEEDED' ? 1 : 0,
    failedCount: 0,
    cancelledCount: 0,
    retriedCount: 0,
    createTime: new Date().toISOString(),
    links: { self: `/v1/jobs/${job}/runs/${name}`, logs: `/v1/jobs/${job}/runs/${name}/logs` }
  }
}

/** Records the start of `record` as run `name`; returns the stored event. */
export async function recordStart (store: LifecycleStore, record: RunRecord, name: string): Promise<StoredEvent | undefined> {
  const run = runOf(record.job, name)
  return await store.transition({ ...record, phase: 'started', execution: name, run }, runEvent(record, 'started', run, run.createTime as string))
}

export async function recordEnd (store: LifecycleStore, record: RunRecord, name: string): Promise<StoredEvent | undefined> {
  const run = runOf(record.job, name, 'SUCCEEDED')
  return await store.transition({ ...record, phase: 'finished', execution: name, run }, runEvent(record, 'finished', run, new Date().toISOString()))
}

const claim = (holder: string): { holder: string, ttlMs: number } => ({ holder, ttlMs: 60_000 })

/** Runs the suite with two stores standing for two API instances (the same one for the memory store). */
export function lifecycleStoreSuite (t: Test, stores: () => [LifecycleStore, LifecycleStore]): void {
  t.test('a transition is recorded once, whichever store records it; the record follows', async t => {
    const [a, b] = stores()
    const job = `once-${randomUUID().slice(0, 8)}`
    const record = recordOf(job)
    await a.begin(record)
    t.match(await b.openRecords(job), [{ id: record.id, phase: 'starting' }])
    const results = await Promise.all([recordStart(a, record, `${job}-x1`), recordStart(b, record, `${job}-x1`), recordStart(a, record, `${job}-x1`)])
    t.equal(results.filter(result => result !== undefined).length, 1, 'exactly one writer recorded it')
    t.match(await b.record(record.id), { phase: 'started', execution: `${job}-x1`, run: { name: `${job}-x1` } })
    t.ok(await recordEnd(b, record, `${job}-x1`))
    t.equal(await recordEnd(a, record, `${job}-x1`), undefined, 'the end too, once')
    t.same(await a.openRecords(job), [], 'a finished run is not open')
    t.match(await a.record(record.id), { phase: 'finished', run: { state: 'SUCCEEDED' } }, 'but still found by id')
  })

  t.test('events come back in log order after a cursor, with their ids and data', async t => {
    const [a, b] = stores()
    const job = `log-${randomUUID().slice(0, 8)}`
    const from = a.horizon(DAY_MS)
    const records = [recordOf(job), recordOf(job), recordOf(job)]
    const stored: StoredEvent[] = []
    for (const [i, record] of records.entries()) {
      await a.begin(record)
      stored.push(await recordStart(i % 2 === 0 ? a : b, record, `${job}-r${i}`) as StoredEvent)
    }
    const ours = (events: StoredEvent[]): StoredEvent[] => events.filter(event => event.job === job)
    const all = ours(await b.events({ seq: from, id: '' }, 100, Date.now() - DAY_MS))
    t.same(all.map(event => event.id), stored.map(event => event.id), 'in the order they were recorded')
    t.ok(all.every((event, i) => i === 0 || event.seq >= (all[i - 1] as StoredEvent).seq), 'positions never go back')
    t.match(all[0], { type: 'jobgate.run.started', subject: `jobs/${job}/runs/${job}-r0`, data: { name: `${job}-r0` }, published: false })
    const after = ours(await a.events({ seq: stored[0]?.seq as string, id: stored[0]?.id as string }, 100, 0))
    t.same(after.map(event => event.id), stored.slice(1).map(event => event.id), 'after a cursor: only what came later')
    t.same(ours(await a.events({ seq: from, id: '' }, 100, Date.now() + 60_000)), [], 'nothing older than notBefore')
  })

  t.test('unpublished events per job, oldest first, until marked', async t => {
    const [a, b] = stores()
    const job = `outbox-${randomUUID().slice(0, 8)}`
    const first = recordOf(job)
    const second = recordOf(job)
    await a.begin(first)
    await a.begin(second)
    const e1 = await recordStart(a, first, `${job}-a`) as StoredEvent
    const e2 = await recordStart(b, second, `${job}-b`) as StoredEvent
    t.same((await b.unpublished(job, 10)).map(event => event.id), [e1.id, e2.id])
    t.same((await b.unpublished(job, 1)).map(event => event.id), [e1.id], 'at most the limit, oldest first')
    await a.markPublished([e1.id])
    t.same((await b.unpublished(job, 10)).map(event => event.id), [e2.id])
    t.same(await b.unpublished(`${job}-other`, 10), [], 'per job')
  })

  t.test('the job lease: one holder; released only with nothing left to do; a lapsed or handed-over lease is taken over', async t => {
    const [a, b] = stores()
    const job = `lease-${randomUUID().slice(0, 8)}`
    const record = recordOf(job)
    await a.begin(record)
    t.equal(await a.leases.acquire(job, claim('one')), true, 'the start takes the free lease')
    t.equal(await b.leases.acquire(job, claim('two')), false, 'another holder cannot take a held lease')
    t.equal(await a.leases.acquire(job, claim('one')), true, 'the holder renews it')
    t.equal(await a.leases.releaseIfIdle(job, 'one'), false, 'not released while runs are unfinished')
    for (const open of await a.openRecords(job)) {
      await recordStart(a, open, `${open.id}-x`)
      await recordEnd(a, open, `${open.id}-x`)
    }
    t.equal(await a.leases.releaseIfIdle(job, 'one'), false, 'not released while events wait for Pub/Sub')
    await a.markPublished((await a.unpublished(job, 100)).map(event => event.id))
    t.equal(await a.leases.releaseIfIdle(job, 'one'), true, 'released with nothing left')
    t.same(await b.leases.orphaned([job], Date.now()), [], 'a released job is not an orphan')
    t.equal(await b.leases.acquire(job, claim('two')), true, 'free again: anyone takes it')
    await b.leases.handOver(job, 'two')
    t.equal(await a.leases.acquire(job, claim('one')), true, 'a handed-over lease is taken at once')
  })
}
