/**
 * Run events on the real Pub/Sub and Firestore emulators with two jobgate processes sharing state:
 * exactly one started and one finished message per run, kill -9 of the instance that followed the
 * runs, and Pub/Sub unreachable for a while, without losing or repeating an event.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { startEmulator } from '../../emulator/index.js'
import { pubsubRest } from '../events/pubsub-rest.js'
import { startFirestoreEmulator, startPubsubEmulator } from '../helpers/gcloud-emulators.js'
import { spawnApiServer, type RunningServer } from '../helpers/spawn-api-server.js'
import { TcpGate } from '../helpers/tcp-gate.js'
import { until } from './helpers.js'
import { eventually, FirestoreReader, MessageCollector } from './pubsub-helpers.js'
import { cloudModeAgainst } from '../../emulator/jobgate-env.js'

t.setTimeout(400_000)

const TOPIC = 'run-events'
const firestore = await startFirestoreEmulator(t)
// A Pub/Sub emulator of its own: the run's shared one serves other files' failing pushes one at a time, and this file times delivery.
const pubsub = await startPubsubEmulator(t, { shared: false })
// The emulators are shared by the run's test files: this file's own project keeps its topics and documents apart.
const PROJECT = pubsub.project
// jobgate reaches Pub/Sub through a gate the test can shut: Pub/Sub "down" whatever the emulator does meanwhile.
const gate = await TcpGate.open(pubsub.hostPort)
t.teardown(async () => { await gate.shut() })
const setUpTopic = async (hostPort: string): Promise<MessageCollector> => {
  const rest = pubsubRest(hostPort, PROJECT)
  await rest.createTopic(TOPIC)
  await rest.send('PUT', '/subscriptions/collector', { topic: `projects/${PROJECT}/topics/${TOPIC}`, ackDeadlineSeconds: 30 })
  return new MessageCollector(rest, 'collector')
}
const collector = await setUpTopic(pubsub.hostPort)
t.teardown(() => { collector.stop() })

const emulator = await startEmulator({ projectId: PROJECT, region: 'us-central1', jobs: [{ project: PROJECT, name: 'echo', maxRetries: 0 }] })
t.teardown(async () => { await emulator.close() })
const collection = `events-${randomUUID()}`
const store = new FirestoreReader(firestore.hostPort, PROJECT, collection)

async function startInstance (): Promise<RunningServer> {
  const server = await spawnApiServer({
    ...cloudModeAgainst(emulator, PROJECT),
    GCE_METADATA_HOST: emulator.hostPort,
    JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { env: { tenantKey: 'TENANT_ID', allow: ['ECHO_*'] } } } }),
    JOBGATE_IDEMPOTENCY: 'firestore',
    JOBGATE_IDEMPOTENCY_COLLECTION: collection,
    FIRESTORE_EMULATOR_HOST: firestore.hostPort,
    PUBSUB_EMULATOR_HOST: gate.hostPort,
    JOBGATE_EVENTS_TOPIC: `projects/${PROJECT}/topics/${TOPIC}`,
    JOBGATE_LEASE_SECONDS: '3',
    JOBGATE_RATE_LIMIT: '100000'
  }, 60_000)
  t.teardown(() => { server.child.kill('SIGKILL') })
  // An instance that dies on its own is a defect: say how, with its last words.
  void server.exited.then(({ code, signal }) => {
    if (signal !== 'SIGKILL') t.fail(`an instance exited by itself (${code ?? signal}): ${server.stderr().slice(-2000)} ${server.stdout.slice(-5).join('\n')}`)
  })
  return server
}
const instances = await Promise.all([startInstance(), startInstance()])
/** The lease holder name each instance logs at start. */
const instanceId = (server: RunningServer): string =>
  JSON.parse(server.stdout.find(line => line.includes('"instance"')) ?? '{}').instance as string

