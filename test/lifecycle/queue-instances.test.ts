/**
 * Concurrency policy Queue with two jobgate processes sharing the Firestore emulator: queued runs live in
 * Firestore, each is admitted exactly once whichever instance queued it (starts counted at the Cloud Run
 * emulator), and kill -9 of the instance that admits loses no queued run: the other takes the job over.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { startEmulator } from '../../emulator/index.js'
import { startFirestoreEmulator } from '../helpers/gcloud-emulators.js'
import { spawnApiServer, type RunningServer } from '../helpers/spawn-api-server.js'
import { readEvents, type SseEvent } from '../live/helpers.js'
import { eventually, FirestoreReader } from './pubsub-helpers.js'
import { cloudModeAgainst } from '../../emulator/jobgate-env.js'

t.setTimeout(400_000)

const firestore = await startFirestoreEmulator(t)
// The emulator is shared by the run's test files: this file's own project keeps its documents apart.
const PROJECT = firestore.project
const emulator = await startEmulator({
  projectId: PROJECT, region: 'us-central1', jobs: [{ project: PROJECT, name: 'echo', maxRetries: 0 }]
})
t.teardown(async () => { await emulator.close() })
const collection = `queue-${randomUUID()}`
const store = new FirestoreReader(firestore.hostPort, PROJECT, collection)
const MAX_RUNNING = 3
const catalog = {
  jobs: {
    echo: { env: { tenantKey: 'TENANT_ID', allow: ['ECHO_*'] }, concurrency: { policy: 'Queue', scope: 'job', maxRunning: MAX_RUNNING } }
  }
}

async function startInstance (): Promise<RunningServer> {
  const server = await spawnApiServer({
    ...cloudModeAgainst(emulator, PROJECT),
    GCE_METADATA_HOST: emulator.hostPort,
    JOBGATE_JOBS: JSON.stringify(catalog),
    JOBGATE_IDEMPOTENCY: 'firestore',
    JOBGATE_IDEMPOTENCY_COLLECTION: collection,
    FIRESTORE_EMULATOR_HOST: firestore.hostPort,
    // Short, so a killed holder's job is taken over soon; not so short that a loaded machine's late renewal loses it.
    JOBGATE_LEASE_SECONDS: '10',
    JOBGATE_RATE_LIMIT: '100000',
    JOBGATE_READ_RATE_LIMIT: '100000',
    JOBGATE_MAX_WAITS: '100',
    // The test's own ?wait readers must not starve the reconciler's lists of the Cloud Run read budget.
    JOBGATE_RUN_READS_PER_MINUTE: '100000'
  }, 60_000)
  t.teardown(() => { server.child.kill('SIGKILL') })
  return server
}
const instances = await Promise.all([startInstance(), startInstance()])
const instanceId = (server: RunningServer): string =>
  JSON.parse(server.stdout.find(line => line.includes('"instance"')) ?? '{}').instance as string

interface Answer { status: number, body: any }
async function send (server: RunningServer, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${server.url}/v1/jobs/echo/runs${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  })
  return { status: response.status, body: await response.json() }
}
const start = async (server: RunningServer, tenant: string, env: Record<string, string>): Promise<Answer> =>
  await send(server, '', { env: { TENANT_ID: tenant, ...env } })
/** The run's final state, read on `server` (?wait until it ended). */
async function ended (server: RunningServer, name: string): Promise<any> {
  for (;;) {
    const { status, body } = await send(server, `/${name}?wait=60`)
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(body.state as string)) return body
    if (status !== 200) throw new Error(`GET ${name}: ${status} ${JSON.stringify(body)}`)
  }
}
/** The run markers of the `:run` calls the Cloud Run emulator got: one per start. */
const startedMarkers = (): string[] => emulator.requests
  .filter(request => request.method === 'POST' && request.path.endsWith('/jobs/echo:run'))
  .map(request => ((request.body as any)?.overrides?.containerOverrides?.[0]?.env ?? [])
    .find((v: any) => v.name === 'JOBGATE_RUN')?.value as string)
