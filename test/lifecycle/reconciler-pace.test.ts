/**
 * The reconciler's pace: while nothing moves its passes back off (poll-schedule.ts), but while queued runs wait for a
 * slot it keeps the quickest pace, since each pass is the one that may see a run end and admit the next.
 */
import t from 'tap'
import { pino } from 'pino'
import type { JobEntry } from '../../api/catalog.js'
import type { AdmissionPass } from '../../api/lifecycle/admission.js'
import { JobReconciler, type ReconcilerDeps } from '../../api/lifecycle/reconciler.js'
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
