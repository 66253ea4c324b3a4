import t, { type Test } from 'tap'
import { loadConfig } from '../../api/config.js'
import { FakeCloudRun, fakeExecution } from '../helpers/fake-cloud-run.js'
import { build, noLogs, UNIT_ENV } from '../helper.js'

/** Callers named by headers: x-caller is the principal name, x-tenant its tenant. Cloud Run's read budget (a guard of its own) stays out of the way. */
async function setup (t: Test) {
  const fake = new FakeCloudRun()
  const config = loadConfig({ ...UNIT_ENV, JOBGATE_RUN_READS_PER_MINUTE: '1000000', JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { job: 'echo-job' } } }) })
  const built = await build(t, {
    config,
    services: { cloudRun: fake, logs: noLogs },
    authenticate: async headers => ({ name: String(headers['x-caller']), ...(headers['x-tenant'] !== undefined && { tenant: String(headers['x-tenant']) }) })
  })
  return { app: built.app, fake }
}
const as = (caller: string, tenant?: string): Record<string, string> => ({ 'x-caller': caller, ...(tenant !== undefined && { 'x-tenant': tenant }) })

t.test('the run budget is per principal AND tenant: one principal name bound to two tenants has two budgets', async t => {
  const { app, fake } = await setup(t)
  const start = async (headers: Record<string, string>) => await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', headers, payload: {} })
  for (let i = 0; i < 60; i++) t.equal((await start(as('ci', 'acme'))).statusCode, 202)
  const limited = await start(as('ci', 'acme'))
  t.equal(limited.statusCode, 429)
  t.match(limited.json().error.message, /at most 60 runs per minute per caller/)
  t.equal((await start(as('ci', 'globex'))).statusCode, 202, 'ci bound to globex is another caller')
  t.equal((await start(as('ci'))).statusCode, 202, 'and ci bound to no tenant a third')
  t.equal(fake.calls.filter(call => call.method === 'runJob').length, 62)
})

t.test('reads have their own per-caller budget (JOBGATE_READ_RATE_LIMIT, default 300), shared by get, list, logs and cancel', async t => {
  const { app, fake } = await setup(t)
  fake.executions.set('echo-job-1', [fakeExecution('echo-job-1', 'echo-job')])
  const urls = ['/v1/jobs/echo/runs/echo-job-1', '/v1/jobs/echo/runs', '/v1/jobs/echo/runs/echo-job-1/logs']
  for (let i = 0; i < 300; i++) {
    const response = await app.inject({ url: urls[i % urls.length] ?? '', headers: as('reader') })
    if (response.statusCode !== 200) t.fail(`read ${i}: ${response.statusCode} ${response.body}`)
  }
  const upstream = fake.calls.length
  for (const url of urls) {
    const limited = await app.inject({ url, headers: as('reader') })
    t.equal(limited.statusCode, 429, url)
    t.match(limited.json().error.message, /at most 300 reads per minute per caller/)
    t.ok(Number(limited.headers['retry-after']) >= 1)
  }
  t.equal((await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs/echo-job-1/cancel', headers: as('reader') })).statusCode, 429, 'cancel spends the same budget')
  t.equal(fake.calls.length, upstream, 'the refused reads reached nothing upstream')
  t.equal((await app.inject({ url: urls[0] ?? '', headers: as('other') })).statusCode, 200, 'another caller reads on')
  t.equal((await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', headers: as('reader'), payload: {} })).statusCode, 202, 'starting runs is another budget')
})
