/** Batches in a LifecycleStore, and their end seen from two instances: run by the memory and the Firestore test files. */
import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import type { Test } from 'tap'
import { batchFinishedEvent, batchOf, noCounts, type BatchRecord } from '../../api/lifecycle/batch-record.js'
import { Batches } from '../../api/lifecycle/batches.js'
import { Outbox } from '../../api/lifecycle/outbox.js'
import { TransitionRecorder } from '../../api/lifecycle/recorder.js'
import { runEvent, unstartedRun, type RunRecord, type StoredEvent } from '../../api/lifecycle/run-record.js'
import type { LifecycleStore } from '../../api/lifecycle/store.js'
import type { JobEntry } from '../../api/catalog.js'
import { QUEUE_TIMEOUT } from '../../api/schemas/run.js'
import { queuedOf } from './queue-store-suite.js'
import { runOf } from './store-suite.js'

/** A batch of `size` queued runs of `job`, in lanes a, b, c…, as RunLifecycle.enqueueBatch makes it. */
function batchOfRuns (job: string, size: number): { batch: BatchRecord, records: RunRecord[] } {
  const id = `${job}-b${randomUUID().replaceAll('-', '').slice(0, 9)}`
  const records = Array.from({ length: size }, (_, index) => ({ ...queuedOf(job, String.fromCharCode(97 + index % 3)), batch: id }))
  return { batch: { id, job, principal: '["ops",null]', runs: records.map(record => record.id), createdAt: Date.now() }, records }
}

const queuedEvents = (records: RunRecord[]): Array<{ record: RunRecord, event: ReturnType<typeof runEvent> }> =>
  records.map(record => ({ record, event: runEvent(record, 'queued', unstartedRun(record), new Date(record.createdAt).toISOString()) }))

/** Ends a run the way the reconciler does: its record finished, with its event. */
async function finish (store: LifecycleStore, record: RunRecord, state: 'SUCCEEDED' | 'FAILED'): Promise<StoredEvent | undefined> {
  const run = { ...runOf(record.job, record.id, state), execution: `${record.job}-x${record.id.slice(-4)}` }
  return await store.transition({ ...record, phase: 'finished', run }, runEvent(record, 'finished', run, new Date().toISOString()))
}

/** One instance's recorder, outbox and batches over `store` (no Pub/Sub topic): what RunLifecycle wires. */
function instance (store: LifecycleStore): { recorder: TransitionRecorder, batches: Batches, outbox: Outbox } {
  const holder: { batches?: Batches } = {}
  const outbox = new Outbox({
    store, log: pino({ level: 'silent' }), maxWaitMs: 3_600_000, followUp: async events => { await holder.batches?.runsEnded(events) }
  })
  const recorder = new TransitionRecorder(store, outbox)
  holder.batches = new Batches({ store, recorder, now: Date.now })
  return { recorder, batches: holder.batches, outbox }
}