async function start (server: RunningServer, env: Record<string, string>): Promise<string> {
  const response = await fetch(`${server.url}/v1/jobs/echo/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ env: { TENANT_ID: 'acme', ...env } })
  })
  const body = await response.json() as { name: string }
  if (response.status !== 202) throw new Error(`start: ${response.status} ${JSON.stringify(body)}`)
  return body.name
}

const finishedFor = (runs: string[]) => (): boolean => runs.every(run => collector.count('jobgate.run.finished', run) >= 1)
/** Nothing is left in the outbox and the subscription is drained: no message can still come for these runs. */
async function settled (): Promise<void> {
  await eventually(async () => await store.unpublished() === 0, 60_000, 'an empty outbox')
  await collector.drain()
}

t.test('succeeded, failed and cancelled runs over two instances: one started and one finished message each', async t => {
  const runs = {
    succeeded: await start(instances[0], {}),
    failed: await start(instances[1], { ECHO_EXIT_CODE: '3' }),
    cancelled: await start(instances[1], { ECHO_SLEEP_MS: '60000' })
  }
  await until(() => collector.count('jobgate.run.started', runs.cancelled) === 1, 60_000, 'the start of the run to cancel')
  const cancel = await fetch(`${instances[0].url}/v1/jobs/echo/runs/${runs.cancelled}/cancel`, { method: 'POST' })
  t.equal(cancel.status, 200)
  await until(finishedFor(Object.values(runs)), 90_000, 'three finished events')
  await settled()
  for (const [state, run] of Object.entries(runs)) {
    t.equal(collector.count('jobgate.run.started', run), 1, `${run}: started once`)
    t.equal(collector.count('jobgate.run.finished', run), 1, `${run}: finished once`)
    t.equal(collector.finished(run)?.data.state, state.toUpperCase(), `${run} ended ${state.toUpperCase()}`)
  }
  const message = collector.finished(runs.succeeded)
  t.match(message?.attributes, {
    'ce-specversion': '1.0',
    'ce-type': 'jobgate.run.finished',
    'ce-id': `jobs/echo/runs/${runs.succeeded}/finished`,
    'ce-source': `//run.googleapis.com/projects/${PROJECT}/locations/us-central1/services/jobgate`,
    'ce-subject': `jobs/echo/runs/${runs.succeeded}`,
    'content-type': 'application/json',
    'jobgate-job': 'echo',
    'jobgate-tenant': 'acme'
  })
  t.ok(Number.isFinite(Date.parse(message?.attributes['ce-time'] ?? '')), 'ce-time')
  t.match(message?.data, { name: runs.succeeded, job: 'echo', state: 'SUCCEEDED', succeededCount: 1 }, 'the data is the Run')
})

t.test('kill -9 of the instance that followed the runs: the other takes the job over and publishes their ends', async t => {
  await eventually(async () => (await store.lease('echo'))?.idle === true, 60_000, 'the job to be idle')
  const victim = instances[0]
  const runs = await Promise.all([1, 2, 3].map(async () => await start(victim, { ECHO_SLEEP_MS: '6000' })))
  await until(() => runs.every(run => collector.count('jobgate.run.started', run) === 1), 60_000, 'three starts')
  t.equal((await store.lease('echo'))?.holder, instanceId(victim), 'the instance that started them follows them')
  victim.child.kill('SIGKILL')
  await victim.exited
  await until(finishedFor(runs), 90_000, 'the ends, published by the survivor')
  await settled()
  t.equal((await store.lease('echo'))?.holder, instanceId(instances[1]), 'the survivor took the job over')
  for (const run of runs) {
    t.equal(collector.count('jobgate.run.started', run), 1, `${run}: started once`)
    t.equal(collector.count('jobgate.run.finished', run), 1, `${run}: finished once`)
  }
})

t.test('Pub/Sub unreachable, then back: the events wait in the outbox, then all go out, once', async t => {
  const survivor = instances[1]
  await gate.shut()
  const runs = [await start(survivor, {}), await start(survivor, { ECHO_EXIT_CODE: '1' })]
  await until(() => runs.every(run => emulator.executions(PROJECT, 'echo').find(e => e.metadata.name === run)?.status.completionTime !== undefined),
    90_000, 'both runs ended')
  await eventually(async () => await store.unpublished() === 4, 60_000, 'four events waiting in the outbox')
  t.equal(await store.unpublished(), 4, 'two starts and two ends wait for Pub/Sub')
  await gate.reopen()
  await until(finishedFor(runs), 90_000, 'the events, once Pub/Sub is back')
  await settled()
  for (const run of runs) {
    t.equal(collector.count('jobgate.run.started', run), 1, `${run}: started once`)
    t.equal(collector.count('jobgate.run.finished', run), 1, `${run}: finished once`)
  }
})