/** Executions of the job not ended, as Cloud Run (the emulator) has them. */
const running = (): number => emulator.executions(PROJECT, 'echo').filter(execution => execution.status.completionTime === undefined).length

t.test('runs queued on both instances at once, by two tenants: each admitted exactly once, ' +
  'never more than maxRunning at a time', async t => {
  const blockers = await Promise.all([0, 1, 0].map(async (i, n) =>
    await start(instances[i] as RunningServer, n === 1 ? 'b' : 'a', { ECHO_SLEEP_MS: '600000' })))
  t.same(blockers.map(answer => answer.status), [202, 202, 202])
  // 15 starts at once, alternating instances and tenants, each run half a second long.
  const answers = await Promise.all(Array.from({ length: 15 }, async (_, i) =>
    await start(instances[i % 2] as RunningServer, i % 3 === 0 ? 'b' : 'a', { ECHO_SLEEP_MS: '500' })))
  t.ok(answers.every(answer => answer.status === 202 && answer.body.state === 'QUEUED'), 'all queued: the limit is taken')
  const queued = answers.map(answer => answer.body.name as string)
  t.equal(new Set(queued).size, 15, 'each its own name')
  let peak = running()
  const sampler = setInterval(() => { peak = Math.max(peak, running()) }, 20)
  for (const blocker of blockers) t.equal((await send(instances[1], `/${blocker.body.name as string}/cancel`, {})).status, 200)
  const states = await Promise.all(queued.map(async (name, i) => await ended(instances[(i + 1) % 2] as RunningServer, name)))
  clearInterval(sampler)
  t.ok(states.every(run => run.state === 'SUCCEEDED'), 'every queued run ran and succeeded')
  t.ok(states.every((run, i) => run.name === queued[i] && typeof run.execution === 'string'),
    'under the name it was queued with, naming its execution')
  const markers = startedMarkers().filter(marker => queued.includes(marker))
  t.equal(markers.length, 15, 'one start per queued run: exactly once across the two instances')
  t.equal(new Set(markers).size, 15)
  t.ok(peak <= MAX_RUNNING, `never more than maxRunning executions at once (peak ${peak})`)
})

t.test('a batch over two instances: queued on one, followed on the other; each run starts once, jobgate.batch.finished once', async t => {
  const post = async (server: RunningServer, body: unknown): Promise<Answer> => {
    const response = await fetch(`${server.url}/v1/jobs/echo/batches`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
    })
    return { status: response.status, body: await response.json() }
  }
  const bad = await post(instances[0], { runs: [{ env: { TENANT_ID: 'a' } }, { env: { TENANT_ID: 'b', NOPE: '1' } }] })
  t.match(bad, { status: 400, body: { error: { status: 'INVALID_ARGUMENT', message: /^runs\[1\]\.env\.NOPE: not allowed/ } } })
  const runs = Array.from({ length: 8 }, (_, i) => ({ env: { TENANT_ID: i % 2 === 0 ? 'a' : 'b', ECHO_SLEEP_MS: '300' } }))
  const created = await post(instances[0], { runs })
  t.match(created, { status: 202, body: { state: 'RUNNING', counts: { queued: 8 } } })
  const name = created.body.name as string
  let batch: any
  do {
    batch = await (await fetch(`${instances[1].url}/v1/jobs/echo/batches/${name}?wait=60`)).json()
  } while (batch.state === 'RUNNING')
  t.match(batch, { name, state: 'SUCCEEDED', counts: { queued: 0, running: 0, succeeded: 8, failed: 0, cancelled: 0 } })
  const markers = startedMarkers().filter(marker => created.body.runs.includes(marker))
  t.same(markers.slice().sort(), created.body.runs.slice().sort(), 'each run of the batch started exactly once across the instances')
  const subjects = async (): Promise<string[]> =>
    (await store.subjectsOf('jobgate.batch.finished')).filter(subject => subject.endsWith(`/${name}`))
  t.same(await subjects(), [`jobs/echo/batches/${name}`], 'jobgate.batch.finished recorded once')
  t.same(await (await fetch(`${instances[0].url}/v1/jobs/echo/batches/${name}`)).json(), batch,
    'both instances answer the same ended batch')
  t.equal((await subjects()).length, 1, 'and reading it records nothing more')
})

