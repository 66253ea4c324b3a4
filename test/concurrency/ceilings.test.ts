/**
 * Project-wide ceilings (JOBGATE_MAX_RUNNING_EXECUTIONS, JOBGATE_RUN_STARTS_PER_MINUTE): a Queue job waits under
 * them, any other start gets 429 with Retry-After. One instance in local mode; starts counted at the emulator.
 */
import t, { type Test } from 'tap'
import type { JobCatalog, JobEntry } from '../../api/catalog.js'
import { ProjectCeilings, type CeilingOutcome } from '../../api/lifecycle/ceilings.js'
import { MemoryLifecycleStore } from '../../api/lifecycle/memory-store.js'
import { advanced } from '../../api/lifecycle/recorder.js'
import { runEvent, startCountsUntil, type RunRecord } from '../../api/lifecycle/run-record.js'
import { loadConfig } from '../../api/config.js'
import { ConfigError } from '../../api/config-error.js'
import { loadLifecycleConfig } from '../../api/lifecycle/config.js'
import { build } from '../helper.js'
import { call } from '../helpers/call.js'
import { recordOf, runOf } from '../lifecycle/store-suite.js'

const SLEEP = { ECHO_SLEEP_MS: '600000' }
const QUICK = { ECHO_SLEEP_MS: '0' }
const catalog = {
  jobs: {
    plain: { env: { allow: ['ECHO_*'] } },
    forbid: { env: { allow: ['ECHO_*'] }, concurrency: { policy: 'Forbid', maxRunning: 10 } },
    queue: { env: { allow: ['ECHO_*'] }, concurrency: { policy: 'Queue', maxRunning: 10 } }
  }
}

async function stack (t: Test, ceilings: Record<string, string>): Promise<{ url: string, starts: () => number }> {
  const built = await build(t, {
    env: {
      JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify(catalog),
      JOBGATE_RATE_LIMIT: '100000', JOBGATE_READ_RATE_LIMIT: '100000', ...ceilings
    },
    listen: true
  })
  const starts = (): number => built.emulator.requests.filter(request => request.method === 'POST' && request.path.endsWith(':run')).length
  return { url: built.url, starts }
}

t.test('settings: defaults (800 running in cloud mode, none in local mode, no starts ceiling) and one-line refusals', async t => {
  t.same(loadLifecycleConfig({}, 'p', 'europe-west1').ceilings, { maxRunningExecutions: 800, runStartsPerMinute: 0 })
  t.same(loadConfig({ JOBGATE_MODE: 'local' }).lifecycle.ceilings, { maxRunningExecutions: 100_000, runStartsPerMinute: 0 },
    'the emulator has no quota')
  for (const [variable, value, message] of [
    ['JOBGATE_MAX_RUNNING_EXECUTIONS', '0', /^JOBGATE_MAX_RUNNING_EXECUTIONS: must be a whole number from 1 to 100000, not "0"$/],
    ['JOBGATE_MAX_RUNNING_EXECUTIONS', '1e3', /^JOBGATE_MAX_RUNNING_EXECUTIONS: must be a whole number/],
    ['JOBGATE_RUN_STARTS_PER_MINUTE', '-5', /^JOBGATE_RUN_STARTS_PER_MINUTE: must be a whole number from 0 to 1000000, not "-5"$/]
  ] as const) {
    let thrown: unknown
    try {
      loadConfig({ JOBGATE_MODE: 'local', [variable]: value })
    } catch (err) {
      thrown = err
    }
    t.ok(thrown instanceof ConfigError && message.test(thrown.message), `${variable}: ${String(thrown)}`)
  }
})

t.test('JOBGATE_MAX_RUNNING_EXECUTIONS: other policies get 429 with Retry-After; ' +
  'a Queue job waits and starts once a run ended', async t => {
  const { url, starts } = await stack(t, { JOBGATE_MAX_RUNNING_EXECUTIONS: '2' })
  const running = [
    await call(`${url}/v1/jobs/plain/runs`, { body: { env: SLEEP } }), await call(`${url}/v1/jobs/forbid/runs`, { body: { env: SLEEP } })
  ]
  t.same(running.map(answer => answer.status), [202, 202])
  for (const job of ['plain', 'forbid']) {
    const refused = await call(`${url}/v1/jobs/${job}/runs`, { body: { env: QUICK } })
    t.equal(refused.status, 429, `${job}: refused at the ceiling`)
    t.equal(refused.headers.get('retry-after'), '30')
    t.match(refused.body.error, {
      status: 'RESOURCE_EXHAUSTED',
      message: /runs 2 executions in project local-project, region us-central1 \(JOBGATE_MAX_RUNNING_EXECUTIONS\)/
    })
  }
  const queued = await call(`${url}/v1/jobs/queue/runs`, { body: { env: QUICK } })
  t.match(queued, { status: 202, body: { state: 'QUEUED' } }, 'the Queue job is under its own limit, but waits under the ceiling')
  t.equal(starts(), 2, 'nothing past the ceiling reached Cloud Run')
  await call(`${url}/v1/jobs/plain/runs/${running[0]?.body.name as string}/cancel`, { method: 'POST' })
  t.equal((await call(`${url}/v1/jobs/queue/runs/${queued.body.name as string}?wait=60`)).body.state, 'SUCCEEDED',
    'admitted once a run ended')
  t.equal(starts(), 3)
  await call(`${url}/v1/jobs/forbid/runs/${running[1]?.body.name as string}/cancel`, { method: 'POST' })
})

