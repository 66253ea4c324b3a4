import t from 'tap'
import type { Execution } from '../../api/cloudrun/execution.js'
import { maySeeRun, runTenant } from '../../api/policy/run-access.js'
import { fakeExecution } from '../helpers/fake-cloud-run.js'
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
  t.notOk(maySeeRun(scoped, unbound, noTenantRun), 'nor a run without a tenant (started outside jobgate): its missing tenant is not "no tenant" to match')
  t.notOk(maySeeRun(scoped, { name: 'x', tenant: 'ACME' }, acmeRun), 'tenants compare exactly')
  for (const run of [acmeRun, globexRun, noTenantRun]) {
    t.ok(maySeeRun(scoped, ops, run))
    t.ok(maySeeRun(open, acme, run))
  }
})
