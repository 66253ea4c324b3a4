/**
 * The reconciler's pace: while nothing moves its passes back off (poll-schedule.ts), but while queued runs wait for a
 * slot it keeps the quickest pace, since each pass is the one that may see a run end and admit the next.
 */
import t from 'tap'
import { pino } from 'pino'
import type { JobEntry } from '../../api/catalog.js'
import type { AdmissionPass } from '../../api/lifecycle/admission.js'
import type { Execution } from '../../api/cloudrun/execution.js'
import { FORECAST_BURST, JobReconciler, type ReconcilerDeps } from '../../api/lifecycle/reconciler.js'
import { until } from './helpers.js'

/** A schedule that backs off fast: 20 ms, then 400 ms, then 8 s, then a minute apart. */
const schedule = { firstMs: 20, growth: 20, maxMs: 60_000 }

function reconcilerOf (waiting: () => boolean): { reconciler: JobReconciler, passes: () => number } {
  let passes = 0
  const deps = {
    cloudRun: { listExecutions: async () => ({ items: [] }), getExecution: async () => { throw new Error('not read') } },
    store: { adopt: async () => true, requeue: async () => undefined },
    recorder: {},
    outbox: { sweep: async () => true, sweepDueAt: () => 0 },
    budget: { tryTake: () => true, waitMs: () => 0 },
    log: pino({ level: 'silent' }),
    schedule,
    staleMs: 60_000,
    now: Date.now,
    idle: async () => false,
    admit: async (): Promise<AdmissionPass> => { passes++; return { waiting: waiting(), admitted: 0 } }
  } as unknown as ReconcilerDeps
  const reconciler = new JobReconciler({ id: 'paced', maxTimeoutSeconds: 600 } as unknown as JobEntry, deps)
  return { reconciler, passes: () => passes }
}

t.test('runs waiting for a slot: a pass every firstMs, no backing off', async t => {
  const { reconciler, passes } = reconcilerOf(() => true)
  t.teardown(() => { reconciler.stop() })
  reconciler.poke()
  // Backing off, 30 passes would take hours; at the waiting pace they take under a second when idle.
  await until(() => passes() >= 30, 60_000, '30 passes')
  t.ok(passes() >= 30)
})

t.test('nothing waiting: the passes back off', async t => {
  const { reconciler, passes } = reconcilerOf(() => false)
  t.teardown(() => { reconciler.stop() })
  reconciler.poke()
  await until(() => passes() >= 3, 60_000, 'three passes (20 ms and 400 ms apart)')
  // The fourth is 8 s after the third: within 1 s at most one more pass can have come (a loaded machine's late timer).
  const third = passes()
  await new Promise(resolve => setTimeout(resolve, 1_000))
  t.ok(passes() <= third + 1, `backed off (${passes()} passes)`)
})

/** An execution of job `paced` that started `startedAgoMs` ago and, when `lengthMs` is given, ended after that long. */
function executionOf (name: string, startedAgoMs: number, lengthMs?: number): Execution {
  const startTime = new Date(Date.now() - startedAgoMs).toISOString()
  const completionTime = lengthMs === undefined ? undefined : new Date(Date.parse(startTime) + lengthMs).toISOString()
  return {
    metadata: { name, creationTimestamp: startTime },
    status: {
      startTime,
      ...(completionTime !== undefined && { completionTime }),
      conditions: [{ type: 'Completed', status: completionTime === undefined ? 'Unknown' : 'True' }]
    }
  }
}

/** A reconciler whose runs wait for a slot, following `executions` (listed as they are), at a pace of a minute. */
function forecastingReconciler (executions: Execution[]): { reconciler: JobReconciler, lists: () => number } {
  let lists = 0
  const deps = {
    cloudRun: { listExecutions: async () => { lists++; return { executions } }, getExecution: async () => { throw new Error('not read') } },
    store: { adopt: async () => true, requeue: async () => undefined },
    recorder: { record: async () => undefined },
    outbox: { sweep: async () => true, sweepDueAt: () => 0 },
    budget: { tryTake: () => true, waitMs: () => 0 },
    log: pino({ level: 'silent' }),
    schedule: { firstMs: 60_000, growth: 1.5, maxMs: 60_000 },
    staleMs: 60_000,
    now: Date.now,
    idle: async () => false,
    admit: async (): Promise<AdmissionPass> => ({ waiting: true, admitted: 0 })
  } as unknown as ReconcilerDeps
  const reconciler = new JobReconciler({ id: 'paced', maxTimeoutSeconds: 600 } as unknown as JobEntry, deps)
  for (const execution of executions) {
    const name = execution.metadata?.name as string
    reconciler.add({ id: name, job: 'paced', principal: 'p', phase: 'started', execution: name, createdAt: Date.now() - 60_000 })
  }
  return { reconciler, lists: () => lists }
}

t.test('runs wait and the job\'s runs last 2 s: the next pass comes just after a running run is due to end, not a pace later',
  async t => {
    const ended = [0, 1, 2].map(i => executionOf(`done-${i}`, 10_000, 2_000))
    const { reconciler, lists } = forecastingReconciler([...ended, executionOf('due', 1_000)])
    t.teardown(() => { reconciler.stop() })
    reconciler.poke()
    // The pace is a minute: a second list within 30 s is the forecast's (the run is due about a second after the first).
    await until(() => lists() >= 2, 30_000, 'a pass at the forecast end')
    t.equal(lists(), 2)
  })

t.test('a wave of runs due: at most FORECAST_BURST quick looks in a row, then the pace', async t => {
  const ended = [0, 1, 2].map(i => executionOf(`done-${i}`, 10_000, 300))
  // Due one after another, every 50 ms for the next 3 s.
  const due = Array.from({ length: 60 }, (_, i) => executionOf(`due-${i}`, 300 - 50 * i))
  const { reconciler, lists } = forecastingReconciler([...ended, ...due])
  t.teardown(() => { reconciler.stop() })
  reconciler.poke()
  await until(() => lists() >= 1 + FORECAST_BURST, 30_000, 'the quick looks')
  // A fifth quick look would come 250 ms after the fourth: wait well past it (3 s) to see it does not.
  await new Promise(resolve => setTimeout(resolve, 3_000))
  t.equal(lists(), 1 + FORECAST_BURST, 'the first pass and four quick looks; the next at the pace, a minute later')
})
