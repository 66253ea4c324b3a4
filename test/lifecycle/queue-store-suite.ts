/** The queue's part of a LifecycleStore (concurrency policy Queue): run by the memory and the Firestore test files. */
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import { advanced } from '../../api/lifecycle/recorder.js'
import { runEvent, unstartedRun, type RunRecord } from '../../api/lifecycle/run-record.js'
import type { LifecycleStore } from '../../api/lifecycle/store.js'
import { QUEUE_TIMEOUT } from '../../api/schemas/run.js'
import { runOf } from './store-suite.js'

let clock = Date.now()

/** A queued run of `job` in `lane`, each one queued a millisecond after the last. */
export function queuedOf (job: string, lane: string, fields: Partial<RunRecord> = {}): RunRecord {
  const id = `${job}-q${randomUUID().replaceAll('-', '').slice(0, 9)}`
  return {
    id,
    job,
    principal: '["ci",null]',
    tenant: lane,
    phase: 'queued',
    createdAt: ++clock,
    queue: { request: { env: { TENANT_ID: lane } }, lane, expiresAt: clock + 86_400_000 },
    ...fields
  }
}

export async function enqueue (store: LifecycleStore, record: RunRecord): Promise<RunRecord> {
  const run = unstartedRun(record)
  await store.enqueue(record, runEvent(record, 'queued', run, run.createTime as string))
  return record
}

/** Takes every queued run of `job` in admission order, as the reconciler does (round-robin across lanes). */
async function drain (store: LifecycleStore, job: string, limit = 1_000): Promise<string[]> {
  const order: string[] = []
  let lane: string | undefined
  while (order.length < limit) {
    const next = await store.nextQueued(job, lane) ?? (lane === undefined ? undefined : await store.nextQueued(job, undefined))
    if (next === undefined) break
    lane = next.queue?.lane
    if (await store.claim(next.id) !== undefined) order.push(next.id)
  }
  return order
}

