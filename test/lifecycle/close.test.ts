/**
 * Closing the lifecycle waits for the reconciler pass under way: the store closes after it, never under it
 * (Firestore's client, asked after it was terminated, leaves a rejection nobody holds and the process ends).
 */
import t from 'tap'
import { parseCatalog } from '../../api/catalog.js'
import type { CloudRunClient } from '../../api/cloudrun/client.js'
import { loadLifecycleConfig } from '../../api/lifecycle/config.js'
import { RunLifecycle } from '../../api/lifecycle/lifecycle.js'
import { MemoryLifecycleStore } from '../../api/lifecycle/memory-store.js'
import { captureLogs } from '../helpers/log-capture.js'
import { until } from './helpers.js'

/** The memory store, counting every call, so a test can tell whether anything used it after a moment. */
function countingStore (): { store: MemoryLifecycleStore, calls: () => number } {
  const store = new MemoryLifecycleStore()
  let calls = 0
  const proxy = new Proxy(store, {
    get (target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => { calls++; return (value as (...a: unknown[]) => unknown).apply(target, args) }
    }
  })
  return { store: proxy, calls: () => calls }
}

t.test('close resolves only after the pass under way ended, and nothing uses the store after it', async t => {
  const { store, calls } = countingStore()
  let listing = 0
  let releaseList: () => void = () => {}
  const cloudRun: Pick<CloudRunClient, 'listExecutions' | 'getExecution'> = {
    listExecutions: async () => {
      listing++
      await new Promise<void>(resolve => { releaseList = resolve })
      return { executions: [] }
    },
    getExecution: async () => { throw new Error('not read in this test') }
  }
  const catalog = parseCatalog(JSON.stringify({ jobs: { report: {} } }), 'JOBGATE_JOBS',
    { project: 'close-project', region: 'us-central1' })
  const lifecycle = new RunLifecycle({
    config: loadLifecycleConfig({}, 'close-project', 'us-central1'),
    store,
    catalog,
    cloudRun,
    budget: { tryTake: () => true, waitMs: () => 1_000 },
    log: captureLogs().logger,
    staleMs: 60_000
  })
  const entry = catalog.get('report')
  if (entry === undefined) throw new Error('no entry')
  await lifecycle.beginStart(entry, {}, { name: 'ci', principal: 'ci' } as never)
  await until(() => listing === 1, 10_000, 'a pass lists the job\'s executions')

  let closed = false
  const closing = lifecycle.close().then(() => { closed = true })
  // Many turns of the event loop while the list hangs: close must still be waiting.
  for (let i = 0; i < 50; i++) await new Promise(resolve => setImmediate(resolve))
  t.equal(closed, false, 'close waits for the pass under way')
  releaseList()
  await closing
  const atClose = calls()
  for (let i = 0; i < 50; i++) await new Promise(resolve => setImmediate(resolve))
  t.equal(calls(), atClose, 'no store call after close resolved')
  t.equal(listing, 1, 'no pass after close')
})
