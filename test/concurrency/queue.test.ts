/**
 * Concurrency policy Queue in one instance (local mode, memory store): the API over a real socket, the Cloud Run
 * emulator running the companion job (ECHO_SLEEP_MS keeps a run running), starts counted at the emulator.
 */
import t from 'tap'
import { build } from '../helper.js'
import { call } from '../helpers/call.js'
import { auditLines, captureLogs } from '../helpers/log-capture.js'
import { memorySink, runCli } from '../cli/helpers.js'
import { readEvents, type SseEvent } from '../live/helpers.js'
import { eventually } from '../lifecycle/pubsub-helpers.js'

const SLEEP = { ECHO_SLEEP_MS: '600000' }
const QUICK = { ECHO_SLEEP_MS: '0' }
const catalog = {
  jobs: {
    queue: { env: { allow: ['ECHO_*'] }, concurrency: { policy: 'Queue' } },
    short: { env: { allow: ['ECHO_*'] }, concurrency: { policy: 'Queue', queueTimeoutSeconds: 1 } },
    fair: { env: { tenantKey: 'TENANT_ID', allow: ['ECHO_*'] }, concurrency: { policy: 'Queue', scope: 'job' } },
    pertenant: { env: { tenantKey: 'TENANT_ID', allow: ['ECHO_*'] }, concurrency: { policy: 'Queue' } },
    pushed: { env: { allow: ['ECHO_*'] }, pubsub: { env: { ECHO_SLEEP_MS: '{attributes.sleepMs}' } }, concurrency: { policy: 'Queue' } },
    quota: { env: { allow: ['ECHO_*'] }, concurrency: { policy: 'Queue', maxRunning: 5 } },
    moving: { env: { allow: ['ECHO_*'] }, concurrency: { policy: 'Queue', maxRunning: 1 } }
  }
}
const logs = captureLogs()
const stack = await build(t, {
  env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify(catalog), JOBGATE_RATE_LIMIT: '100000', JOBGATE_READ_RATE_LIMIT: '100000' },
  services: { logger: logs.logger },
  listen: true
})
const { emulator } = stack

const start = async (job: string, env: Record<string, string> = {}) => await call(`${stack.url}/v1/jobs/${job}/runs`, { body: { env } })
const runOf = async (job: string, run: string, wait = 0) =>
  await call(`${stack.url}/v1/jobs/${job}/runs/${run}${wait > 0 ? `?wait=${wait}` : ''}`)
const cancel = async (job: string, run: string) => await call(`${stack.url}/v1/jobs/${job}/runs/${run}/cancel`, { method: 'POST' })
/** The `:run` calls the emulator got for `job`, with the env each carried. */
const startsOf = (job: string): Array<Record<string, string>> => emulator.requests
  .filter(request => request.method === 'POST' && request.path.endsWith(`/jobs/${job}:run`))
  .map(request => (request.body as any)?.overrides?.containerOverrides?.[0]?.env ?? [])
  .map(env => Object.fromEntries(env.map((variable: any) => [variable.name, variable.value])))

t.test('past the limit a start is QUEUED under its own name; it starts when the running run ends, and keeps that name', async t => {
  const blocker = await start('queue', SLEEP)
  t.equal(blocker.status, 202)
  t.not(blocker.body.state, 'QUEUED')
  const queued = await start('queue', QUICK)
  t.equal(queued.status, 202)
  t.match(queued.body, { state: 'QUEUED', job: 'queue', runningCount: 0 })
  const name = queued.body.name as string
  t.match(name, /^queue-q[a-z0-9]{9}$/)
  t.equal(queued.headers.get('location'), `/v1/jobs/queue/runs/${name}`)
  t.equal(startsOf('queue').length, 1, 'only the blocker reached Cloud Run')
  t.match((await runOf('queue', name)).body, { name, state: 'QUEUED', position: 1 })
  t.same((await call(`${stack.url}/v1/jobs/queue/runs/${name}/logs`)).body, { entries: [] }, 'no logs before it starts')
  t.same((await call(`${stack.url}/v1/jobs/queue/runs/${name}/tasks`)).body, { tasks: [] })
  const list = await call(`${stack.url}/v1/jobs/queue/runs`)
  t.same(list.body.runs.map((run: any) => run.name).slice(0, 2), [name, blocker.body.name], 'queued runs first')
  t.equal(list.body.runs[0].state, 'QUEUED')
  t.equal((await cancel('queue', blocker.body.name)).status, 200)
  const ended = await runOf('queue', name, 60)
  t.match(ended.body, { name, state: 'SUCCEEDED', execution: /^queue-[a-z0-9]{5}$/, links: { self: `/v1/jobs/queue/runs/${name}` } })
  t.equal(startsOf('queue').length, 2, 'started once')
  t.equal(startsOf('queue')[1]?.JOBGATE_RUN, name, 'marked with its name: a start whose answer was lost is found again')
  const byExecution = await runOf('queue', ended.body.execution)
  t.equal(byExecution.body.name, name, 'read by its execution, the run still answers with its name')
  const listed = await call(`${stack.url}/v1/jobs/queue/runs`)
  t.match(listed.body.runs.find((run: any) => run.execution === ended.body.execution), { name }, 'the list names it so too')
  const audit = auditLines(logs.lines).filter(line => line.job === 'queue')
  t.match(audit.map(line => line.outcome), ['started', 'queued', 'admitted'], 'the audit: queued, then admitted')
  t.match(audit[2], { run: name, execution: ended.body.execution, trigger: 'queue' })
})

