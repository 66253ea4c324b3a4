/** The Pub/Sub push route over a real socket, envelopes posted directly: validation, filter, mapping, dedup, backpressure. */
import t from 'tap'
import { call } from '../helpers/call.js'
import { build } from '../helper.js'
import { auditLines, captureLogs } from '../helpers/log-capture.js'
import { executionEnv, RUN_PATH, runCalls } from './helpers.js'
import { gcsNotification } from './pubsub-rest.js'

const logs = captureLogs()
const catalog = {
  jobs: {
    echo: {
      pubsub: {
        env: { BUCKET: '{attributes.bucketId}', OBJECT: '{attributes.objectId}', GENERATION: '{data.generation}' },
        args: ['process', 'gs://{attributes.bucketId}/{attributes.objectId}'],
        filter: { eventType: ['OBJECT_FINALIZE', 'OBJECT_METADATA_UPDATE'], payloadFormat: 'JSON_API_V1' }
      }
    },
    strict: { env: { allow: ['OBJECT'] }, pubsub: { env: { BUCKET: '{attributes.bucketId}' } } },
    bare: { pubsub: {} },
    plain: {}
  }
}
const stack = await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify(catalog), JOBGATE_RATE_LIMIT: '100000', JOBGATE_MAX_INFLIGHT_RUNS: '2', JOBGATE_IDEMPOTENCY_WAIT_SECONDS: '0' }, services: { logger: logs.logger }, listen: true })
const SUBSCRIPTION = 'projects/jobgate-test/subscriptions/push-test'
let nextId = 1000

/** A push envelope exactly as Pub/Sub sends it, including the fields jobgate does not read. */
function envelope (message: { data?: unknown, attributes?: Record<string, string> }, extra: Record<string, unknown> = {}): any {
  const messageId = String(nextId++)
  const publishTime = '2026-11-23T10:00:00.123456789Z'
  return {
    message: {
      ...(message.attributes !== undefined && { attributes: message.attributes }),
      data: message.data === undefined ? '' : Buffer.from(typeof message.data === 'string' ? message.data : JSON.stringify(message.data)).toString('base64'),
      messageId,
      message_id: messageId,
      publishTime,
      publish_time: publishTime,
      orderingKey: ''
    },
    subscription: SUBSCRIPTION,
    ...extra
  }
}
const push = async (body: unknown, job = 'echo'): Promise<any> => await call(`${stack.url}/v1/push/pubsub/${job}`, { body })
const finalize = (name: string): ReturnType<typeof gcsNotification> => gcsNotification('OBJECT_FINALIZE', 'landing', name, 42)

t.test('a notification starts one run with env and args from its attributes and JSON data; 200 + Location', async t => {
  const before = runCalls(stack.emulator)
  const body = envelope(finalize('in/a.csv'), { deliveryAttempt: 1, someFutureField: { x: 1 } })
  const res = await push(body)
  t.equal(res.status, 200, 'Pub/Sub acknowledges 200')
  t.equal(res.headers.get('location'), `/v1/jobs/echo/runs/${res.body.name as string}`)
  t.equal(runCalls(stack.emulator) - before, 1)
  const execution = stack.emulator.executions(undefined, 'echo').find(e => e.metadata.name === res.body.name)
  t.ok(execution)
  if (execution === undefined) return
  t.match(executionEnv(execution), { BUCKET: 'landing', OBJECT: 'in/a.csv', GENERATION: '1700000000000042' })
  t.same(execution.spec.template.spec.containers[0]?.args, ['process', 'gs://landing/in/a.csv'])

  const audit = auditLines(logs.lines).find(line => line.execution === res.body.name)
  t.match(audit, { trigger: 'pubsub', outcome: 'started', idempotencyKey: `${SUBSCRIPTION}/messages/${body.message.messageId as string}`, event: { subscription: SUBSCRIPTION, messageId: body.message.messageId, deliveryAttempt: 1 } })
  t.same(audit.envNames.sort(), ['BUCKET', 'GENERATION', 'OBJECT'])
})

t.test('a redelivered message is a replay: 200, Idempotency-Replayed, no new run; another subscription is another message', async t => {
  const body = envelope(finalize('in/b.csv'))
  const first = await push(body)
  const before = runCalls(stack.emulator)
  const again = await push({ ...body, deliveryAttempt: 2 })
  t.equal(again.status, 200)
  t.equal(again.headers.get('idempotency-replayed'), 'true')
  t.equal(again.body.name, first.body.name)
  t.equal(runCalls(stack.emulator), before)
  const other = await push({ ...body, subscription: 'projects/jobgate-test/subscriptions/another' })
  t.equal(other.status, 200)
  t.not(other.body.name, first.body.name, 'dedup is per subscription and message id')
})

