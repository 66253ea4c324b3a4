import t from 'tap'
import type { Execution } from '../../api/cloudrun/execution.js'
import { ApiError } from '../../api/errors.js'
import { maySeeRun, runsVisibleTo, runTenant } from '../../api/policy/run-access.js'
import { FakeCloudRun, fakeExecution } from '../helpers/fake-cloud-run.js'
import { testEntry } from '../helpers/catalog-entry.js'

const scoped = testEntry({ job: 'reports-job', env: { tenantKey: 'TENANT_ID' } }, 'reports')
const named = testEntry({ job: 'reports-job', container: 'worker', env: { tenantKey: 'TENANT_ID' } }, 'reports')
const open = testEntry({ job: 'reports-job' }, 'reports')

/** An execution whose containers ran with these env lists (what Cloud Run reports after overrides). */
function ranWith (name: string, containers: Array<{ name?: string, env?: Array<{ name: string, value?: string }> }>): Execution {
  const execution = fakeExecution(name, 'reports-job')
  return { ...execution, spec: { ...execution.spec, template: { spec: { containers } } } }
}
const acmeRun = ranWith('reports-job-acme1', [{ name: 'job', env: [{ name: 'REGION', value: 'eu' }, { name: 'TENANT_ID', value: 'acme' }] }])
const globexRun = ranWith('reports-job-globx', [{ name: 'job', env: [{ name: 'TENANT_ID', value: 'globex' }] }])
const noTenantRun = ranWith('reports-job-other', [{ name: 'job' }])

const acme = { name: 'acme-ci', tenant: 'acme' }
const ops = { name: 'ops', tenantFree: true }
const unbound = { name: 'ci' }

t.test('runTenant: the tenant key in the env of the container jobgate overrides', async t => {
  t.equal(runTenant(scoped, acmeRun), 'acme')
  t.equal(runTenant(scoped, noTenantRun), undefined, 'a run started outside jobgate has no tenant')
  t.equal(runTenant(scoped, fakeExecution('x', 'reports-job')), undefined, 'no template in the answer: no tenant')
  t.equal(runTenant(open, acmeRun), undefined, 'a job without a tenant key has no run tenants')
  const sidecar = ranWith('reports-job-multi', [{ name: 'proxy', env: [{ name: 'TENANT_ID', value: 'globex' }] }, { name: 'worker', env: [{ name: 'TENANT_ID', value: 'acme' }] }])
  t.equal(runTenant(named, sidecar), 'acme', 'the named container, not the first one')
  t.equal(runTenant(scoped, sidecar), 'globex', 'no container named: the first one, as Cloud Run applies an unnamed override')
})

t.test('maySeeRun: own tenant only; tenant-free callers and jobs without a tenant key see all', async t => {
  t.ok(maySeeRun(scoped, acme, acmeRun))
  t.notOk(maySeeRun(scoped, acme, globexRun))
  t.notOk(maySeeRun(scoped, acme, noTenantRun))
  t.notOk(maySeeRun(scoped, unbound, acmeRun), 'a caller bound to no tenant sees no tenant run')
  t.notOk(maySeeRun(scoped, { name: 'x', tenant: 'ACME' }, acmeRun), 'tenants compare exactly')
  for (const run of [acmeRun, globexRun, noTenantRun]) {
    t.ok(maySeeRun(scoped, ops, run))
    t.ok(maySeeRun(open, acme, run))
  }
})

t.test('runsVisibleTo: another tenant\'s run is the 404 of a missing run, never listed, never cancelled', async t => {
  const fake = new FakeCloudRun()
  for (const run of [acmeRun, globexRun]) fake.executions.set(run.metadata?.name ?? '', [run])
  fake.listPage = { executions: [acmeRun, globexRun, noTenantRun], nextPageToken: 'next' }
  const runs = runsVisibleTo(fake, acme)

  t.equal((await runs.getExecution(scoped, 'reports-job-acme1')).metadata?.name, 'reports-job-acme1')
  const hidden = await runs.getExecution(scoped, 'reports-job-globx').catch((err: unknown) => err)
  const missing = await runs.getExecution(scoped, 'reports-job-nope1').catch((err: unknown) => err)
  t.ok(hidden instanceof ApiError && missing instanceof ApiError)
  t.same((hidden as ApiError).toBody(), { error: { code: 404, status: 'NOT_FOUND', message: 'run "reports-job-globx" of job "reports" not found.' } })
  t.same((hidden as ApiError).toBody().error.message.replace('globx', 'nope1'), (missing as ApiError).toBody().error.message, 'the same answer as a run that does not exist')

  const listed = await runs.listExecutions(scoped, { pageSize: 3 })
  t.same(listed.executions.map(e => e.metadata?.name), ['reports-job-acme1'])
  t.equal(listed.nextPageToken, 'next', 'paging goes on')

  const refused = await runs.cancelExecution(scoped, 'reports-job-globx').catch((err: unknown) => err)
  t.equal((refused as ApiError).status, 'NOT_FOUND')
  t.equal((await runs.getExecution(scoped, 'reports-job-acme1')).status?.cancelledCount, undefined)
  t.equal((await runsVisibleTo(fake, ops).getExecution(scoped, 'reports-job-globx')).status?.cancelledCount, undefined, 'globex\'s run was not cancelled')
  const seen: string[] = []
  const cancelled = await runs.cancelExecution(scoped, 'reports-job-acme1', execution => { seen.push(execution.metadata?.name ?? '') })
  t.equal(cancelled.status?.cancelledCount, 1, 'its own run is cancelled')
  t.same(seen, ['reports-job-acme1'], 'a caller\'s own check still runs')
})
