import type { Test } from 'tap'
import { KEYS, apiKey, assertClientError, json, type Stack } from './stack.js'

/** The per-principal run budget. The stack runs with jobgate's default limit (60), and ops has started nothing yet. */
export function rateLimitTests (t: Test, stack: Stack): void {
  const start = async (key: string, body: unknown = {}) =>
    await stack.app.inject({ method: 'POST', url: '/v1/jobs/burst/runs', headers: { ...json, ...apiKey(key) }, payload: JSON.stringify(body) })

  t.test('the 61st run within a minute by one principal is a 429 with Retry-After; another principal is unaffected', async t => {
    const callsBefore = stack.runCalls().length
    const began = Date.now()
    const statuses: number[] = []
    for (let i = 0; i < 60; i++) statuses.push((await start(KEYS.ops)).statusCode)
    t.same([...new Set(statuses)], [202], '60 runs started')
    t.ok(Date.now() - began < 60_000, 'all within the minute')

    const limited = await start(KEYS.ops, { taskCount: 1 })
    assertClientError(t, limited, 'the 61st', 429)
    t.equal(JSON.parse(limited.body).error.status, 'RESOURCE_EXHAUSTED')
    t.match(JSON.parse(limited.body).error.message, /at most 60 runs per minute/)
    const retryAfter = Number(limited.headers['retry-after'])
    t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${String(limited.headers['retry-after'])} s`)
    assertClientError(t, await start(KEYS.ops), 'the 62nd', 429)
    t.equal(stack.runCalls().length - callsBefore, 60, 'the limited requests never reached Cloud Run')

    const other = await start(KEYS.ci)
    t.equal(other.statusCode, 202, 'ci has its own budget')
    t.equal(stack.runCalls().length - callsBefore, 61)
    const reads = await stack.app.inject({ method: 'GET', url: '/v1/jobs/burst/runs?pageSize=5', headers: apiKey(KEYS.ops) })
    t.equal(reads.statusCode, 200, 'reads are not rate limited')
  })
}