t.test('a message the filter rejects is acknowledged with 204, logged, and starts nothing', async t => {
  const before = runCalls(stack.emulator)
  const deleted = await push(envelope(gcsNotification('OBJECT_DELETE', 'landing', 'in/c.csv', 1)))
  t.equal(deleted.status, 204)
  t.equal(deleted.body, undefined)
  const missing = await push(envelope({ attributes: { eventType: 'OBJECT_FINALIZE' } }))
  t.equal(missing.status, 204, 'a filter attribute that is absent does not match')
  t.equal(runCalls(stack.emulator), before)
  const reasons = logs.lines.filter(line => line.filtered !== undefined).map(line => line.filtered)
  t.match(reasons, [/attribute eventType=OBJECT_DELETE \(filter accepts OBJECT_FINALIZE, OBJECT_METADATA_UPDATE\)/, /attribute "payloadFormat" is absent/])
})

t.test('a message that cannot be mapped is refused with 400 (Pub/Sub retries, then dead-letters it) and logged with the reason', async t => {
  const before = runCalls(stack.emulator)
  const noObject = finalize('x')
  delete (noObject.attributes as Record<string, string | undefined>).objectId
  const cases: Array<[unknown, RegExp]> = [
    [envelope(noObject), /\{attributes\.objectId\}: the message has no attribute "objectId"/],
    [envelope({ attributes: finalize('y').attributes, data: 'not json' }), /\{data\.generation\}: the message data is not strict JSON \(not valid JSON/],
    // Issue 10: data is parsed strictly, as docs/security.md says (JSON.parse kept the last of two keys and took __proto__).
    [envelope({ attributes: finalize('y').attributes, data: '{"generation":"1","generation":"2"}' }), /the message data is not strict JSON \(generation: duplicate key\)/],
    [envelope({ attributes: finalize('y').attributes, data: '{"generation":"1","__proto__":{"polluted":"yes"}}' }), /the message data is not strict JSON \(__proto__/],
    [envelope({ attributes: finalize('y').attributes, data: '{"generation":"1","x":{"constructor":{}}}' }), /the message data is not strict JSON \(x\.constructor/],
    [envelope({ attributes: finalize('y').attributes }), /\{data\.generation\}: the message has no data/],
    [envelope({ attributes: finalize('y').attributes, data: { generation: { nested: 1 } } }), /is an object or array, not a value/],
    [envelope({ attributes: finalize('y').attributes, data: [1, 2] }), /JSON but not an object/],
    [envelope({ attributes: finalize('y').attributes, data: { other: 1 } }), /the message data has no such field/]
  ]
  for (const [body, reason] of cases) {
    const res = await push(body)
    t.equal(res.status, 400)
    t.equal(res.body.error.status, 'INVALID_ARGUMENT')
    t.match(res.body.error.message, reason)
  }
  t.equal(runCalls(stack.emulator), before)
  t.equal(logs.lines.filter(line => line.mappingError !== undefined).length, cases.length, 'each logged with its reason')
})

t.test('the run request goes through the job\'s policy like a REST request', async t => {
  const res = await push(envelope(finalize('z')), 'strict')
  t.equal(res.status, 400)
  t.match(res.body.error.message, /env\.BUCKET: not allowed for job "strict"/)
  const plain = await push(envelope(finalize('z')), 'plain')
  t.equal(plain.status, 400)
  t.equal(plain.body.error.status, 'FAILED_PRECONDITION')
  t.match(plain.body.error.message, /job "plain" has no "pubsub" mapping/)
  const unknown = await push(envelope(finalize('z')), 'nope')
  t.equal(unknown.status, 404)
})

t.test('the envelope is validated strictly', async t => {
  const good = envelope(finalize('v'))
  const broken: Array<[unknown, RegExp]> = [
    [{ ...good, subscription: 'not-a-subscription' }, /subscription/],
    [{ subscription: SUBSCRIPTION }, /message/],
    [{ ...good, message: { ...good.message, messageId: undefined } }, /messageId/],
    [{ ...good, message: { ...good.message, data: 'not base64!' } }, /message\.data/],
    [{ ...good, message: { ...good.message, publishTime: 'yesterday' } }, /message\.publishTime/],
    [{ ...good, message: { ...good.message, attributes: { a: 1 } } }, /message\.attributes\.a/],
    [{ ...good, deliveryAttempt: 0 }, /deliveryAttempt/]
  ]
  for (const [body, field] of broken) {
    const res = await push(body)
    t.equal(res.status, 400, JSON.stringify(res.body))
    t.match(res.body.error.message, field)
  }
})

t.test('upstream 429 or 503 and local overload answer 429/503 with Retry-After, so Pub/Sub redelivers', async t => {
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { status: 429, headers: { 'retry-after': '20' } })
  const limited = await push(envelope(finalize('rate.csv')))
  t.equal(limited.status, 429)
  t.equal(limited.headers.get('retry-after'), '20')

  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { status: 503, count: 3 })
  const body = envelope(finalize('down.csv'))
  const down = await push(body)
  t.equal(down.status, 503)
  t.equal(down.body.error.status, 'UNAVAILABLE')
  t.equal(down.body.error.runMayHaveStarted, false)
  t.equal(down.headers.get('retry-after'), '10', 'a default pause when Cloud Run named none')
  const redelivered = await push(body)
  t.equal(redelivered.status, 200, 'the key was released: the redelivery starts the run')
})

t.test('backpressure: with JOBGATE_MAX_INFLIGHT_RUNS=2 and Cloud Run slow, the third concurrent start gets 429 + Retry-After', async t => {
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { delayMs: 800, count: 2 })
  const before = runCalls(stack.emulator)
  const slow = [
    call(`${stack.url}/v1/jobs/echo/runs`, { body: { env: { A: '1' } } }),
    call(`${stack.url}/v1/jobs/echo/runs`, { body: { env: { A: '2' } } })
  ]
  while (runCalls(stack.emulator) - before < 2) await new Promise(resolve => setTimeout(resolve, 10))
  const third = await call(`${stack.url}/v1/jobs/echo/runs`, { body: { env: { A: '3' } } })
  t.equal(third.status, 429)
  t.equal(third.body.error.status, 'RESOURCE_EXHAUSTED')
  t.equal(third.headers.get('retry-after'), '1')
  const body = envelope(finalize('burst.csv'))
  const pushed = await push(body)
  t.equal(pushed.status, 429, 'a push gets 429 too: Pub/Sub redelivers')
  t.ok(pushed.headers.get('retry-after'))
  t.same((await Promise.all(slow)).map(r => r.status), [202, 202])
  t.equal(runCalls(stack.emulator) - before, 2, 'the refused requests never reached Cloud Run')
  const redelivered = await push(body)
  t.equal(redelivered.status, 200, 'the redelivery after the burst starts the run (the key was released)')
})

