/**
 * GET /v1/events in local mode (no Pub/Sub at all): every run's started and finished event exactly once,
 * each caller seeing only what it may, and resuming with Last-Event-ID without repeats.
 */
import t from 'tap'
import { hashApiKey } from '../../api/auth/index.js'
import { build } from '../helper.js'
import { countsOf, EventFollower, until } from './helpers.js'

t.setTimeout(120_000)

const KEYS = { acme: 'jg_acme_key_000000000000000000', globex: 'jg_globex_key_00000000000000000', ops: 'jg_ops_key_0000000000000000000' }
const keyTable = {
  keys: [
    { sha256: hashApiKey(KEYS.acme), principal: 'acme-ci', tenant: 'acme' },
    { sha256: hashApiKey(KEYS.globex), principal: 'globex-ci', tenant: 'globex' },
    { sha256: hashApiKey(KEYS.ops), principal: 'ops', tenantFree: true }
  ]
}
const catalog = {
  jobs: {
    echo: { env: { tenantKey: 'TENANT_ID', allow: ['ECHO_*'] }, principals: ['acme-ci', 'globex-ci', 'ops'] },
    nightly: { env: { allow: ['ECHO_*'] }, principals: ['ops'] }
  }
}
const stack = await build(t, {
  env: {
    JOBGATE_MODE: 'local',
    JOBGATE_AUTH: 'apikey',
    JOBGATE_API_KEYS: JSON.stringify(keyTable),
    JOBGATE_JOBS: JSON.stringify(catalog),
    JOBGATE_READ_RATE_LIMIT: '100000',
    JOBGATE_RATE_LIMIT: '100000'
  },
  listen: true
})
const as = (key: string): Record<string, string> => ({ 'x-api-key': key })

