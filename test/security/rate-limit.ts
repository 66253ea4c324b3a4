import type { Test } from 'tap'
import { KEYS, apiKey, assertClientError, json, type Stack } from './stack.js'

/** The per-principal run budget. The stack runs with jobgate's default limit (60), and ops has started nothing yet. */
export function rateLimitTests (t: Test, stack: Stack): void {
  const start = async (key: string, body: unknown = {}) =>
    await stack.app.inject({ method: 'POST', url: '/v1/jobs/burst/runs', headers: { ...json, ...apiKey(key) }, payload: JSON.stringify(body) })

  let nextId = 0
  /** One run start by `key` through `trigger`: REST, a Cloud Tasks task or a Pub/Sub push, each with a fresh id. */
  const startVia = async (trigger: 'rest' | 'tasks' | 'pubsub', key: string) => {
    const id = `m-${nextId++}`
    if (trigger === 'rest') return await start(key)
    if (trigger === 'tasks') {
      return await stack.app.inject({ method: 'POST', url: '/v1/push/tasks/burst', headers: { ...json, ...apiKey(key), 'x-cloudtasks-queuename': 'q', 'x-cloudtasks-taskname': id }, payload: '{}' })
    }
    const envelope = { subscription: 'projects/sec-project/subscriptions/burst', message: { messageId: id, publishTime: '2026-11-23T10:00:00Z' } }
    return await stack.app.inject({ method: 'POST', url: '/v1/push/pubsub/burst', headers: { ...json, ...apiKey(key) }, payload: JSON.stringify(envelope) })
  }

  t.test('one budget per principal across REST, Cloud Tasks and Pub/Sub: the 61st run within a minute, by any trigger, is a 429', async t => {
    const callsBefore = stack.runCalls().length
    const began = Date.now()
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) {
      for (const trigger of ['rest', 'tasks', 'pubsub'] as const) statuses.push((await startVia(trigger, KEYS.ops)).statusCode)
    }
    t.same([...new Set(statuses)].sort(), [200, 202], '60 runs started, 20 by each trigger')
    t.ok(Date.now() - began < 60_000, 'all within the minute')

    for (const trigger of ['rest', 'tasks', 'pubsub'] as const) {
      const limited = await startVia(trigger, KEYS.ops)
      assertClientError(t, limited, `the next one via ${trigger}`, 429)
      t.equal(JSON.parse(limited.body).error.status, 'RESOURCE_EXHAUSTED')
      t.match(JSON.parse(limited.body).error.message, /at most 60 runs per minute/)
      const retryAfter = Number(limited.headers['retry-after'])
      t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${String(limited.headers['retry-after'])} s`)
    }
    t.equal(stack.runCalls().length - callsBefore, 60, 'the limited requests never reached Cloud Run')

    const other = await start(KEYS.ci)
    t.equal(other.statusCode, 202, 'ci has its own budget')
    t.equal(stack.runCalls().length - callsBefore, 61)
    const reads = await stack.app.inject({ method: 'GET', url: '/v1/jobs/burst/runs?pageSize=5', headers: apiKey(KEYS.ops) })
    t.equal(reads.statusCode, 200, 'reads have a budget of their own')
  })
}