t.test('Cloud Run\'s quota (429) on a start within the limit: the run is queued, not bounced, and starts once later', async t => {
  emulator.failNext({ method: 'POST', pathPattern: /\/jobs\/quota:run$/ }, { status: 429, count: 6, headers: { 'Retry-After': '1' } })
  const queued = await start('quota', QUICK)
  t.equal(queued.status, 202)
  t.equal(queued.body.state, 'QUEUED', 'the 429 queued it')
  const ended = await runOf('quota', queued.body.name as string, 60)
  t.match(ended.body, { name: queued.body.name, state: 'SUCCEEDED' },
    `admitted once Cloud Run took starts again: ${JSON.stringify(ended.body)}`)
  t.equal(emulator.executions(undefined, 'quota').length, 1, 'one execution')
})

t.test('cancelled while queued: CANCELLED and never started; the queue goes on past it', async t => {
  const blocker = await start('queue', SLEEP)
  const doomed = await start('queue', QUICK)
  const next = await start('queue', QUICK)
  t.same([doomed.body.state, next.body.state], ['QUEUED', 'QUEUED'])
  t.equal((await runOf('queue', next.body.name)).body.position, 2)
  const cancelled = await cancel('queue', doomed.body.name)
  t.match(cancelled, { status: 200, body: { name: doomed.body.name, state: 'CANCELLED', message: /while queued; never started/ } })
  t.equal((await cancel('queue', doomed.body.name)).status, 400, 'a second cancel: already ended')
  t.equal((await runOf('queue', next.body.name)).body.position, 1, 'the next moved up')
  const before = startsOf('queue').length
  await cancel('queue', blocker.body.name)
  t.equal((await runOf('queue', next.body.name, 60)).body.state, 'SUCCEEDED')
  t.equal(startsOf('queue').length, before + 1, 'one start: the cancelled run never started')
  t.notOk(startsOf('queue').some(env => env.JOBGATE_RUN === doomed.body.name))
  t.match((await runOf('queue', doomed.body.name)).body, { state: 'CANCELLED' })
})

/** A run event as people read the state: `QUEUED 2`, `RUNNING`. */
const label = ({ data }: SseEvent): string => data.state === 'QUEUED' ? `QUEUED ${data.position}` : data.state

t.test('a queued run\'s event stream tells its place as runs ahead leave the queue, then follows its execution; ' +
  'no Cloud Run read while it waits', async t => {
  const blocker = await start('moving', SLEEP)
  t.not(blocker.body.state, 'QUEUED')
  const [first, second, third] = [await start('moving', SLEEP), await start('moving', SLEEP), await start('moving', SLEEP)]
  t.same([first, second, third].map(run => run?.body.state), ['QUEUED', 'QUEUED', 'QUEUED'])
  const name = second?.body.name as string
  const from = emulator.requests.length
  const seen: SseEvent[] = []
  const response = await fetch(`${stack.url}/v1/jobs/moving/runs/${name}/events`)
  t.equal(response.status, 200)
  const reading = readEvents(response, event => { seen.push(event) })
  await eventually(async () => seen.length > 0, 30_000, 'the first event')
  t.same(seen.map(label), ['QUEUED 2'], 'at once: the run as it is, with its place')
  t.match(seen[0]?.data, { name, state: 'QUEUED', position: 2 })
  t.match((await cancel('moving', first?.body.name)).body, { state: 'CANCELLED' })
  await eventually(async () => seen.length > 1, 30_000, 'the move up')
  t.same(seen.map(label), ['QUEUED 2', 'QUEUED 1'], 'the run again once its place changed, and only then')
  const waited = emulator.requests.slice(from)
  const lists = waited.filter(request => request.method === 'GET' && /\/executions$/.test(request.path))
  t.same(waited.filter(request => !lists.includes(request)).map(request => `${request.method} ${request.path}`), [],
    'while it waited, Cloud Run saw no call but the job reconciler\'s lists')
  t.equal((await runOf('moving', name)).body.position, 1, 'as a read of the run says')

  await cancel('moving', blocker.body.name)
  await eventually(async () => seen.some(event => event.data.state === 'RUNNING'), 60_000, 'its admission')
  const admitted = seen.find(event => event.data.state === 'RUNNING')
  t.match(admitted?.data, { name, execution: /^moving-[a-z0-9]{5}$/ }, 'the same name, now with its execution')
  t.equal(admitted?.event, 'run')
  await cancel('moving', name)
  const { events } = await reading
  t.match(events.at(-1), { event: 'end', data: { name, state: 'CANCELLED' } }, 'one connection from queued to its end')
  t.same(events.map(label).slice(0, 2), ['QUEUED 2', 'QUEUED 1'])
  t.notOk(events.slice(2).some(event => event.data.state === 'QUEUED'), 'no place told after its admission')
  await cancel('moving', third?.body.name)
})