t.test('a queued run followed on one instance: its stream tells its new place when the run ahead is cancelled on the other, ' +
  'then its start; no Cloud Run read but the reconciler\'s lists', async t => {
  // The last test's runs ended, but their records and slots go only when a pass saw them end: on a loaded machine, later.
  await eventually(async () => (await store.lease('echo'))?.idle === true, 180_000, 'the job to be idle')
  const blockers = await Promise.all(['a', 'b', 'a'].map(async tenant => await start(instances[0], tenant, { ECHO_SLEEP_MS: '600000' })))
  t.ok(blockers.every(blocker => blocker.status === 202 && blocker.body.state !== 'QUEUED'), 'the blockers started: the limit is theirs')
  const ahead = await start(instances[1], 'a', { ECHO_SLEEP_MS: '600000' })
  const followed = await start(instances[1], 'a', { ECHO_SLEEP_MS: '600000' })
  t.same([ahead.body.state, followed.body.state], ['QUEUED', 'QUEUED'])
  const name = followed.body.name as string
  const from = emulator.requests.length
  const seen: SseEvent[] = []
  const reading = readEvents(await fetch(`${instances[0].url}/v1/jobs/echo/runs/${name}/events?logs=false`), event => { seen.push(event) })
  await eventually(async () => seen.length > 0, 60_000, 'the first event')
  t.match(seen[0], { event: 'run', data: { name, state: 'QUEUED', position: 2 } })
  t.equal((await send(instances[1], `/${ahead.body.name as string}/cancel`, {})).status, 200)
  await eventually(async () => seen.length > 1, 60_000, 'the move up, on the other instance')
  t.match(seen[1], { event: 'run', data: { name, state: 'QUEUED', position: 1 } })
  const calls = emulator.requests.slice(from).filter(request => !(request.method === 'GET' && /\/executions$/.test(request.path)))
  t.same(calls.map(request => `${request.method} ${request.path}`), [], 'while it waited: no Cloud Run call but lists')
  for (const blocker of blockers) t.equal((await send(instances[1], `/${blocker.body.name as string}/cancel`, {})).status, 200)
  await eventually(async () => seen.some(event => event.data.execution !== undefined), 60_000, 'its start')
  t.equal((await send(instances[1], `/${name}/cancel`, {})).status, 200)
  const { events } = await reading
  t.match(events.at(-1), { event: 'end', data: { name, state: 'CANCELLED', execution: /^echo-/ } }, 'followed to its end')
})

t.test('kill -9 of the instance that admits: no queued run is lost; the other instance admits them, each once', async t => {
  await eventually(async () => (await store.lease('echo'))?.idle === true, 180_000, 'the job to be idle')
  const victim = instances[0]
  const survivor = instances[1]
  const blockers = await Promise.all(['a', 'b', 'a'].map(async tenant => await start(victim, tenant, { ECHO_SLEEP_MS: '600000' })))
  const queued: string[] = []
  for (let i = 0; i < 4; i++) queued.push((await start(victim, i % 2 === 0 ? 'a' : 'b', { ECHO_SLEEP_MS: '500' })).body.name as string)
  t.equal((await store.lease('echo'))?.holder, instanceId(victim), 'the instance that queued them holds the job')
  victim.child.kill('SIGKILL')
  await victim.exited
  for (const blocker of blockers) t.equal((await send(survivor, `/${blocker.body.name as string}/cancel`, {})).status, 200)
  const states = await Promise.all(queued.map(async name => await ended(survivor, name)))
  t.same(states.map(run => run.state), queued.map(() => 'SUCCEEDED'), 'every queued run ran, admitted by the survivor')
  t.equal((await store.lease('echo'))?.holder, instanceId(survivor), 'the survivor took the job over')
  const markers = startedMarkers().filter(marker => queued.includes(marker))
  t.same(markers.slice().sort(), queued.slice().sort(), 'each started exactly once')
})
