import t from 'tap'
import { ApiError } from '../../api/errors.js'
import { MemoryStore, runOnce, type IdempotencyStore } from '../../api/idempotency/index.js'
import { accepted, coordinatorSuite, fakeStart, optionsFor } from './coordinator-suite.js'

t.test('runOnce with the memory store', async t => {
  coordinatorSuite(t, () => new MemoryStore())
})

/** A clock the test moves by hand. */
function manualClock (start = 1_000_000): { now: () => number, advance: (ms: number) => void } {
  let time = start
  return { now: () => time, advance: ms => { time += ms } }
}

t.test('records expire after their TTL and may be claimed again', async t => {
  const clock = manualClock()
  const store = new MemoryStore({ now: clock.now })
  t.same(await store.claim('k', 'f1', 1000), { claimed: true })
  const second = await store.claim('k', 'f2', 1000)
  t.same(second, { claimed: false, record: { state: 'in_progress', fingerprint: 'f1', claimedAt: 1_000_000, expiresAt: 1_001_000 } })
  clock.advance(999)
  t.equal((await store.get('k'))?.fingerprint, 'f1')
  clock.advance(1)
  t.equal(await store.get('k'), undefined, 'expired at expiresAt')
  t.same(await store.claim('k', 'f2', 1000), { claimed: true }, 'an expired record is taken over')
  t.equal((await store.get('k'))?.fingerprint, 'f2')
})

t.test('the default TTL of runOnce callers is honoured with a fake clock (24 h)', async t => {
  const clock = manualClock()
  const store = new MemoryStore({ now: clock.now })
  const options = optionsFor({}, { ttlMs: 24 * 3600_000, now: clock.now })
  const { start, calls } = fakeStart()
  await runOnce(store, options, start)
  clock.advance(24 * 3600_000 - 1)
  t.ok((await runOnce(store, options, start)).replayed, 'still remembered just before 24 h')
  clock.advance(1)
  t.notOk((await runOnce(store, options, start)).replayed, 'forgotten at 24 h')
  t.equal(calls(), 2)
})

t.test('staleness is measured with the injected clock', async t => {
  const clock = manualClock()
  const store = new MemoryStore({ now: clock.now })
  const options = optionsFor({}, { ttlMs: 3600_000, staleMs: 120_000, waitMs: 0, now: clock.now })
  await store.claim(options.key, options.fingerprint, options.ttlMs)
  const { start, calls } = fakeStart()
  await t.rejects(runOnce(store, options, start), { name: 'ApiError', status: 'ABORTED', retryAfterSeconds: 5 }, 'fresh: still in progress')
  clock.advance(120_000)
  await t.rejects(runOnce(store, options, start), { name: 'ApiError', status: 'ABORTED', runMayHaveStarted: true }, 'after 2 min: unknown')
  t.equal(calls(), 0)
})

t.test('size is bounded: expired records go first, then the oldest', async t => {
  const clock = manualClock()
  const store = new MemoryStore({ maxEntries: 3, now: clock.now })
  await store.claim('short', 'f', 100)
  await store.claim('a', 'f', 10_000)
  await store.claim('b', 'f', 10_000)
  clock.advance(100)
  await store.claim('c', 'f', 10_000)
  t.equal(store.size, 3)
  t.equal(await store.get('short'), undefined, 'the expired record made room')
  t.ok(await store.get('a'), 'live records kept while an expired one could go')
  await store.claim('d', 'f', 10_000)
  t.equal(store.size, 3)
  t.equal(await store.get('a'), undefined, 'then the oldest live record goes')
  for (const key of ['b', 'c', 'd']) t.ok(await store.get(key), `${key} kept`)
  await store.finish('a', 'done', accepted('gone'))
  t.equal(await store.get('a'), undefined, 'finishing an evicted key stores nothing')
})

t.test('stays bounded under many distinct keys', async t => {
  const store = new MemoryStore({ maxEntries: 100 })
  for (let i = 0; i < 1000; i++) await store.claim(`key-${i}`, 'f', 60_000)
  t.equal(store.size, 100)
  t.ok(await store.get('key-999'))
  t.equal(await store.get('key-899'), undefined)
})

