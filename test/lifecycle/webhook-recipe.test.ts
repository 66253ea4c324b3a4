/**
 * docs/events.md's webhook recipe on the Pub/Sub emulator: a push subscription to the user's endpoint
 * (OIDC token, tenant filter, dead-letter topic), jobgate publishing to the topic in local mode, and a
 * local receiver standing for the user's service.
 *
 * The emulator stores a subscription's `filter` but does not apply it (it delivers every message):
 * what the test can prove is that every message carries the attribute the filter reads.
 */
import { createServer, type IncomingMessage } from 'node:http'
import t from 'tap'
import { pubsubRest } from '../events/pubsub-rest.js'
import { startPubsubEmulator } from '../helpers/gcloud-emulators.js'
import { build } from '../helper.js'
import { until } from './helpers.js'
import { MessageCollector } from './pubsub-helpers.js'

t.setTimeout(480_000)

// A Pub/Sub emulator of its own: the shared one serves every file's failing pushes one at a time, and dead-lettering waits on them.
const pubsub = await startPubsubEmulator(t, { shared: false })
const PROJECT = pubsub.project // the emulator is shared by the run's test files
const rest = pubsubRest(pubsub.hostPort, PROJECT)

interface Push {
  message: { attributes: Record<string, string>, data: string, messageId: string }
  subscription: string
}
const received: Push[] = []
/** The user's endpoint: takes every delivery, or refuses them all (a bug on their side). */
let refusing = false
const receiver = createServer((request: IncomingMessage, response) => {
  let body = ''
  request.on('data', chunk => { body += String(chunk) })
  request.on('end', () => {
    const push = JSON.parse(body) as Push
    received.push(push)
    response.statusCode = refusing ? 500 : 204
    response.end()
  })
})
await new Promise<void>(resolve => receiver.listen(0, '127.0.0.1', resolve))
t.teardown(() => { receiver.close() })
const address = receiver.address()
const endpoint = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/jobgate-events`

// The recipe's commands, as REST: topic, dead-letter topic, and the tenant's push subscription, but for its retry delays:
// the emulator (0.8.20) stalls a refused push held back by a retry policy (0 of 2 dead-lettered in 420 s), while without
// one it pushes again a second after each refusal and dead-letters the 5th (3 of 3 within 11 s).
await rest.createTopic('jobgate-run-events')
await rest.createTopic('jobgate-run-events-dead')
const subscription = await rest.send('PUT', '/subscriptions/acme-run-events', {
  topic: `projects/${PROJECT}/topics/jobgate-run-events`,
  pushConfig: { pushEndpoint: endpoint, oidcToken: { serviceAccountEmail: `acme-webhook@${PROJECT}.iam.gserviceaccount.com`, audience: endpoint } },
  filter: 'attributes.jobgate-tenant = "acme"',
  deadLetterPolicy: { deadLetterTopic: `projects/${PROJECT}/topics/jobgate-run-events-dead`, maxDeliveryAttempts: 5 },
  ackDeadlineSeconds: 10
})
await rest.send('PUT', '/subscriptions/dead-letters', { topic: `projects/${PROJECT}/topics/jobgate-run-events-dead` })
const deadLetters = new MessageCollector(rest, 'dead-letters')
t.teardown(() => { deadLetters.stop() })

const stack = await build(t, {
  env: {
    JOBGATE_MODE: 'local',
    JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { env: { tenantKey: 'TENANT_ID', allow: ['ECHO_*'] } } } }),
    JOBGATE_EVENTS_TOPIC: `projects/${PROJECT}/topics/jobgate-run-events`,
    PUBSUB_EMULATOR_HOST: pubsub.hostPort
  },
  listen: true
})
async function start (tenant: string): Promise<string> {
  const response = await stack.app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: { env: { TENANT_ID: tenant } } })
  return response.json<{ name: string }>().name
}
const pushesOf = (run: string): Push[] => received.filter(push => push.message.attributes['ce-subject']?.endsWith(`/runs/${run}`) === true)

t.test('the subscription holds the recipe\'s filter, OIDC identity and dead-letter policy', async t => {
  t.match(subscription, {
    filter: 'attributes.jobgate-tenant = "acme"',
    pushConfig: { pushEndpoint: endpoint },
    deadLetterPolicy: { maxDeliveryAttempts: 5 }
  })
})

t.test('a run\'s events reach the endpoint as pushes: CloudEvents attributes, the Run as data, the tenant to filter on', async t => {
  const acme = await start('acme')
  const globex = await start('globex')
  await until(() => pushesOf(acme).length === 2 && pushesOf(globex).length === 2, 60_000, 'both runs\' started and finished pushes')
  const finished = pushesOf(acme).find(push => push.message.attributes['ce-type'] === 'jobgate.run.finished')
  t.match(finished?.message.attributes, { 'ce-specversion': '1.0', 'ce-subject': `jobs/echo/runs/${acme}`, 'jobgate-tenant': 'acme' })
  t.match(JSON.parse(Buffer.from(finished?.message.data ?? '', 'base64').toString()), { name: acme, state: 'SUCCEEDED' })
  t.equal(finished?.subscription, `projects/${PROJECT}/subscriptions/acme-run-events`)
  t.ok(received.every(push => push.message.attributes['jobgate-tenant'] !== undefined), 'every message carries jobgate-tenant for the filter')
})

t.test('what the endpoint keeps refusing goes to the dead-letter topic after 5 attempts', async t => {
  refusing = true
  const run = await start('acme')
  // Five pushes about a second apart when idle; a loaded machine can stretch that.
  await until(() => deadLetters.count('jobgate.run.finished', run) === 1, 180_000, 'the finished event in the dead-letter topic')
  t.equal(pushesOf(run).filter(push => push.message.attributes['ce-type'] === 'jobgate.run.finished').length, 5, 'delivered 5 times, then dead-lettered')
  t.equal(deadLetters.count('jobgate.run.started', run), 1, 'the started event too')
})