t.test('an unstarted run\'s stream: `end` at once for one that ended; a queued one cancelled while followed gets its `end`', async t => {
  const blocker = await start('moving', SLEEP)
  const queued = await start('moving', SLEEP)
  t.equal(queued.body.state, 'QUEUED')
  const seen: SseEvent[] = []
  const reading = readEvents(await fetch(`${stack.url}/v1/jobs/moving/runs/${queued.body.name}/events`), event => { seen.push(event) })
  await eventually(async () => seen.length > 0, 30_000, 'the first event')
  await cancel('moving', queued.body.name)
  const { events } = await reading
  t.same(events.map(event => `${event.event} ${label(event)}`), ['run QUEUED 1', 'end CANCELLED'])
  const again = await readEvents(await fetch(`${stack.url}/v1/jobs/moving/runs/${queued.body.name}/events`))
  t.same(again.events.map(event => `${event.event} ${label(event)}`), ['end CANCELLED'], 'a later stream: its end only')
  await cancel('moving', blocker.body.name)
})

t.test('a run queued past queueTimeoutSeconds ends FAILED with reason QUEUE_TIMEOUT and never starts late', async t => {
  const blocker = await start('short', SLEEP)
  const late = await start('short', QUICK)
  t.equal(late.body.state, 'QUEUED')
  await eventually(async () => (await runOf('short', late.body.name)).body.state !== 'QUEUED', 60_000, 'the queue timeout')
  t.match((await runOf('short', late.body.name)).body, { state: 'FAILED', reason: 'QUEUE_TIMEOUT', message: /queueTimeoutSeconds \(1 s\)/ })
  await cancel('short', blocker.body.name)
  t.equal((await runOf('short', blocker.body.name, 60)).body.state, 'CANCELLED')
  const after = await start('short', QUICK)
  t.not(after.body.state, 'QUEUED', 'a slot is free: the next start goes straight ahead')
  t.equal((await runOf('short', after.body.name, 60)).body.state, 'SUCCEEDED')
  t.same(startsOf('short').map(env => env.JOBGATE_RUN).filter(run => run === late.body.name), [],
    'the timed-out run never reached Cloud Run')
})

t.test('fair shares: a tenant with 2 runs behind another tenant\'s 10 gets them within the next few admissions', async t => {
  const blocker = await start('fair', { TENANT_ID: 'big', ...SLEEP })
  const big: string[] = []
  for (let i = 0; i < 10; i++) big.push((await start('fair', { TENANT_ID: 'big', ...QUICK })).body.name)
  const small = [
    (await start('fair', { TENANT_ID: 'small', ...QUICK })).body.name, (await start('fair', { TENANT_ID: 'small', ...QUICK })).body.name
  ]
  t.equal((await runOf('fair', small[0])).body.position, 2, 'small\'s first: in the first round, after big\'s first (lanes in text order)')
  t.equal((await runOf('fair', small[1])).body.position, 4, 'its second: one round later')
  t.equal((await runOf('fair', big[9] as string)).body.position, 12, 'big\'s last: last')
  const before = startsOf('fair').length
  await cancel('fair', blocker.body.name)
  for (const name of [...big, ...small]) t.equal((await runOf('fair', name, 60)).body.state, 'SUCCEEDED')
  const order = startsOf('fair').slice(before).map(env => env.JOBGATE_RUN)
  t.equal(order.length, 12, 'each started once')
  t.same(order.slice(0, 4), [big[0], small[0], big[1], small[1]], 'round-robin: small\'s two within the first 4 admissions')
  t.same(order.filter(run => big.includes(run as string)), big, 'first in first out within a tenant')
})

