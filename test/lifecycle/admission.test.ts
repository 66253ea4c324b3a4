/** JobAdmission against the memory store with a stand-in start: every outcome of an admitted run's start. */
import t from 'tap'
import type { JobEntry } from '../../api/catalog.js'
import { ApiError } from '../../api/errors.js'
import { JobAdmission, type AdmitOutcome } from '../../api/lifecycle/admission.js'
import { MemoryLifecycleStore } from '../../api/lifecycle/memory-store.js'
import { Outbox } from '../../api/lifecycle/outbox.js'
import { TransitionRecorder } from '../../api/lifecycle/recorder.js'
import type { RunRecord } from '../../api/lifecycle/run-record.js'
import { captureLogs } from '../helpers/log-capture.js'
import { enqueue, queuedOf } from './queue-store-suite.js'

const entry = (scope: 'job' | 'tenant', maxRunning: number): JobEntry => ({
  id: `adm-${scope}`,
  concurrency: { policy: 'Queue', maxRunning, scope, onConflict: 'retry', queueTimeoutMs: 60_000, ...(scope === 'tenant' && { tenantKey: 'TENANT_ID' }) }
}) as unknown as JobEntry

interface Setup { store: MemoryLifecycleStore, admission: JobAdmission, started: string[], released: string[], claimed: string[] }

function setUp (job: JobEntry, outcomes: (record: RunRecord) => AdmitOutcome, ceiling = () => false): Setup {
  const store = new MemoryLifecycleStore()
  const log = captureLogs().logger
  const recorder = new TransitionRecorder(store, new Outbox({ store, log, maxWaitMs: 3_600_000 }))
  const started: string[] = []
  const released: string[] = []
  const claimed: string[] = []
  const admission = new JobAdmission(job, {
    store,
    recorder,
    log,
    now: Date.now,
    ceiling: async () => ceiling() ? { message: 'ceiling', retryAfterSeconds: 10 } : undefined,
    start: () => async (_entry, record) => outcomes(record),
    claimed: record => { claimed.push(record.id) },
    released: id => { released.push(id) },
    started: async record => { started.push(record.id) }
  })
  return { store, admission, started, released, claimed }
}

const execution = (name: string): AdmitOutcome => ({ started: { metadata: { name } } })

t.test('job scope: admits up to the free slots, round-robin; a start refused for its slot goes back to its place', async t => {
  const job = entry('job', 3)
  let refuse = true
  const { store, admission, started, released } = setUp(job, record => {
    if (refuse) { refuse = false; return { full: true } }
    return execution(`${record.id}-x`)
  })
  const a = [await enqueue(store, queuedOf(job.id, 'a')), await enqueue(store, queuedOf(job.id, 'a'))]
  const b = await enqueue(store, queuedOf(job.id, 'b'))
  const first = await admission.pass([])
  t.same(first, { waiting: true, admitted: 0 }, 'the slot was taken after all: nothing more this pass')
  t.same(released, [a[0]?.id])
  t.match(await store.record(a[0]?.id as string), { phase: 'queued' }, 'back in the queue')
  const followed = [{ id: 'other', job: job.id, principal: 'p', phase: 'started', createdAt: 0 }] as RunRecord[]
  t.same(await admission.pass(followed), { waiting: true, admitted: 2 }, 'two free slots beside the followed run')
  t.same(started, [b.id, a[0]?.id], 'the round goes on after the lane last tried')
  t.same(await admission.pass([]), { waiting: false, admitted: 1 })
  t.same(started.at(-1), a[1]?.id)
})

t.test('a start that provably failed ends the run FAILED; an unknown outcome leaves it claimed for its reconciler', async t => {
  const job = entry('job', 5)
  const { store, admission, released } = setUp(job, record => record.queue?.lane === 'bad'
    ? { failed: new ApiError('INVALID_ARGUMENT', 'the job refused the override'), provenNotStarted: true }
    : { failed: new ApiError('UNAVAILABLE', 'Cloud Run did not answer', { runMayHaveStarted: true }), provenNotStarted: false })
  const bad = await enqueue(store, queuedOf(job.id, 'bad'))
  const unknown = await enqueue(store, queuedOf(job.id, 'unknown'))
  await t.rejects(admission.pass([]), { message: 'Cloud Run did not answer' }, 'the pass fails; its reconciler backs off')
  t.match(await store.record(bad.id), { phase: 'finished', run: { state: 'FAILED', message: 'the job refused the override' } })
  t.match(await store.record(unknown.id), { phase: 'starting' }, 'still claimed: found by its marker, or queued again after the stale bound')
  t.same(released, [bad.id], 'only the failed one is let go')
})

t.test('per-tenant scope skips tenants at their limit; the ceilings stop the pass; a run past its deadline is never started', async t => {
  const job = entry('tenant', 1)
  let atCeiling = false
  const { store, admission, started } = setUp(job, record => execution(`${record.id}-x`), () => atCeiling)
  const busy = await enqueue(store, queuedOf(job.id, 'busy'))
  const free = await enqueue(store, queuedOf(job.id, 'free'))
  const late = await enqueue(store, queuedOf(job.id, 'late', { queue: { request: {}, lane: 'late', expiresAt: Date.now() - 1 } }))
  const followed = [{ id: 'r', job: job.id, tenant: 'busy', principal: 'p', phase: 'started', createdAt: 0 }] as RunRecord[]
  atCeiling = true
  t.same(await admission.pass(followed), { waiting: true, admitted: 0 }, 'at a project ceiling: nothing')
  t.match(await store.record(late.id), { phase: 'finished', run: { state: 'FAILED', reason: 'QUEUE_TIMEOUT' } }, 'timed out, whatever the ceilings')
  atCeiling = false
  t.same(await admission.pass(followed), { waiting: true, admitted: 1 })
  t.same(started, [free.id], 'busy is at its limit: free goes first')
  t.same(await admission.pass([]), { waiting: false, admitted: 1 })
  t.same(started, [free.id, busy.id])
})