export function batchStoreSuite (t: Test, stores: () => [LifecycleStore, LifecycleStore]): void {
  t.test('a batch is written with its queued runs; its counts follow its runs\' records; its end is recorded once', async t => {
    const [a, b] = stores()
    const job = `batch-${randomUUID().slice(0, 8)}`
    const { batch, records } = batchOfRuns(job, 5)
    const events = await a.createBatch(batch, queuedEvents(records))
    t.equal(events.length, 5, 'one jobgate.run.queued per run')
    t.match(events[0], { type: 'jobgate.run.queued', batch: batch.id, published: false })
    t.match(await b.batch(batch.id), { id: batch.id, job, runs: batch.runs, principal: '["ops",null]' })
    t.equal(await b.batch(`${job}-bnothere00`), undefined)
    t.match(await b.record(records[0]?.id as string), { phase: 'queued', batch: batch.id })
    t.same(await b.batchCounts(batch), { ...noCounts(), queued: 5 })
    const [first, second, third, fourth, fifth] = records as [RunRecord, RunRecord, RunRecord, RunRecord, RunRecord]
    const claimed = await b.claim(first.id) as RunRecord
    t.equal(claimed.batch, batch.id, 'a claimed run still names its batch')
    await a.claim(second.id)
    t.same(await a.batchCounts(batch), { ...noCounts(), queued: 3, running: 2 })
    t.match(await finish(a, claimed, 'SUCCEEDED'), { type: 'jobgate.run.finished', batch: batch.id })
    await finish(b, { ...second, batch: batch.id }, 'FAILED')
    const settle = async (store: LifecycleStore, record: RunRecord, end: Parameters<typeof unstartedRun>[1]): Promise<void> => {
      const run = unstartedRun(record, end)
      await store.settle({ ...record, phase: 'finished', run }, runEvent(record, 'finished', run, new Date().toISOString()))
    }
    await settle(a, third, { state: 'CANCELLED' })
    await settle(b, fourth, { state: 'FAILED', reason: QUEUE_TIMEOUT })
    t.same(await b.batchCounts(batch), { queued: 1, running: 0, succeeded: 1, failed: 2, cancelled: 1 }, 'a queue timeout counts as failed')
    await settle(a, fifth, { state: 'CANCELLED' })
    const counts = await a.batchCounts(batch)
    t.same(counts, { queued: 0, running: 0, succeeded: 1, failed: 2, cancelled: 2 })
    const ended = (at: number): BatchRecord => ({ ...batch, ended: { counts, at } })
    const end = (store: LifecycleStore, at: number): Promise<StoredEvent | undefined> =>
      store.endBatch(ended(at), batchFinishedEvent(ended(at), batchOf(ended(at), counts)))
    const outcomes = await Promise.all([end(a, 1), end(b, 2), end(a, 3), end(b, 4)])
    const recorded = outcomes.filter(outcome => outcome !== undefined)
    t.equal(recorded.length, 1, 'the end is recorded once, whoever races')
    t.match(recorded[0], { type: 'jobgate.batch.finished', subject: `jobs/${job}/batches/${batch.id}`, data: { state: 'FAILED', counts } })
    const stored = await b.batch(batch.id)
    t.same(stored?.ended?.counts, counts)
    t.equal(batchOf(stored as BatchRecord, noCounts()).completionTime, recorded[0]?.data.completionTime,
      'the record\'s end is the event\'s')
  })

  t.test('the last run\'s end, recorded on either instance, ends the batch: ' +
    'jobgate.batch.finished once, before the run\'s event is published', async t => {
    const [a, b] = stores()
    const [one, two] = [instance(a), instance(b)]
    const job = `batch-end-${randomUUID().slice(0, 8)}`
    const ids = (await one.batches.create(`${job}-b${randomUUID().slice(0, 9).replaceAll('-', 'x')}`,
      { id: job } as JobEntry, '["ops",null]',
      [queuedOf(job, 'a'), queuedOf(job, 'b')])).runs
    const name = (await two.batches.read({ id: job } as JobEntry, `${job}-b`))?.batch.name
    t.equal(name, undefined, 'a batch of another name is not found')
    const [first, second] = await Promise.all(ids.map(async id => await a.claim(id))) as [RunRecord, RunRecord]
    const ended: StoredEvent[] = []
    for (const { recorder } of [one, two]) recorder.listen(event => { if (event.type === 'jobgate.batch.finished') ended.push(event) })
    await one.recorder.recordRun(first, 'finished', runOf(job, first.id, 'SUCCEEDED'))
    await two.recorder.recordRun(second, 'finished', runOf(job, second.id, 'SUCCEEDED'))
    const batchId = first.batch as string
    const deadline = Date.now() + 60_000
    while ((await a.batch(batchId))?.ended === undefined && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    await Promise.all([one.outbox.settled(), two.outbox.settled()])
    t.match(await a.batch(batchId), { ended: { counts: { succeeded: 2 } } }, 'ended by the instance that recorded the last end')
    t.equal(ended.length, 1, 'jobgate.batch.finished recorded once')
    const read = await one.batches.read({ id: job } as JobEntry, batchId)
    t.match(read?.batch, { state: 'SUCCEEDED', counts: { succeeded: 2, queued: 0, running: 0 } })
    t.equal(ended.length, 1, 'a read of the ended batch records nothing more')
    const published = (await a.unpublished(job, 100)).filter(event => event.type === 'jobgate.batch.finished')
    t.same(published, [], 'and the outbox published it (marked)')
  })
}