export function queueStoreSuite (t: Test, stores: () => [LifecycleStore, LifecycleStore]): void {
  t.test('queued runs come out round-robin across lanes, first in first out within one', async t => {
    const [a, b] = stores()
    const job = `rr-${randomUUID().slice(0, 8)}`
    const big = []
    for (let i = 0; i < 6; i++) big.push(await enqueue(a, queuedOf(job, 'big')))
    const small = [await enqueue(b, queuedOf(job, 'small')), await enqueue(b, queuedOf(job, 'small'))]
    const mid = await enqueue(a, queuedOf(job, 'mid'))
    t.same((await b.queued(job, 3)).map(record => record.id), big.slice(0, 3).map(record => record.id), 'the list: oldest first')
    t.same((await a.queued(job, 5, 'small')).map(record => record.id), small.map(record => record.id), 'one lane\'s list: oldest first')
    t.same(await b.positions([small[1] as RunRecord]), [5], 'the second small run: after a round of three lanes and big\'s second')
    t.same(await a.positions([big[5] as RunRecord]), [9], 'big\'s last: last')
    t.same(await a.positions([big[0], small[0], mid, big[5], small[1]] as RunRecord[]), [1, 3, 2, 9, 5],
      'many at once: each run\'s place, the lanes read once')
    t.same(await b.positions([]), [], 'none asked, none read')
    t.ok((await b.positions([big[0] as RunRecord, queuedOf(job, 'nobody')])).every(position => position >= 1),
      'a run not (or no longer) queued, as a race may ask about: never a place before the first')
    t.match(await a.record(mid.id), { phase: 'queued', queue: { lane: 'mid', request: { env: { TENANT_ID: 'mid' } } } })
    const order = await drain(b, job)
    const ids = (records: RunRecord[]): string[] => records.map(record => record.id)
    t.same(order, [big[0], mid, small[0], big[1], small[1], ...big.slice(2)].map(record => record?.id),
      'small gets its two within five admissions')
    t.same(await a.queued(job, 10), [], 'none left')
    t.same(ids(await a.openRecords(job)).sort(), order.slice().sort(), 'claimed runs are open (starting), followed by the reconciler')
  })

  t.test('a claim is exactly once under a race; a requeued run keeps its place; a claimed run cannot be settled', async t => {
    const [a, b] = stores()
    const job = `claim-${randomUUID().slice(0, 8)}`
    const first = await enqueue(a, queuedOf(job, 'acme'))
    const second = await enqueue(a, queuedOf(job, 'acme'))
    const claims = await Promise.all([a.claim(first.id), b.claim(first.id), a.claim(first.id), b.claim(first.id)])
    t.equal(claims.filter(claim => claim !== undefined).length, 1, 'one claim won')
    t.match(claims.find(claim => claim !== undefined), { id: first.id, phase: 'starting', queue: { lane: 'acme' } })
    t.equal((await b.nextQueued(job, undefined))?.id, second.id)
    const cancelled = { ...first, phase: 'finished' as const, run: unstartedRun(first, { state: 'CANCELLED' }) }
    t.equal(await a.settle(cancelled, runEvent(first, 'finished', cancelled.run, new Date().toISOString())), undefined,
      'starting: too late to settle')
    await b.requeue(first.id)
    t.equal((await a.nextQueued(job, undefined))?.id, first.id, 'back at the head of its lane')
    t.match(await a.record(first.id), { phase: 'queued' })
    const settles = await Promise.all([
      a.claim(first.id), b.settle(cancelled, runEvent(first, 'finished', cancelled.run, new Date().toISOString()))
    ])
    t.equal(settles.filter(outcome => outcome !== undefined).length, 1, 'claim and cancel race: one wins')
  })

  t.test('settled runs end with their event; expired ones are found by their deadline; ' +
    'the job keeps its lease while runs wait', async t => {
    const [a, b] = stores()
    const job = `settle-${randomUUID().slice(0, 8)}`
    const now = Date.now()
    const late = await enqueue(a, queuedOf(job, 'acme', { queue: { request: {}, lane: 'acme', expiresAt: now - 1 } }))
    const fresh = await enqueue(a, queuedOf(job, 'acme'))
    t.same((await b.expiredQueued(job, now, 10)).map(record => record.id), [late.id])
    t.ok(await a.leases.acquire(job, { holder: 'h', ttlMs: 60_000 }))
    t.equal(await a.leases.releaseIfIdle(job, 'h'), false, 'queued runs are work: the lease stays')
    const run = unstartedRun(late, { state: 'FAILED', reason: QUEUE_TIMEOUT, message: 'queued too long' })
    const event = await b.settle({ ...late, phase: 'finished', run }, runEvent(late, 'finished', run, run.completionTime as string))
    t.match(event, { type: 'jobgate.run.finished', data: { name: late.id, state: 'FAILED', reason: QUEUE_TIMEOUT }, published: false })
    t.match(await a.record(late.id), { phase: 'finished', run: { state: 'FAILED' } })
    t.same(await a.expiredQueued(job, now, 10), [])
    const unpublished = await a.unpublished(job, 10)
    t.same(unpublished.map(stored => stored.type).sort(), ['jobgate.run.finished', 'jobgate.run.queued', 'jobgate.run.queued'],
      'queued and finished events wait for Pub/Sub')
    await a.markPublished(unpublished.map(stored => stored.id))
    const cancelled = unstartedRun(fresh, { state: 'CANCELLED' })
    t.ok(await a.settle({ ...fresh, phase: 'finished', run: cancelled }, runEvent(fresh, 'finished', cancelled, new Date().toISOString())))
    await a.markPublished((await a.unpublished(job, 10)).map(stored => stored.id))
    t.equal(await a.leases.releaseIfIdle(job, 'h'), true, 'nothing waits any more: released')
  })

  t.test('a start counts against the starts-per-minute ceiling from its claim until a minute after its answer; ' +
    'a requeued claim does not count', async t => {
    const [a, b] = stores()
    const job = `window-${randomUUID().slice(0, 8)}`
    const record = await enqueue(a, queuedOf(job, 'acme'))
    const now = Date.now()
    t.equal(await b.countRecentStarts([job], now), 0, 'queued: not a start')
    const claimed = await a.claim(record.id) as RunRecord
    t.equal(await b.countRecentStarts([job], now), 1, 'claimed: its start begins')
    t.equal(await b.countRecentStarts([job], now + 100_000), 1, 'unanswered: it counts longer than a minute')
    t.equal(await b.countRecentStarts([`${job}-other`], now), 0, 'per job')
    await b.requeue(record.id)
    t.equal(await a.countRecentStarts([job], now), 0, 'requeued: it started nothing')
    const again = await b.claim(record.id) as RunRecord
    t.ok(again, 'claimed again')
    const answeredAt = Date.now()
    const run = runOf(job, `${job}-x1`)
    await a.transition(advanced(again, 'started', run, answeredAt), runEvent(again, 'started', run, run.createTime as string))
    t.equal(await b.countRecentStarts([job], answeredAt + 59_000), 1, 'answered: it counts for a minute after the answer')
    t.equal(await b.countRecentStarts([job], answeredAt + 61_000), 0, 'and no longer')
    const ended = runOf(job, `${job}-x1`, 'SUCCEEDED')
    const started = await a.record(record.id) as RunRecord
    await b.transition(advanced(started, 'finished', ended, Date.now()), runEvent(started, 'finished', ended, new Date().toISOString()))
    t.equal(await a.countRecentStarts([job], answeredAt + 59_000), 1, 'a run that ended still counts within its minute')
    t.ok(claimed.startCountsUntil !== undefined && claimed.startCountsUntil >= now, 'the claim says until when')
  })
}
