/**
 * Batches that cannot be queued, on the unit app (no emulator): a malformed body, a full queue (nothing queued, the key
 * released), and a store that fails part of the way (outcome unknown: the key answers 409 with runMayHaveStarted).
 */
import t from 'tap'
import { MemoryLifecycleStore } from '../../api/lifecycle/memory-store.js'
import { build } from '../helper.js'

class FailingStore extends MemoryLifecycleStore {
  failing = false
  override async createBatch (...args: Parameters<MemoryLifecycleStore['createBatch']>): ReturnType<MemoryLifecycleStore['createBatch']> {
    if (this.failing) throw new Error('the store went away halfway')
    return await super.createBatch(...args)
  }
}

const store = new FailingStore({ maxQueued: 3 })
const { app, log } = await build(t, {
  jobs: { queued: { job: 'echo-job', env: { allow: ['N'] }, concurrency: { policy: 'Queue', maxRunning: 1 } } },
  services: { lifecycleStore: store }
})
const post = async (payload: unknown, headers: Record<string, string> = {}) => await app.inject({
  method: 'POST',
  url: '/v1/jobs/queued/batches',
  headers: { 'content-type': 'application/json', ...headers },
  payload: JSON.stringify(payload)
})
const runs = (count: number): unknown[] => Array.from({ length: count }, (_, index) => ({ env: { N: String(index) } }))

t.test('a body that is not a batch: 400 naming what is wrong; no body at all: 415', async t => {
  t.match((await post([])).json(), { error: { status: 'INVALID_ARGUMENT', message: /^body: a batch is an object/ } })
  t.match((await post({ runs: runs(1), extra: 1 })).json(), { error: { message: 'body: unknown field "extra"' } })
  t.match((await post({ runs: 'x' })).json(), { error: { message: 'runs: required, an array of run requests' } })
  t.match((await post({ runs: [{ clearArgs: true, args: ['x'] }] })).json(),
    { error: { message: 'runs[0].clearArgs: cannot be combined with non-empty args' } })
  const bodiless = await app.inject({ method: 'POST', url: '/v1/jobs/queued/batches' })
  t.match(bodiless, { statusCode: 415 })
  t.match(bodiless.json(), { error: { message: /^a batch is a JSON object/ } })
  t.equal((await post({ runs: runs(1) }, { 'idempotency-key': '' })).statusCode, 400, 'an empty key')
})

t.test('more than the memory queue holds: 429, nothing queued, and the key is free for a batch that fits', async t => {
  const full = await post({ runs: runs(4) }, { 'idempotency-key': 'k-full' })
  t.match(full, { statusCode: 429 })
  t.match(full.json(), { error: { status: 'RESOURCE_EXHAUSTED', message: /holds at most 3 runs/ } })
  t.equal(store.sizes.queued, 0, 'nothing queued')
  const fits = await post({ runs: runs(4) }, { 'idempotency-key': 'k-full' })
  t.equal(fits.statusCode, 429, 'the same request is refused again, not replayed')
  t.equal((await post({ runs: runs(2) }, { 'idempotency-key': 'k-fits' })).statusCode, 202)
})

t.test('a store failing part of the way: 502 with runMayHaveStarted, an ERROR audit line, and the key answers 409', async t => {
  store.failing = true
  t.teardown(() => { store.failing = false })
  const failed = await post({ runs: runs(1) }, { 'idempotency-key': 'k-unknown' })
  t.match(failed, { statusCode: 502 })
  t.match(failed.json(), { error: { status: 'UNAVAILABLE', runMayHaveStarted: true, message: /some of its runs may be queued/ } })
  t.notMatch(failed.body, /went away/, 'the store\'s own words stay in the log')
  const line = log.entries.find(entry => entry.runMayHaveStarted === true && entry.batch === undefined && entry.runs === 1)
  t.match(line, { severity: 'ERROR', message: /^batch of queued by .*: OUTCOME UNKNOWN \(UNAVAILABLE\), some runs may be queued/ })
  const again = await post({ runs: runs(1) }, { 'idempotency-key': 'k-unknown' })
  t.match(again.json(), { error: { status: 'ABORTED', runMayHaveStarted: true } })
})