t.test('per-tenant scope: one tenant\'s queue does not hold another tenant back', async t => {
  const acme = await start('pertenant', { TENANT_ID: 'acme', ...SLEEP })
  const acmeQueued = await start('pertenant', { TENANT_ID: 'acme', ...QUICK })
  t.equal(acmeQueued.body.state, 'QUEUED')
  const globex = await start('pertenant', { TENANT_ID: 'globex', ...QUICK })
  t.not(globex.body.state, 'QUEUED', 'another tenant has its own slot')
  t.equal((await runOf('pertenant', globex.body.name, 60)).body.state, 'SUCCEEDED')
  await cancel('pertenant', acme.body.name)
  t.equal((await runOf('pertenant', acmeQueued.body.name, 60)).body.state, 'SUCCEEDED')
})

t.test('push triggers queue too: a Pub/Sub or Cloud Tasks delivery past the limit is queued and acknowledged, ' +
  'once per message', async t => {
  const envelope = (messageId: string, sleepMs: string): object =>
    ({
      subscription: 'projects/p/subscriptions/s',
      message: { messageId, publishTime: '2026-12-06T10:00:00Z', attributes: { sleepMs }, data: '' }
    })
  const push = async (messageId: string, sleepMs: string) =>
    await call(`${stack.url}/v1/push/pubsub/pushed`, { body: envelope(messageId, sleepMs) })
  const task = async (name: string) => await call(`${stack.url}/v1/push/tasks/pushed`, {
    body: { env: QUICK },
    headers: { 'x-cloudtasks-queuename': 'q', 'x-cloudtasks-taskname': name }
  })
  const running = await push('m1', '600000')
  t.equal(running.status, 200)
  const queued = await push('m2', '0')
  t.match(queued, { status: 200, body: { state: 'QUEUED' } }, 'acknowledged (2xx): Pub/Sub does not redeliver')
  const again = await push('m2', '0')
  t.match(again, { status: 200, body: { name: queued.body.name } }, 'a redelivery answers with the same queued run')
  t.equal(again.headers.get('idempotency-replayed'), 'true')
  const fromTasks = await task('t1')
  t.match(fromTasks, { status: 200, body: { state: 'QUEUED' } })
  t.equal((await task('t1')).body.name, fromTasks.body.name, 'a retried task too')
  t.equal(startsOf('pushed').length, 1)
  await cancel('pushed', running.body.name)
  for (const run of [queued.body.name, fromTasks.body.name]) t.equal((await runOf('pushed', run, 60)).body.state, 'SUCCEEDED')
  t.same(startsOf('pushed').slice(1).map(env => env.JOBGATE_RUN), [queued.body.name, fromTasks.body.name],
    'each message and task started one run')
})

t.test('the CLI: `run` says QUEUED (position N); `run --wait` prints each new place, follows it through its admission ' +
  'and exits as the run ended', async t => {
  const blocker = await start('queue', SLEEP)
  const first = await runCli(['run', 'queue', '--env', 'ECHO_SLEEP_MS=0'], stack.url)
  t.equal(first.code, 0)
  t.match(first.stderr,
    /^Queued run queue-q[a-z0-9]{9} of job queue \(QUEUED \(position 1\)\)\. Follow it with: jobgate status queue queue-q/)
  const status = await runCli(['status', 'queue', first.stdout.trim()], stack.url)
  t.match(status.stdout, /QUEUED \(position 1\)/)
  const stderr = memorySink()
  const waiting = runCli(['run', 'queue', '--env', 'ECHO_SLEEP_MS=0', '--wait'], stack.url, { stderr })
  await eventually(async () => /QUEUED \(position 2\) {2}\[/.test(stderr.text()), 60_000, 'the second queued, followed')
  // The run ahead leaves the queue: the waiting CLI says its new place, then follows it through its admission.
  await cancel('queue', first.stdout.trim())
  await eventually(async () => /QUEUED \(position 1\) {2}\[/.test(stderr.text()), 60_000, 'the move up, printed')
  await cancel('queue', blocker.body.name)
  const waited = { ...await waiting, stderr: stderr.text() }
  t.equal(waited.code, 0, waited.stderr)
  t.match(waited.stderr, /^Queued run queue-q[a-z0-9]{9} of job queue: QUEUED \(position 2\)\./)
  t.same(waited.stderr.match(/QUEUED \(position \d\) {2}\[/g), ['QUEUED (position 2)  [', 'QUEUED (position 1)  ['],
    'a line per place, each once')
  t.match(waited.stderr, /Run queue-q[a-z0-9]{9} SUCCEEDED/)
})
