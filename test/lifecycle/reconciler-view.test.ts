/**
 * JobReconciler.scopeView: the concurrency scope a direct start takes instead of a read of Cloud Run, only from a recent
 * complete scan. A stand-in Cloud Run list, a fake clock, no timers of consequence (the schedule's pauses are a minute).
 */
import t, { type Test } from 'tap'
import { pino } from 'pino'
import type { JobEntry } from '../../api/catalog.js'
import type { ExecutionPage } from '../../api/cloudrun/client.js'
import { ANSWER_GRACE_MS, JobReconciler, type ReconcilerDeps } from '../../api/lifecycle/reconciler.js'
import type { RunRecord } from '../../api/lifecycle/run-record.js'
import { fakeExecution, RUNNING } from '../helpers/fake-cloud-run.js'

const schedule = { firstMs: 60_000, growth: 1, maxMs: 60_000 }
const entry = (scope: 'job' | 'tenant'): JobEntry => ({
  id: 'viewed', job: 'viewed', maxTimeoutSeconds: 600, concurrency: { policy: 'Queue', maxRunning: 5, scope, onConflict: 'retry' }
}) as unknown as JobEntry
const NOW = Date.parse('2026-12-07T05:00:00Z')
const created = new Date(NOW - 1_000).toISOString()

interface Setup { reconciler: JobReconciler, clock: { now: number }, budget: { left: number } }

/** A reconciler of `job` whose every list call answers `page` (newest first), following `records`. */
function setUp (t: Test, job: JobEntry, page: () => ExecutionPage, records: RunRecord[]): Setup {
  const clock = { now: NOW }
  const budget = { left: 100 }
  const deps = {
    cloudRun: { listExecutions: async () => page(), getExecution: async () => { throw new Error('not read') } },
    store: { adopt: async () => true, requeue: async () => undefined },
    recorder: {},
    outbox: { sweep: async () => true, sweepDueAt: () => 0 },
    budget: { tryTake: () => budget.left-- > 0, waitMs: () => 1_000 },
    log: pino({ level: 'silent' }),
    schedule,
    staleMs: 60_000,
    now: () => clock.now,
    idle: async () => false
  } as unknown as ReconcilerDeps
  const reconciler = new JobReconciler(job, deps)
  t.teardown(() => { reconciler.stop() })
  for (const record of records) reconciler.add(record)
  return { reconciler, clock, budget }
}
const followed = (execution: string, tenant?: string): RunRecord => ({
  id: `r-${execution}`, job: 'viewed', principal: 'p', phase: 'started', execution, createdAt: NOW - 1_000,
  ...(tenant !== undefined && { tenant })
})
const running = (name: string) => fakeExecution(name, 'viewed', { conditions: RUNNING, created })
async function pass (reconciler: JobReconciler): Promise<void> {
  reconciler.poke()
  await reconciler.settled()
}

t.test('after a complete scan: the runs it follows, until the scan is older than twice the slowest pace', async t => {
  const { reconciler, clock } = setUp(t, entry('job'), () => ({ executions: [running('run-1')] }), [followed('run-1')])
  t.equal(reconciler.scopeView(undefined), undefined, 'no scan yet')
  await pass(reconciler)
  t.match(reconciler.scopeView(undefined), { running: [{ name: 'run-1' }] })
  t.ok(reconciler.scopeView(undefined)?.listed.has('run-1'))
  clock.now += 2 * schedule.maxMs
  t.not(reconciler.scopeView(undefined), undefined, 'twice the slowest pace: still recent')
  clock.now += 1
  t.equal(reconciler.scopeView(undefined), undefined, 'older: a start reads Cloud Run')
  reconciler.stop()
  clock.now = NOW
  t.equal(reconciler.scopeView(undefined), undefined, 'stopped (the job\'s lease went elsewhere)')
})

t.test('a scan cut short by the read budget, or one that ran out of pages, gives no view', async t => {
  const budgeted = setUp(t, entry('job'), () => ({ executions: [running('run-1')] }), [followed('run-1')])
  budgeted.budget.left = 0
  await pass(budgeted.reconciler)
  t.equal(budgeted.reconciler.scopeView(undefined), undefined, 'no read: no view')
  // Ten pages of recent runs, none of them the one it follows: it may be further back.
  const paging = setUp(t, entry('job'), () => ({ executions: [fakeExecution('other', 'viewed', { created })], nextPageToken: 'more' }),
    [followed('run-1')])
  await pass(paging.reconciler)
  t.equal(paging.reconciler.scopeView(undefined), undefined, 'incomplete: no view')
})

t.test('tenant scope: the runs of the start\'s tenant only; nothing followed: an empty scope', async t => {
  const executions = [running('a-1'), running('b-1')]
  const { reconciler } = setUp(t, entry('tenant'), () => ({ executions }), [followed('a-1', 'acme'), followed('b-1', 'globex')])
  await pass(reconciler)
  t.same(reconciler.scopeView('acme')?.running.map(run => run.name), ['a-1'])
  t.same(reconciler.scopeView('initech')?.running, [])
  const idle = setUp(t, entry('job'), () => ({ executions: [] }), [])
  await pass(idle.reconciler)
  t.same(idle.reconciler.scopeView(undefined)?.running, [], 'follows nothing: no read, and nothing running')
})

t.test('a start still awaiting its answer is not looked for by its marker (one page, a view); after ANSWER_GRACE_MS it is', async t => {
  let lists = 0
  const page = (): ExecutionPage => { lists++; return { executions: [running('run-1')], nextPageToken: 'more' } }
  const starting: RunRecord = { id: 'r-new', job: 'viewed', principal: 'p', phase: 'starting', createdAt: NOW }
  const { reconciler, clock } = setUp(t, entry('job'), page, [followed('run-1'), starting])
  await pass(reconciler)
  t.equal(lists, 1, 'the followed run is on the first page: done')
  t.match(reconciler.scopeView(undefined), { running: [{ name: 'run-1' }] }, 'its lease counts the start in flight')
  clock.now += ANSWER_GRACE_MS + 1
  await pass(reconciler)
  t.equal(lists, 11, 'no answer yet: looked for by its marker, through every page (a lost answer is found so)')
})