t.test('JOBGATE_RUN_STARTS_PER_MINUTE: past it in the last minute, 429 with Retry-After, or QUEUED for a Queue job', async t => {
  const { url, starts } = await stack(t, { JOBGATE_RUN_STARTS_PER_MINUTE: '3' })
  for (let i = 0; i < 3; i++) t.equal((await call(`${url}/v1/jobs/plain/runs`, { body: { env: QUICK } })).status, 202)
  const refused = await call(`${url}/v1/jobs/plain/runs`, { body: { env: QUICK } })
  t.match(refused,
    { status: 429, body: { error: { message: /started 3 runs .* within the last minute \(JOBGATE_RUN_STARTS_PER_MINUTE\)/ } } })
  t.equal(refused.headers.get('retry-after'), '10')
  t.match(await call(`${url}/v1/jobs/queue/runs`, { body: { env: QUICK } }), { status: 202, body: { state: 'QUEUED' } })
  t.equal(starts(), 3)
})

t.test('starts checked at the same moment pass the ceilings one at a time: 20 at once under a ceiling of 5 start 5', async t => {
  const { url, starts } = await stack(t, { JOBGATE_RUN_STARTS_PER_MINUTE: '5' })
  const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) =>
    await call(`${url}/v1/jobs/${i % 2 === 0 ? 'plain' : 'queue'}/runs`, { body: { env: QUICK } })))
  const started = answers.filter(answer => answer.status === 202 && answer.body.state !== 'QUEUED').length
  t.equal(started, 5, 'five started')
  t.equal(answers.filter(answer => answer.status === 429).length + answers.filter(answer => answer.body.state === 'QUEUED').length, 15,
    'the rest refused (plain) or queued (Queue)')
  t.equal(starts(), 5, 'five reached Cloud Run')
})

t.test('a start answered late counts for a minute after its answer: no minute of executions created holds more than the ceiling',
  async t => {
    let now = 0
    const store = new MemoryLifecycleStore({ now: () => now })
    const entry = { id: 'late', project: 'p', region: 'r' } as unknown as JobEntry
    const ceilings = new ProjectCeilings(store, new Map([['late', entry]]) as unknown as JobCatalog,
      { maxRunningExecutions: 1_000, runStartsPerMinute: 3 }, () => now)
    const begin = async (): Promise<CeilingOutcome<RunRecord>> => await ceilings.within(entry, async () => {
      const record = recordOf('late', { startCountsUntil: startCountsUntil(now, false) })
      await store.begin(record)
      return record
    })
    const begun = await Promise.all([begin(), begin(), begin(), begin()])
    t.same(begun.map(outcome => 'begun' in outcome), [true, true, true, false], 'three at 0 s, the fourth refused')
    // Cloud Run answers (creates the executions) 10 s later: they count until 70 s, not 60 s after the claims.
    now = 10_000
    for (const [i, outcome] of begun.entries()) {
      if (!('begun' in outcome)) continue
      const run = runOf('late', `late-${i}`)
      await store.transition(advanced(outcome.begun, 'started', run, now), runEvent(outcome.begun, 'started', run, run.createTime as string))
    }
    now = 61_000
    t.match(await begin(), { hit: { message: /JOBGATE_RUN_STARTS_PER_MINUTE/ } }, 'at 61 s: three executions were created within the minute')
    now = 70_001
    t.ok('begun' in await begin(), 'a minute after the answers: free again')
  })

t.test('one check at a time per project and region: a start elsewhere does not wait for it', async t => {
  const store = new MemoryLifecycleStore()
  const entries = [['a1', 'p1'], ['a2', 'p1'], ['b1', 'p2']].map(([id, project]) => ({ id, project, region: 'r' }) as unknown as JobEntry)
  const ceilings = new ProjectCeilings(store, new Map(entries.map(entry => [entry.id, entry])) as unknown as JobCatalog,
    { maxRunningExecutions: 1_000, runStartsPerMinute: 100 }, Date.now)
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  const done: string[] = []
  const first = ceilings.within(entries[0] as JobEntry, async () => { await held; done.push('a1') })
  const samePlace = ceilings.within(entries[1] as JobEntry, async () => { done.push('a2') })
  await ceilings.within(entries[2] as JobEntry, async () => { done.push('b1') })
  t.same(done, ['b1'], 'project p2 went ahead; p1\'s second start waits for its first')
  release()
  await Promise.all([first, samePlace])
  t.same(done, ['b1', 'a1', 'a2'], 'then p1\'s, in order')
})