t.test('unknown outcome: non-2xx and logged loudly; redeliveries get 409 and start nothing', async t => {
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { status: 500 })
  const body = envelope(finalize('unknown.csv'))
  const before = runCalls(stack.emulator)
  const first = await push(body)
  t.equal(first.status, 502)
  t.equal(first.body.error.runMayHaveStarted, true)
  const again = await push(body)
  t.equal(again.status, 409)
  t.equal(again.body.error.runMayHaveStarted, true)
  t.equal(runCalls(stack.emulator) - before, 1)
  const loud = logs.lines.filter(line => line.severity === 'ERROR' && line.pubsub?.messageId === body.message.messageId)
  t.ok(loud.some(line => /OUTCOME UNKNOWN.*Operator: check the job's runs/.test(line.message)), 'the operator is told what to do')
  t.ok(loud.length >= 3, 'the first delivery and the redelivery are both logged as errors')
})

t.test('a message with neither data nor attributes, for a job whose mapping reads neither, starts a run without overrides', async t => {
  const body = { message: { messageId: String(nextId++), publishTime: '2026-11-23T10:00:00Z' }, subscription: SUBSCRIPTION }
  const res = await push(body, 'bare')
  t.equal(res.status, 200)
  t.equal(res.body.job, 'bare')
})

t.test('a redelivery while the first delivery is still starting the run gets 409 + Retry-After, then the replay', async t => {
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { delayMs: 600 })
  const before = runCalls(stack.emulator)
  const body = envelope(finalize('slow.csv'))
  const first = push(body)
  while (runCalls(stack.emulator) === before) await new Promise(resolve => setTimeout(resolve, 10))
  const early = await push(body)
  t.equal(early.status, 409, 'JOBGATE_IDEMPOTENCY_WAIT_SECONDS=0: no waiting for the first')
  t.equal(early.body.error.status, 'ABORTED')
  t.equal(early.headers.get('retry-after'), '5')
  t.equal((await first).status, 200)
  const late = await push(body)
  t.equal(late.status, 200)
  t.equal(late.headers.get('idempotency-replayed'), 'true')
  t.equal(runCalls(stack.emulator) - before, 1)
  t.ok(logs.lines.some(line => line.pubsub?.messageId === body.message.messageId && /still starting the run/.test(line.message)))
})