t.test('defaults and bad bounds', async t => {
  t.equal(new MemoryStore().maxEntries, 10_000)
  t.throws(() => new MemoryStore({ maxEntries: 0 }), RangeError)
  t.throws(() => new MemoryStore({ maxEntries: 1.5 }), RangeError)
})

t.test('stored records are copies: callers cannot change them', async t => {
  const store = new MemoryStore()
  await store.claim('k', 'f', 60_000)
  const response = accepted('run-c')
  await store.finish('k', 'done', response)
  ;(response.body as { name: string }).name = 'changed'
  const record = await store.get('k')
  t.equal((record?.response?.body as { name: string }).name, 'run-c')
  ;(record?.response?.body as { name: string }).name = 'changed again'
  t.equal(((await store.get('k'))?.response?.body as { name: string }).name, 'run-c')
  await store.release('k')
  t.equal(await store.get('k'), undefined)
})

/** A store whose every operation can be made to fail. */
function brokenStore (base: IdempotencyStore, broken: Set<keyof IdempotencyStore>): IdempotencyStore {
  const fail = async (): Promise<never> => { throw new Error('store down') }
  return {
    claim: broken.has('claim') ? fail : base.claim.bind(base),
    get: broken.has('get') ? fail : base.get.bind(base),
    finish: broken.has('finish') ? fail : base.finish.bind(base),
    release: broken.has('release') ? fail : base.release.bind(base)
  }
}

t.test('a store that cannot be reached: 503 with Retry-After, nothing started', async t => {
  const { start, calls } = fakeStart()
  const store = brokenStore(new MemoryStore(), new Set(['claim']))
  await t.rejects(runOnce(store, optionsFor({}), start), { name: 'ApiError', status: 'UNAVAILABLE', httpCode: 503, retryAfterSeconds: 1, runMayHaveStarted: false })
  t.equal(calls(), 0)

  const memory = new MemoryStore()
  const options = optionsFor({})
  await memory.claim(options.key, options.fingerprint, options.ttlMs)
  await t.rejects(runOnce(brokenStore(memory, new Set(['get'])), options, start), { name: 'ApiError', httpCode: 503 }, 'also while waiting')
})

t.test('failing to record an outcome is reported, and the caller still gets its answer', async t => {
  const reported: string[] = []
  const onStoreError = (err: unknown, operation: string): void => { reported.push(`${operation}: ${(err as Error).message}`) }
  const store = brokenStore(new MemoryStore(), new Set(['finish', 'release']))
  const ok = fakeStart()
  t.same(await runOnce(store, optionsFor({}, { onStoreError }), ok.start), { response: accepted('run-1'), replayed: false })
  const proven = fakeStart(async () => { throw new ApiError('NOT_FOUND', 'no such job') })
  await t.rejects(runOnce(store, optionsFor({}, { onStoreError }), proven.start), { name: 'ApiError', status: 'NOT_FOUND' })
  const unknown = fakeStart(async () => { throw new ApiError('UNAVAILABLE', 'reset', { runMayHaveStarted: true }) })
  await t.rejects(runOnce(store, optionsFor({}, { onStoreError }), unknown.start), { name: 'ApiError', status: 'UNAVAILABLE' })
  t.same(reported, ['finish: store down', 'release: store down', 'finish: store down'])
  await t.rejects(runOnce(store, optionsFor({}), unknown.start), { name: 'ApiError', status: 'UNAVAILABLE' }, 'no reporter: still answers')
})

t.test('a done record without a response is treated as unknown', async t => {
  const memory = new MemoryStore()
  const options = optionsFor({})
  const store: IdempotencyStore = {
    ...brokenStore(memory, new Set()),
    claim: async () => ({ claimed: false, record: { state: 'done', fingerprint: options.fingerprint, claimedAt: Date.now(), expiresAt: Date.now() + 1000 } })
  }
  await t.rejects(runOnce(store, options, fakeStart().start), { name: 'ApiError', status: 'ABORTED', runMayHaveStarted: true })
})
