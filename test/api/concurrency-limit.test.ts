import t from 'tap'
import type { CloudRunClient } from '../../api/cloudrun/client.js'
import type { Execution } from '../../api/cloudrun/execution.js'
import { ApiError } from '../../api/errors.js'
import { DEFAULT_MAX_WAITS_PER_CALLER, PerCallerConcurrency } from '../../api/policy/concurrency-limit.js'
import { fakeExecution, RUNNING, SUCCEEDED } from '../helpers/fake-cloud-run.js'
import { build } from '../helper.js'

t.test('PerCallerConcurrency: a slot per held request, per principal and tenant; past the cap a 429 with Retry-After', async t => {
  const limit = new PerCallerConcurrency(2)
  const acme = { name: 'ci', tenant: 'acme' }
  const releases = [limit.acquire(acme), limit.acquire(acme)]
  const refused = (() => { try { limit.acquire(acme) } catch (err) { return err } })()
  t.ok(refused instanceof ApiError)
  t.match((refused as ApiError).toBody(), { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: /ci already holds 2 waiting requests or event streams/ } })
  t.equal((refused as ApiError).retryAfterSeconds, 1)
  t.equal(limit.heldBy({ name: 'ci', tenant: 'globex' }), 0, 'the same principal name bound to another tenant has its own slots')
  limit.acquire({ name: 'ci', tenant: 'globex' })()
  releases[0]?.()
  releases[0]?.()
  t.equal(limit.heldBy(acme), 1, 'releasing twice gives back one slot')
  await limit.hold(acme, async () => { t.equal(limit.heldBy(acme), 2) })
  await t.rejects(limit.hold(acme, async () => { throw new Error('work failed') }), /work failed/)
  t.equal(limit.heldBy(acme), 1, 'a failed hold gives its slot back')
  releases[1]?.()
  t.equal(limit.heldBy(acme), 0)
})

t.test('?wait: the caller\'s 11th concurrent wait is a 429 that reads nothing upstream; another caller is unaffected; slots come back', async t => {
  let reads = 0
  let finish = (): void => {}
  const finished = new Promise<void>(resolve => { finish = resolve })
  let done = false
  const cloudRun = {
    getExecution: async (): Promise<Execution> => {
      reads++
      if (!done) await finished
      return fakeExecution('echo-job-1', 'echo-job', { conditions: done ? SUCCEEDED : RUNNING })
    }
  } as unknown as CloudRunClient
  const { app, services } = await build(t, { services: { cloudRun }, authenticate: async headers => ({ name: String(headers['x-caller']), tenantFree: true }) })
  const wait = async (caller: string) => await app.inject({ url: '/v1/jobs/echo/runs/echo-job-1?wait=30', headers: { 'x-caller': caller } })

  const held = Array.from({ length: DEFAULT_MAX_WAITS_PER_CALLER }, async () => await wait('ci'))
  // Waiters share one watcher (one upstream read for all): count the slots they hold, not reads.
  while (services.waits.heldBy({ name: 'ci' }) < DEFAULT_MAX_WAITS_PER_CALLER) await new Promise(resolve => setImmediate(resolve))
  const readsBefore = reads
  const refused = await wait('ci')
  t.equal(refused.statusCode, 429, refused.body)
  t.equal(refused.json().error.status, 'RESOURCE_EXHAUSTED')
  t.equal(refused.headers['retry-after'], '1')
  t.equal(reads, readsBefore, 'the refused wait never reached Cloud Run')
  const other = wait('ops')
  while (services.waits.heldBy({ name: 'ops' }) < 1) await new Promise(resolve => setImmediate(resolve))
  t.pass('another caller\'s wait is held, not refused')

  done = true
  finish()
  const answers = await Promise.all([...held, other])
  t.same([...new Set(answers.map(answer => answer.statusCode))], [200])
  const again = await wait('ci')
  t.equal(again.statusCode, 200, 'the slots came back when the waits ended')
  t.equal((await app.inject({ url: '/v1/jobs/echo/runs/echo-job-1', headers: { 'x-caller': 'ci' } })).statusCode, 200, 'a plain read takes no slot')
})
