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
/** Requests the push route received, with the status it answered (joined on the request id). */
function pushDeliveries (): Array<{ status: number }> {
  const pushIds = new Set(logs.lines.filter(line => line.req?.url?.startsWith('/v1/push/pubsub/') === true).map(line => line.requestId))
  const answers = logs.lines.filter(line => line.res !== undefined && pushIds.has(line.requestId))
  return answers.map(line => ({ status: line.res.statusCode as number }))
}
const startedFor = (ids: string[]): any[] => auditLines(logs.lines).filter(line => ids.includes(line.event?.messageId) && line.outcome === 'started')

t.test('20 OBJECT_FINALIZE and 5 OBJECT_DELETE notifications: exactly 20 runs, with BUCKET/OBJECT, printed by the job', async t => {
  const messages = Array.from({ length: 25 }, (_, i) => i % 5 === 4
    ? gcsNotification('OBJECT_DELETE', 'incoming', `old/file-${i}.csv`, 100 + i)
    : gcsNotification('OBJECT_FINALIZE', 'incoming', `new/file-${i}.csv`, 100 + i))
  const published = performance.now()
  const ids = await rest.publish('gcs-events', messages)
  const finalized = ids.filter((_, i) => i % 5 !== 4)
  const waited = await until(() => startedFor(finalized).length === 20 && logs.lines.filter(line => line.filtered !== undefined).length === 5, 30_000, '20 runs and 5 filtered messages')
  t.comment(`20 runs started and 5 messages filtered ${waited} ms after publishing`)

  await Promise.all(echoRuns().map(async run => await stack.emulator.waitForExecution(run.metadata.name)))
  // Quiet period: a message answered with non-2xx would come back after the 1 s minimum backoff.
  await new Promise(resolve => setTimeout(resolve, 2500))
  t.equal(echoRuns().length, 20, 'exactly 20 runs')
  t.equal(runCalls(stack.emulator), 20, 'exactly 20 jobs.run calls')
  const deliveries = pushDeliveries()
  t.equal(deliveries.length, 25, 'each message delivered once: no redelivery')
  t.same(deliveries.map(d => d.status).sort(), [...Array(5).fill(204), ...Array(20).fill(200)].sort())
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

t.test('the first delivery of each message fails (Cloud Run 503): redelivery still yields exactly one run per message', async t => {
  const runsBefore = echoRuns().length
  const callsBefore = runCalls(stack.emulator)
  // Retry-After beyond jobgate's own retry budget: jobgate answers 503 at once and Pub/Sub redelivers.
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { status: 503, headers: { 'retry-after': '30' }, count: 20 })
  const messages = Array.from({ length: 20 }, (_, i) => gcsNotification('OBJECT_FINALIZE', 'incoming', `retry/file-${i}.csv`, 500 + i))
  const published = performance.now()
  const ids = await rest.publish('gcs-events', messages)
  const waited = await until(() => startedFor(ids).length === 20, 60_000, '20 runs after redelivery')
  t.comment(`20 runs started ${waited} ms after publishing (first deliveries refused)`)
  await new Promise(resolve => setTimeout(resolve, 2500))

  t.equal(echoRuns().length - runsBefore, 20, 'exactly one run per message')
  t.equal(runCalls(stack.emulator) - callsBefore, 40, '20 refused jobs.run calls, 20 accepted')
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
  t.ok((delays[0] ?? 0) >= 500, 'redelivery waited for the retry policy\'s backoff')
  t.comment(`redelivery delay: min ${delays[0]} ms, median ${delays[10]} ms, max ${delays.at(-1)} ms; all done ${Math.round(performance.now() - published)} ms after publish`)
  const refused = pushDeliveries().filter(d => d.status === 503).length
  t.equal(refused, 20, '20 deliveries answered 503')
})
