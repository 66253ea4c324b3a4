/** runOnce scenarios every store must pass; run by the memory and the Firestore test files. */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { ApiError } from '../../api/errors.js'
import { fingerprint, runOnce, type IdempotencyStore, type RunOnceOptions, type StoredResponse } from '../../api/idempotency/index.js'

export const accepted = (run: string): StoredResponse => ({
  statusCode: 202,
  headers: { location: `/v1/jobs/echo/runs/${run}` },
  body: { name: run, job: 'echo', state: 'PENDING', args: [['nested'], 'arrays'] }
})

/** A start() that counts its calls and can be held until released. */
export function fakeStart (outcome: () => Promise<StoredResponse> = async () => accepted('run-1')): {
  start: () => Promise<StoredResponse>
  calls: () => number
} {
  let calls = 0
  return { start: async () => { calls++; return await outcome() }, calls: () => calls }
}

export function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>(r => { resolve = r })
  return { promise, resolve }
}

export function optionsFor (body: unknown, overrides: Partial<RunOnceOptions> = {}): RunOnceOptions {
  return { key: `key-${randomUUID()}`, fingerprint: fingerprint(body), ttlMs: 60_000, waitMs: 10_000, staleMs: 120_000, ...overrides }
}

export function coordinatorSuite (t: Test, makeStore: () => IdempotencyStore): void {
  t.test('50 concurrent identical requests: one start, 50 identical responses', async t => {
    const store = makeStore()
    const options = optionsFor({ env: { A: '1' } })
    const { start, calls } = fakeStart(async () => { await sleep(50); return accepted('run-50') })
    const results = await Promise.all(Array.from({ length: 50 }, async () => await runOnce(store, options, start)))
    t.equal(calls(), 1)
    for (const result of results) t.same(result.response, accepted('run-50'))
    t.equal(results.filter(r => !r.replayed).length, 1, 'exactly one answered first-hand')
    t.equal(results.filter(r => r.replayed).length, 49)
  })

  t.test('the same key with a different body is 422', async t => {
    const store = makeStore()
    const options = optionsFor({ env: { A: '1' } })
    const { start, calls } = fakeStart()
    await runOnce(store, options, start)
    await t.rejects(runOnce(store, { ...options, fingerprint: fingerprint({ env: { A: '2' } }) }, start),
      { status: 'UNPROCESSABLE_ENTITY', httpCode: 422, message: /different request body/ })
    t.equal(calls(), 1)
    const replay = await runOnce(store, { ...options, fingerprint: fingerprint({ env: { A: '1' } }) }, start)
    t.ok(replay.replayed, 'the original body still replays')
  })

  t.test('unknown outcome keeps the key: repeats never start and are told a run may exist', async t => {
    const store = makeStore()
    const options = optionsFor({})
    const upstream = new ApiError('DEADLINE_EXCEEDED', 'Cloud Run did not answer in time', { runMayHaveStarted: true, retryAfterSeconds: 3 })
    const { start, calls } = fakeStart(async () => { throw upstream })
    await t.rejects(runOnce(store, options, start), upstream, 'the first caller gets the upstream error itself')
    const record = await store.get(options.key)
    t.equal(record?.state, 'unknown')
    t.same(record?.response, { statusCode: 504, headers: { 'retry-after': '3' }, body: upstream.toBody() })
    for (let i = 0; i < 2; i++) {
      await t.rejects(runOnce(store, options, start), {
        status: 'ABORTED', httpCode: 409, runMayHaveStarted: true, message: /failed with HTTP 504.*runs/
      })
    }
    t.equal(calls(), 1)
  })

  t.test('an unexpected error counts as unknown too, stored without its text', async t => {
    const store = makeStore()
    const options = optionsFor({})
    const { start, calls } = fakeStart(async () => { throw new TypeError('secret-ish detail') })
    await t.rejects(runOnce(store, options, start), TypeError)
    const record = await store.get(options.key)
    t.equal(record?.state, 'unknown')
    t.equal(record?.response?.statusCode, 500)
    t.notMatch(JSON.stringify(record?.response), /secret-ish/)
    await t.rejects(runOnce(store, options, start), { name: 'ApiError', status: 'ABORTED', runMayHaveStarted: true })
    t.equal(calls(), 1)
  })

  t.test('a proven failure releases the key: the retry starts again', async t => {
    const store = makeStore()
    const options = optionsFor({})
    let fail = true
    const { start, calls } = fakeStart(async () => {
      if (fail) throw new ApiError('UNAVAILABLE', 'connection refused', { runMayHaveStarted: false })
      return accepted('run-2')
    })
    await t.rejects(runOnce(store, options, start), { name: 'ApiError', status: 'UNAVAILABLE', runMayHaveStarted: false })
    t.equal(await store.get(options.key), undefined, 'key released')
    fail = false
    const retry = await runOnce(store, options, start)
    t.same(retry, { response: accepted('run-2'), replayed: false })
    t.equal(calls(), 2)
  })

  t.test('a repeat waits for the in-flight first request and gets its response', async t => {
    const store = makeStore()
    const options = optionsFor({})
    const gate = deferred()
    const { start, calls } = fakeStart(async () => { await gate.promise; return accepted('run-3') })
    const first = runOnce(store, options, start)
    await waitUntilClaimed(store, options.key)
    const repeat = runOnce(store, options, start)
    setTimeout(gate.resolve, 100)
    t.same(await repeat, { response: accepted('run-3'), replayed: true })
    t.same(await first, { response: accepted('run-3'), replayed: false })
    t.equal(calls(), 1)
  })

  t.test('a repeat that waits too long gets 409 ABORTED with Retry-After', async t => {
    const store = makeStore()
    const options = optionsFor({}, { waitMs: 150 })
    const gate = deferred()
    const { start, calls } = fakeStart(async () => { await gate.promise; return accepted('run-4') })
    const first = runOnce(store, options, start)
    await waitUntilClaimed(store, options.key)
    const began = performance.now()
    await t.rejects(runOnce(store, options, start), { name: 'ApiError', status: 'ABORTED', httpCode: 409, retryAfterSeconds: 5, message: /still in progress/ })
    t.ok(performance.now() - began >= 140, 'it waited about waitMs first')
    await t.rejects(runOnce(store, { ...options, waitMs: 0 }, start), { name: 'ApiError', status: 'ABORTED' }, 'waitMs 0 answers at once')
    gate.resolve()
    await first
    t.ok((await runOnce(store, options, start)).replayed, 'once finished, repeats replay')
    t.equal(calls(), 1)
  })

  t.test('a waiting repeat takes over when the first request proves nothing started', async t => {
    const store = makeStore()
    const options = optionsFor({})
    const gate = deferred()
    let attempt = 0
    const { start, calls } = fakeStart(async () => {
      if (++attempt === 1) {
        await gate.promise
        throw new ApiError('PERMISSION_DENIED', 'missing run.jobs.runWithOverrides')
      }
      return accepted('run-5')
    })
    const first = runOnce(store, options, start)
    await waitUntilClaimed(store, options.key)
    const repeat = runOnce(store, options, start)
    setTimeout(gate.resolve, 50)
    await t.rejects(first, { name: 'ApiError', status: 'PERMISSION_DENIED' })
    t.same(await repeat, { response: accepted('run-5'), replayed: false })
    t.equal(calls(), 2)
  })

  t.test('an in-progress record older than staleMs (a crashed attempt) is unknown, not re-run', async t => {
    const store = makeStore()
    const options = optionsFor({}, { staleMs: 30 })
    t.same(await store.claim(options.key, options.fingerprint, options.ttlMs), { claimed: true }, 'a claim whose process then died')
    await sleep(60)
    const { start, calls } = fakeStart()
    await t.rejects(runOnce(store, options, start), { name: 'ApiError', status: 'ABORTED', runMayHaveStarted: true, message: /interrupted/ })
    t.equal(calls(), 0)
  })

  t.test('after the TTL the key is forgotten and may start again', async t => {
    const store = makeStore()
    // Wide enough that a loaded machine repeats the request within the TTL.
    const options = optionsFor({}, { ttlMs: 2000 })
    const { start, calls } = fakeStart()
    await runOnce(store, options, start)
    t.ok((await runOnce(store, options, start)).replayed)
    await sleep(2100)
    t.equal(await store.get(options.key), undefined)
    t.same(await runOnce(store, options, start), { response: accepted('run-1'), replayed: false })
    t.equal(calls(), 2)
  })
}

/** Resolves once the first request has claimed `key` (it is then blocked inside start()). */
export async function waitUntilClaimed (store: IdempotencyStore, key: string): Promise<void> {
  while (await store.get(key) === undefined) await sleep(5)
}
