/** Idempotency-Key through the real route: API over a real socket → production client → Cloud Run emulator. */
import t from 'tap'
import { hashApiKey } from '../../api/auth/index.js'
import { call } from '../helpers/call.js'
import { build } from '../helper.js'
import { auditLines, captureLogs } from '../helpers/log-capture.js'
import { RUN_PATH, runCalls } from './helpers.js'

const logs = captureLogs()
const stack = await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_RATE_LIMIT: '100000' }, services: { logger: logs.logger }, listen: true })
const runs = `${stack.url}/v1/jobs/echo/runs`
const post = async (key: string | undefined, body?: unknown): Promise<Awaited<ReturnType<typeof call>>> =>
  await call(runs, { method: 'POST', ...(body !== undefined && { body }), headers: key === undefined ? {} : { 'idempotency-key': key } })

t.test('50 concurrent identical requests with one key: one upstream run, 50 identical responses', async t => {
  // The first request is held upstream for a while, so the other 49 arrive while it is in flight.
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { delayMs: 400 })
  const before = runCalls(stack.emulator)
  const body = { args: ['report'], env: { REPORT_DATE: '2026-11-23' } }
  const started = performance.now()
  const responses = await Promise.all(Array.from({ length: 50 }, async () => await post('burst-key', body)))
  t.comment(`50 requests answered in ${Math.round(performance.now() - started)} ms`)
  t.equal(runCalls(stack.emulator) - before, 1, 'exactly one jobs.run reached Cloud Run')
  const [first] = responses
  for (const response of responses) {
    t.equal(response.status, 202)
    t.same(response.body, first?.body, 'same body')
    t.equal(response.headers.get('location'), `/v1/jobs/echo/runs/${first?.body.name as string}`)
  }
  t.equal(responses.filter(r => r.headers.get('idempotency-replayed') === 'true').length, 49, '49 replays, marked')
  t.equal(stack.emulator.executions(undefined, 'echo').filter(e => e.metadata.name === first?.body.name).length, 1)

  const audit = auditLines(logs.lines).filter(line => line.idempotencyKey === 'burst-key')
  t.same(audit.map(line => line.outcome).sort(), ['started', ...Array(49).fill('replayed')].sort(), 'the audit line carries the key')

  const later = await post('burst-key', { env: { REPORT_DATE: '2026-11-23' }, args: ['report'] })
  t.equal(later.status, 202, 'a later repeat (keys in another order) replays too')
  t.equal(later.headers.get('idempotency-replayed'), 'true')
  t.equal(runCalls(stack.emulator) - before, 1)
})

t.test('the same key with a different body is 422 and starts nothing', async t => {
  const first = await post('body-key', { env: { A: '1' } })
  t.equal(first.status, 202)
  const before = runCalls(stack.emulator)
  const other = await post('body-key', { env: { A: '2' } })
  t.equal(other.status, 422)
  t.equal(other.body.error.status, 'UNPROCESSABLE_ENTITY')
  t.match(other.body.error.message, /different request body/)
  t.equal(runCalls(stack.emulator), before)
})

t.test('a bad Idempotency-Key is 400 and starts nothing', async t => {
  const before = runCalls(stack.emulator)
  const long = await post('k'.repeat(256), {})
  t.equal(long.status, 400)
  t.match(long.body.error.message, /Idempotency-Key: must be 1 to 255 printable ASCII characters/)
  t.equal(runCalls(stack.emulator), before)
})

t.test('unknown outcome (Cloud Run answers 500): the key stays taken, a repeat is 409 and starts nothing', async t => {
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { status: 500 })
  const before = runCalls(stack.emulator)
  const first = await post('unknown-key', { env: { A: 'x' } })
  t.equal(first.status, 502)
  t.equal(first.body.error.runMayHaveStarted, true, 'the answer says a run may have started')
  t.equal(runCalls(stack.emulator) - before, 1, '500 is not retried: the call may have been processed')

  const repeat = await post('unknown-key', { env: { A: 'x' } })
  t.equal(repeat.status, 409)
  t.equal(repeat.body.error.status, 'ABORTED')
  t.equal(repeat.body.error.runMayHaveStarted, true)
  t.match(repeat.body.error.message, /failed with HTTP 502 and a run may have started/)
  t.equal(runCalls(stack.emulator) - before, 1, 'the repeat never reached Cloud Run')
  const unknown = auditLines(logs.lines).find(line => line.idempotencyKey === 'unknown-key' && line.outcome === 'UNAVAILABLE')
  t.equal(unknown?.severity, 'ERROR', 'an unknown outcome is logged as an error')
  t.equal(unknown?.runMayHaveStarted, true)
})

t.test('proven failure (Cloud Run 503 UNAVAILABLE on every try): the key is released, a retry starts the run', async t => {
  // jobs.run is retried twice on a 503 UNAVAILABLE (it proves nothing started): fail all three attempts.
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { status: 503, count: 3 })
  const before = runCalls(stack.emulator)
  const first = await post('released-key', { env: { A: 'y' } })
  t.equal(first.status, 502)
  t.equal(first.body.error.runMayHaveStarted, false)
  t.equal(runCalls(stack.emulator) - before, 3)

  const retry = await post('released-key', { env: { A: 'y' } })
  t.equal(retry.status, 202)
  t.equal(retry.headers.get('idempotency-replayed'), null, 'a fresh start, not a replay')
  t.equal(runCalls(stack.emulator) - before, 4)
  const again = await post('released-key', { env: { A: 'y' } })
  t.equal(again.headers.get('idempotency-replayed'), 'true')
  t.equal(again.body.name, retry.body.name)
})

