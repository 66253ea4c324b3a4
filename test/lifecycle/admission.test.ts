/** JobAdmission against the memory store with a stand-in start: every outcome of an admitted run's start. */
import t from 'tap'
import type { JobEntry } from '../../api/catalog.js'
import { ApiError } from '../../api/errors.js'
import { JobAdmission, PARALLEL_STARTS, type AdmitOutcome } from '../../api/lifecycle/admission.js'
import { MemoryLifecycleStore } from '../../api/lifecycle/memory-store.js'
import { Outbox } from '../../api/lifecycle/outbox.js'
import { TransitionRecorder } from '../../api/lifecycle/recorder.js'
import type { RunRecord } from '../../api/lifecycle/run-record.js'
import { captureLogs } from '../helpers/log-capture.js'
import { enqueue, queuedOf } from './queue-store-suite.js'

const entry = (scope: 'job' | 'tenant', maxRunning: number): JobEntry => ({
  id: `adm-${scope}`,
  concurrency: {
    policy: 'Queue', maxRunning, scope, onConflict: 'retry', queueTimeoutMs: 60_000, ...(scope === 'tenant' && { tenantKey: 'TENANT_ID' })
  }
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
    underCeilings: async (_entry, begin) => ceiling() ? { hit: { message: 'ceiling', retryAfterSeconds: 10 } } : { begun: await begin() },
    start: () => async (_entry, record) => outcomes(record),
    claimed: record => { claimed.push(record.id) },
    released: id => { released.push(id) },
    started: async record => { started.push(record.id) }
  })
  return { store, admission, started, released, claimed }
}

const execution = (name: string): AdmitOutcome => ({ started: { metadata: { name } } })

t.test('job scope: admits up to the free slots, round-robin', async t => {
  const job = entry('job', 3)
  const { store, admission, started } = setUp(job, record => execution(`${record.id}-x`))
  const a = [await enqueue(store, queuedOf(job.id, 'a')), await enqueue(store, queuedOf(job.id, 'a'))]
  const b = [await enqueue(store, queuedOf(job.id, 'b')), await enqueue(store, queuedOf(job.id, 'b'))]
  const followed = [{ id: 'other', job: job.id, principal: 'p', phase: 'started', createdAt: 0 }] as RunRecord[]
  t.same(await admission.pass(followed), { waiting: true, admitted: 2 }, 'two free slots beside the followed run')
  t.same(started, [a[0]?.id, b[0]?.id], 'one of each lane, first in first out within it')
  t.same(await admission.pass([]), { waiting: false, admitted: 2 })
  t.same(started.slice(2), [a[1]?.id, b[1]?.id])
})

t.test('a start refused for its slot goes back to its place, and starts once later', async t => {
  const job = entry('job', 3)
  let refuse = true
  const { store, admission, started, released } = setUp(job, record => {
    if (refuse) { refuse = false; return { full: 'slot' } }
    return execution(`${record.id}-x`)
  })
  const a = [await enqueue(store, queuedOf(job.id, 'a')), await enqueue(store, queuedOf(job.id, 'a'))]
  const b = await enqueue(store, queuedOf(job.id, 'b'))
  await admission.pass([])
  t.same(released, [a[0]?.id], 'the refused run is let go')
  for (let pass = 0; pass < 5 && started.length < 3; pass++) await admission.pass([])
  t.same([...started].sort(), [a[0]?.id, a[1]?.id, b.id].sort(), 'each run started once')
  t.ok(started.indexOf(a[0]?.id as string) < started.indexOf(a[1]?.id as string),
    'the refused run kept its place before the next of its lane')
})

t.test('up to PARALLEL_STARTS starts are under way at once, never more', async t => {
  const job = entry('job', 100)
  let under = 0
  let peak = 0
  const { store, started } = setUp(job, record => execution(`${record.id}-x`))
  const slow = new JobAdmission(job, {
    store,
    recorder: new TransitionRecorder(store, new Outbox({ store, log: captureLogs().logger, maxWaitMs: 3_600_000 })),
    log: captureLogs().logger,
    now: Date.now,
    underCeilings: async (_entry, begin) => ({ begun: await begin() }),
    start: () => async (_entry, record) => {
      peak = Math.max(peak, ++under)
      await new Promise(resolve => setImmediate(resolve))
      under--
      return execution(`${record.id}-x`)
    },
    claimed: () => {},
    released: () => {},
    started: async record => { started.push(record.id) }
  })
  for (let i = 0; i < 40; i++) await enqueue(store, queuedOf(job.id, `lane-${i % 4}`))
  t.same(await slow.pass([]), { waiting: false, admitted: 40 })
  t.equal(peak, PARALLEL_STARTS, `at most ${PARALLEL_STARTS} at once, and that many when the queue allows`)
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
  t.match(await store.record(unknown.id), { phase: 'starting' },
    'still claimed: found by its marker, or queued again after the stale bound')
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
  t.match(await store.record(late.id), { phase: 'finished', run: { state: 'FAILED', reason: 'QUEUE_TIMEOUT' } },
    'timed out, whatever the ceilings')
  atCeiling = false
  t.same(await admission.pass(followed), { waiting: true, admitted: 1 })
  t.same(started, [free.id], 'busy is at its limit: free goes first')
  t.same(await admission.pass([]), { waiting: false, admitted: 1 })
  t.same(started, [free.id, busy.id])
})
