/**
 * End to end with the real Pub/Sub emulator: GCS-style notifications → push subscription → jobgate
 * (local mode, real socket) → Cloud Run emulator → the echo job as child processes.
 */
import t from 'tap'
import { startPubsubEmulator } from '../helpers/gcloud-emulators.js'
import { build } from '../helper.js'
import { auditLines, captureLogs } from '../helpers/log-capture.js'
import { executionEnv, RUN_PATH, runCalls, until } from './helpers.js'
import { gcsNotification, pubsubRest } from './pubsub-rest.js'

t.setTimeout(180_000)

const pubsub = await startPubsubEmulator(t)
t.comment(`Pub/Sub emulator ready in ${pubsub.startupMs} ms`)
const logs = captureLogs('debug') // debug: the access lines count the push deliveries
const catalog = {
  jobs: {
    echo: {
      pubsub: {
        env: { BUCKET: '{attributes.bucketId}', OBJECT: '{attributes.objectId}', OBJECT_SIZE: '{data.size}', MESSAGE_ID: '{message.messageId}' },
        filter: { eventType: 'OBJECT_FINALIZE' }
      }
    }
  }
}
const stack = await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify(catalog), JOBGATE_RATE_LIMIT: '100000' }, services: { logger: logs.logger }, listen: true })
const rest = pubsubRest(pubsub.hostPort, pubsub.project)
await rest.createTopic('gcs-events')
await rest.createPushSubscription('jobgate-echo', 'gcs-events', `${stack.url}/v1/push/pubsub/echo`)
const subscription = `projects/${pubsub.project}/subscriptions/jobgate-echo`

const echoRuns = (): any[] => stack.emulator.executions(undefined, 'echo')
/** Requests the push route received, with the status it answered and how long it took (joined on the request id). */
function pushDeliveries (): Array<{ status: number, ms: number }> {
  const pushIds = new Set(logs.lines.filter(line => line.req?.url?.startsWith('/v1/push/pubsub/') === true).map(line => line.requestId))
  const answers = logs.lines.filter(line => line.res !== undefined && pushIds.has(line.requestId))
  return answers.map(line => ({ status: line.res.statusCode as number, ms: line.responseTime as number }))
}
/** Pub/Sub redelivers a push only when it was answered with a non-2xx, or later than the ack deadline (10 s here). */
const redelivered = (delivery: { status: number, ms: number }): boolean => delivery.status >= 300 || delivery.ms >= 10_000
const startedFor = (ids: string[]): any[] => auditLines(logs.lines).filter(line => ids.includes(line.event?.messageId) && line.outcome === 'started')

t.test('20 OBJECT_FINALIZE and 5 OBJECT_DELETE notifications: exactly 20 runs, with BUCKET/OBJECT, printed by the job', async t => {
  const messages = Array.from({ length: 25 }, (_, i) => i % 5 === 4
    ? gcsNotification('OBJECT_DELETE', 'incoming', `old/file-${i}.csv`, 100 + i)
    : gcsNotification('OBJECT_FINALIZE', 'incoming', `new/file-${i}.csv`, 100 + i))
  const published = performance.now()
  const ids = await rest.publish('gcs-events', messages)
  const finalized = ids.filter((_, i) => i % 5 !== 4)
  const waited = await until(() => startedFor(finalized).length === 20 && pushDeliveries().length === 25, 120_000, '20 runs and 25 answered deliveries')
  t.comment(`20 runs started and 5 messages filtered ${waited} ms after publishing`)

  await Promise.all(echoRuns().map(async run => await stack.emulator.waitForExecution(run.metadata.name)))
  t.equal(echoRuns().length, 20, 'exactly 20 runs')
  t.equal(runCalls(stack.emulator), 20, 'exactly 20 jobs.run calls')
  const deliveries = pushDeliveries()
  t.equal(deliveries.length, 25, 'each message delivered once')
  t.same(deliveries.map(d => d.status).sort(), [...Array(5).fill(204), ...Array(20).fill(200)].sort())
  t.same(deliveries.filter(redelivered), [], 'every answer acknowledges it: Pub/Sub has nothing to redeliver')
  t.comment(`total ${Math.round(performance.now() - published)} ms from publish to 20 finished runs`)

  const expected = messages.filter(m => m.attributes.eventType === 'OBJECT_FINALIZE').map(m => m.attributes.objectId).sort()
  const envs = echoRuns().map(executionEnv)
  t.same(envs.map(env => env.OBJECT).sort(), expected, 'one run per finalized object')
  for (const env of envs) {
    t.equal(env.BUCKET, 'incoming')
    t.equal(env.OBJECT_SIZE, String(100 + Number(/file-(\d+)/.exec(env.OBJECT ?? '')?.[1])), 'a field of the JSON data')
  }

  const printed = stack.emulator.logEntries().filter(entry => entry.jsonPayload?.message === 'env').map(entry => entry.jsonPayload?.env as Record<string, string>)
  t.same(printed.map(env => env.OBJECT).sort(), expected, 'the echo job printed each object')
  t.ok(printed.every(env => env.BUCKET === 'incoming' && finalized.includes(env.MESSAGE_ID ?? '')))
  const filtered = logs.lines.filter(line => line.filtered !== undefined)
  t.ok(filtered.every(line => /eventType=OBJECT_DELETE/.test(line.filtered)), 'the filter log line says why')
})