t.test('keys are scoped per principal and per job', async t => {
  const keyA = 'key-of-ci-a'
  const keyB = 'key-of-ci-b'
  const scoped = await build(t, {
    listen: true,
    env: {
      JOBGATE_MODE: 'local',
      JOBGATE_AUTH: 'apikey',
      JOBGATE_API_KEYS: JSON.stringify({ keys: [{ sha256: hashApiKey(keyA), principal: 'ci-a' }, { sha256: hashApiKey(keyB), principal: 'ci-b' }] }),
      JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { principals: ['ci-a', 'ci-b'] }, other: { principals: ['ci-a'] } } })
    }
  })
  const send = async (apiKey: string, job: string): Promise<any> =>
    await call(`${scoped.url}/v1/jobs/${job}/runs`, { body: {}, headers: { 'x-api-key': apiKey, 'idempotency-key': 'shared' } })
  const a1 = await send(keyA, 'echo')
  const b1 = await send(keyB, 'echo')
  const a2 = await send(keyA, 'other')
  const a3 = await send(keyA, 'echo')
  t.equal(a1.status, 202)
  t.equal(b1.status, 202)
  t.not(b1.body.name, a1.body.name, 'another principal with the same key gets its own run')
  t.not(a2.body.name, a1.body.name, 'the same principal and key on another job gets its own run')
  t.equal(a3.body.name, a1.body.name, 'the same principal, job and key replays')
  t.equal(runCalls(scoped.emulator), 3)
})

t.test('keys are scoped per principal AND tenant: two tenants sharing a principal name never replay each other\'s run (issue 10)', async t => {
  const acmeKey = 'key-of-acme'
  const globexKey = 'key-of-globex'
  const shared = await build(t, {
    listen: true,
    env: {
      JOBGATE_MODE: 'local',
      JOBGATE_AUTH: 'apikey',
      JOBGATE_API_KEYS: JSON.stringify({ keys: [{ sha256: hashApiKey(acmeKey), principal: 'ci', tenant: 'acme' }, { sha256: hashApiKey(globexKey), principal: 'ci', tenant: 'globex' }] }),
      JOBGATE_JOBS: JSON.stringify({ jobs: { reports: { job: 'echo', env: { tenantKey: 'TENANT_ID' }, principals: ['ci'] } } })
    }
  })
  const send = async (apiKey: string): Promise<any> =>
    await call(`${shared.url}/v1/jobs/reports/runs`, { body: {}, headers: { 'x-api-key': apiKey, 'idempotency-key': 'nightly-2026-11-23' } })
  const acme = await send(acmeKey)
  const globex = await send(globexKey)
  t.equal(acme.status, 202)
  t.equal(globex.status, 202, 'globex starts its own run')
  t.equal(globex.headers.get('idempotency-replayed'), null, 'not a replay of acme\'s')
  t.not(globex.body.name, acme.body.name)
  t.equal((await send(acmeKey)).body.name, acme.body.name, 'acme\'s repeat still replays acme\'s run')
  t.equal(runCalls(shared.emulator), 2)
})

t.test('the trigger is part of the scope: a REST Idempotency-Key equal to a Cloud Tasks or Pub/Sub key starts a separate run', async t => {
  const stack = await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_RATE_LIMIT: '100000', JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { pubsub: {} } } }) }, listen: true })
  const before = runCalls(stack.emulator)
  const rest = async (key: string): Promise<any> => await call(`${stack.url}/v1/jobs/echo/runs`, { body: {}, headers: { 'idempotency-key': key } })

  const task = await call(`${stack.url}/v1/push/tasks/echo`, { body: {}, headers: { 'x-cloudtasks-queuename': 'nightly', 'x-cloudtasks-taskname': 't-1' } })
  const restTask = await rest('queues/nightly/tasks/t-1')
  t.equal(task.status, 200, JSON.stringify(task.body))
  t.equal(restTask.status, 202, JSON.stringify(restTask.body))
  t.equal(restTask.headers.get('idempotency-replayed'), null)
  t.not(restTask.body.name, task.body.name, 'same principal, job and key text, other trigger: two runs')

  const subscription = 'projects/local-project/subscriptions/reports'
  const restMessage = await rest(`${subscription}/messages/m-1`)
  const message = await call(`${stack.url}/v1/push/pubsub/echo`, { body: { subscription, message: { messageId: 'm-1', publishTime: '2026-11-23T10:00:00Z' } } })
  t.equal(restMessage.status, 202, JSON.stringify(restMessage.body))
  t.equal(message.status, 200, JSON.stringify(message.body))
  t.not(message.body.name, restMessage.body.name, 'a Pub/Sub message id equal to a REST key: two runs')
  t.equal(runCalls(stack.emulator) - before, 4, 'four requests, four runs')
})