async function start (key: string, job: string, env: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${stack.url}/v1/jobs/${job}/runs`, {
    method: 'POST',
    headers: { ...as(key), 'content-type': 'application/json' },
    body: JSON.stringify({ env })
  })
  const body = await response.json() as { name: string }
  if (response.status !== 202) throw new Error(`start: ${response.status} ${JSON.stringify(body)}`)
  return body.name
}

const followers: Record<'acme' | 'globex' | 'ops' | 'opsNightly', EventFollower> = {
  acme: await EventFollower.open(stack.url, as(KEYS.acme)),
  globex: await EventFollower.open(stack.url, as(KEYS.globex)),
  ops: await EventFollower.open(stack.url, as(KEYS.ops)),
  opsNightly: await EventFollower.open(stack.url, { ...as(KEYS.ops), job: 'nightly' })
}
t.teardown(() => { for (const follower of Object.values(followers)) follower.close() })

const runs = {
  succeeded: await start(KEYS.acme, 'echo'),
  failed: await start(KEYS.acme, 'echo', { ECHO_EXIT_CODE: '3' }),
  cancelled: await start(KEYS.globex, 'echo', { ECHO_SLEEP_MS: '60000' }),
  nightly: await start(KEYS.ops, 'nightly')
}
const finishedOf = (follower: EventFollower, run: string): boolean => follower.of(run).some(event => event.event === 'jobgate.run.finished')

t.before(async () => {
  const runningToCancel = (): boolean =>
    stack.emulator.executions(undefined, 'echo').find(run => run.metadata.name === runs.cancelled)?.status?.startTime !== undefined
  await until(runningToCancel, 60_000, 'the run to cancel has started')
  const cancel = await fetch(`${stack.url}/v1/jobs/echo/runs/${runs.cancelled}/cancel`, { method: 'POST', headers: as(KEYS.globex) })
  if (cancel.status !== 200) throw new Error(`cancel: ${cancel.status}`)
  await followers.ops.waitFor(() => Object.values(runs).every(run => finishedOf(followers.ops, run)), 'every run finished, seen by ops')
})

t.test('each run: exactly one started and one finished event, with its end state', async t => {
  const counts = countsOf(followers.ops.received)
  for (const run of Object.values(runs)) {
    const job = run === runs.nightly ? 'nightly' : 'echo'
    t.equal(counts.get(`jobgate.run.started jobs/${job}/runs/${run}`), 1, `${run} started once`)
    t.equal(counts.get(`jobgate.run.finished jobs/${job}/runs/${run}`), 1, `${run} finished once`)
  }
  t.equal(followers.ops.received.length, 8, 'nothing else')
  const ended = (run: string): string => followers.ops.of(run).find(event => event.event === 'jobgate.run.finished')?.data.data.state
  t.equal(ended(runs.succeeded), 'SUCCEEDED')
  t.equal(ended(runs.failed), 'FAILED')
  t.equal(ended(runs.cancelled), 'CANCELLED')
  t.equal(ended(runs.nightly), 'SUCCEEDED')
  const failed = followers.ops.of(runs.failed).find(event => event.event === 'jobgate.run.finished')?.data
  t.ok(failed.data.failedCount === 1 && failed.data.retriedCount > 0, 'the finished event carries the end counts')
})

t.test('events are CloudEvents in structured mode, ids stable per run and transition', async t => {
  const [started, finished] = followers.ops.of(runs.succeeded)
  t.match(started?.data, {
    specversion: '1.0',
    type: 'jobgate.run.started',
    id: `jobs/echo/runs/${runs.succeeded}/started`,
    source: '//run.googleapis.com/projects/local-project/locations/us-central1/services/jobgate',
    subject: `jobs/echo/runs/${runs.succeeded}`,
    datacontenttype: 'application/json',
    data: { name: runs.succeeded, job: 'echo', links: { self: `/v1/jobs/echo/runs/${runs.succeeded}` } }
  })
  t.ok(Number.isFinite(Date.parse(started?.data.time)), 'ce-time is a time')
  t.equal(finished?.data.id, `jobs/echo/runs/${runs.succeeded}/finished`)
  t.equal(started?.id?.endsWith(`~${started.data.id as string}`), true, 'the SSE id is the resume cursor, ending in the ce-id')
})

t.test('each caller sees only the runs it may: its tenant\'s, of jobs it may use', async t => {
  const subjects = (follower: EventFollower): string[] => [...new Set(follower.received.map(([, subject]) => subject.split('/').pop() as string))].sort()
  await followers.acme.waitFor(events => events.length >= 4, 'acme\'s four events')
  await followers.globex.waitFor(events => events.length >= 2, 'globex\'s two events')
  t.same(subjects(followers.acme), [runs.succeeded, runs.failed].sort(), 'acme: its two runs')
  t.same(subjects(followers.globex), [runs.cancelled], 'globex: its cancelled run')
  t.same(subjects(followers.opsNightly), [runs.nightly], '?job= follows one job')
  t.same(subjects(followers.ops), Object.values(runs).sort(), 'a tenant-free principal sees every tenant')
})

t.test('Last-Event-ID resumes after that event, without repeats, on a new connection', async t => {
  const first = followers.ops.events[0]
  const resumed = await EventFollower.open(stack.url, { ...as(KEYS.ops), 'last-event-id': first?.id as string })
  t.teardown(() => { resumed.close() })
  await resumed.waitFor(events => events.length >= 7, 'the seven events after the first')
  t.same(resumed.received, followers.ops.received.slice(1), 'the same events, in the same order, after the cursor')
  const last = followers.ops.events.at(-1)
  const atHead = await EventFollower.open(stack.url, { ...as(KEYS.ops), 'last-event-id': last?.id as string })
  t.teardown(() => { atHead.close() })
  const run = await start(KEYS.ops, 'nightly')
  await atHead.waitFor(events => events.some(event => event.event === 'jobgate.run.finished'), 'the new run\'s events')
  t.same(atHead.received.map(([type]) => type), ['jobgate.run.started', 'jobgate.run.finished'], 'only what came after the cursor')
  t.ok(atHead.of(run).length === 2)
})

t.test('a cursor older than the retention window gets a gap event first; a malformed one is a 400', async t => {
  const old = await EventFollower.open(stack.url, { ...as(KEYS.ops), 'last-event-id': '000000000001000000000~jobs/echo/runs/echo-aaaaa/started' })
  t.teardown(() => { old.close() })
  await old.waitFor(events => events.length > 0, 'the gap event')
  t.equal(old.events[0]?.event, 'gap')
  t.match(old.events[0]?.data, { message: /list runs to catch up/ })
  const bad = await fetch(`${stack.url}/v1/events`, { headers: { ...as(KEYS.ops), 'last-event-id': 'not-a-cursor' } })
  t.equal(bad.status, 400)
  t.match(await bad.json(), { error: { status: 'INVALID_ARGUMENT', message: /Last-Event-ID/ } })
})

t.test('?job= a job the caller may not use, or none at all, is refused like every job route', async t => {
  const forbidden = await fetch(`${stack.url}/v1/events?job=nightly`, { headers: as(KEYS.acme) })
  t.equal(forbidden.status, 404, 'a job the caller may not use answers like one that does not exist')
  const unknown = await fetch(`${stack.url}/v1/events?job=nope`, { headers: as(KEYS.acme) })
  t.equal(unknown.status, 404)
  const anonymous = await fetch(`${stack.url}/v1/events`)
  t.equal(anonymous.status, 401)
})