// Pub/Sub (the emulator too) slows its pushes to an endpoint that fails, down to one at a time: a few messages
// prove redelivery as well as many, and a loaded machine gets through them well within the deadline.
const REFUSED = 8

t.test('the first delivery of each message fails (Cloud Run 503): redelivery still yields exactly one run per message', async t => {
  const runsBefore = echoRuns().length
  const callsBefore = runCalls(stack.emulator)
  const deliveriesBefore = pushDeliveries().length
  // Retry-After beyond jobgate's own retry budget: jobgate answers 503 at once and Pub/Sub redelivers after
  // the subscription's retry policy (1–2 s), not its default.
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { status: 503, headers: { 'retry-after': '30' }, count: REFUSED })
  const messages = Array.from({ length: REFUSED }, (_, i) => gcsNotification('OBJECT_FINALIZE', 'incoming', `retry/file-${i}.csv`, 500 + i))
  const published = performance.now()
  const ids = await rest.publish('gcs-events', messages)
  const done = (): boolean => startedFor(ids).length === REFUSED && pushDeliveries().length - deliveriesBefore === 2 * REFUSED
  const waited = await until(done, 180_000, `${REFUSED} runs after redelivery`)
  t.comment(`${REFUSED} runs started ${waited} ms after publishing (first deliveries refused)`)

  t.equal(echoRuns().length - runsBefore, REFUSED, 'exactly one run per message')
  t.equal(runCalls(stack.emulator) - callsBefore, 2 * REFUSED, 'each message: one refused jobs.run call, one accepted')
  const objects = echoRuns().map(executionEnv).map(env => env.OBJECT).filter(name => name?.startsWith('retry/') === true)
  t.same(objects.sort(), messages.map(m => m.attributes.objectId).sort())

  const delays: number[] = []
  for (const id of ids) {
    const lines = auditLines(logs.lines).filter(line => line.event?.messageId === id)
    t.same(lines.map(line => line.outcome), ['UNAVAILABLE', 'started'], `message ${id}: refused once, then started`)
    t.equal(lines[0]?.event.subscription, subscription)
    delays.push(Date.parse(lines[1]?.time) - Date.parse(lines[0]?.time))
  }
  delays.sort((a, b) => a - b)
  const total = Math.round(performance.now() - published)
  t.comment(`redelivery delay: min ${delays[0]} ms, median ${delays[REFUSED / 2]} ms, max ${delays.at(-1)} ms; all done ${total} ms after publish`)
  const deliveries = pushDeliveries().slice(deliveriesBefore)
  t.same(deliveries.map(d => d.status).sort(), [...Array(REFUSED).fill(200), ...Array(REFUSED).fill(503)], 'each message: one 503, then one 200')
  t.same(deliveries.filter(d => d.status === 200).filter(redelivered), [], 'the redelivery acknowledged it: nothing more to redeliver')
})
