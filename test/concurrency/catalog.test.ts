/** The catalog's `concurrency` field: defaults, and what is refused at start-up. */
import t, { type Test } from 'tap'
import { parseCatalog } from '../../api/catalog.js'

const defaults = { project: 'my-project', region: 'europe-west1' }
const entryWith = (entry: Record<string, unknown>) => parseCatalog(JSON.stringify({ jobs: { report: entry } }), 'JOBGATE_JOBS', defaults).get('report')

function refused (t: Test, entry: Record<string, unknown>, message: RegExp): void {
  t.throws(() => entryWith(entry), { name: 'ConfigError', variable: 'JOBGATE_JOBS', message }, message.source)
}

t.test('no field means Allow: nothing to enforce', async t => {
  t.equal(entryWith({})?.concurrency, undefined)
  t.equal(entryWith({ concurrency: { policy: 'Allow' } })?.concurrency, undefined, 'an explicit Allow is the same')
})

t.test('defaults: maxRunning 1, scope job, onConflict retry', async t => {
  t.strictSame(entryWith({ concurrency: { policy: 'Forbid' } })?.concurrency, { policy: 'Forbid', maxRunning: 1, scope: 'job', onConflict: 'retry' })
  t.strictSame(entryWith({ concurrency: { policy: 'Replace', maxRunning: 3 } })?.concurrency, { policy: 'Replace', maxRunning: 3, scope: 'job', onConflict: 'retry' })
})

t.test('tenant scope carries the tenant key', async t => {
  t.strictSame(entryWith({ env: { tenantKey: 'TENANT_ID' }, concurrency: { policy: 'Forbid', scope: 'tenant', onConflict: 'drop' } })?.concurrency,
    { policy: 'Forbid', maxRunning: 1, scope: 'tenant', tenantKey: 'TENANT_ID', onConflict: 'drop' })
})

t.test('issue 23 finding 2: on a tenant-scoped job a policy is per tenant, or the start is refused', async t => {
  for (const policy of ['Forbid', 'Replace']) {
    t.strictSame(entryWith({ env: { tenantKey: 'TENANT_ID' }, concurrency: { policy } })?.concurrency,
      { policy, maxRunning: 1, scope: 'tenant', tenantKey: 'TENANT_ID', onConflict: 'retry' }, `${policy} without a scope: per tenant`)
    refused(t, { env: { tenantKey: 'TENANT_ID' }, concurrency: { policy, scope: 'job' } },
      /^JOBGATE_JOBS: job "report": concurrency.scope "job" on a tenant-scoped job \(env.tenantKey TENANT_ID\) would let one tenant's runs refuse, or be cancelled by, another's; use scope "tenant"/)
  }
})

t.test('refused at start-up, naming the variable, the job and the field', async t => {
  refused(t, { concurrency: { policy: 'Forbid', scope: 'tenant' } }, /^JOBGATE_JOBS: job "report": concurrency.scope "tenant" needs env.tenantKey/)
  refused(t, { concurrency: { policy: 'Allow', scope: 'tenant' } }, /needs env.tenantKey/)
  refused(t, { concurrency: { policy: 'forbid' } }, /invalid catalog at \/jobs\/report\/concurrency\/policy/)
  refused(t, { concurrency: {} }, /invalid catalog at \/jobs\/report\/concurrency/)
  refused(t, { concurrency: { policy: 'Forbid', maxRunning: 0 } }, /\/concurrency\/maxRunning/)
  refused(t, { concurrency: { policy: 'Forbid', maxRunning: 1.5 } }, /\/concurrency\/maxRunning/)
  refused(t, { concurrency: { policy: 'Forbid', maxRunning: 1001 } }, /\/concurrency\/maxRunning/)
  refused(t, { concurrency: { policy: 'Forbid', scope: 'project' } }, /\/concurrency\/scope/)
  refused(t, { concurrency: { policy: 'Forbid', onConflict: 'queue' } }, /\/concurrency\/onConflict/)
  refused(t, { concurrency: { policy: 'Forbid', schedule: '* * * * *' } }, /\/concurrency/)
})

t.test('Queue: a queue timeout (default 24 h); job-wide on a tenant-scoped job (tenants take turns, nothing is refused)', async t => {
  t.strictSame(entryWith({ concurrency: { policy: 'Queue', maxRunning: 100 } })?.concurrency,
    { queueTimeoutMs: 86_400_000, policy: 'Queue', maxRunning: 100, scope: 'job', onConflict: 'retry' })
  t.strictSame(
    entryWith({ env: { tenantKey: 'TENANT_ID' }, concurrency: { policy: 'Queue', scope: 'job', queueTimeoutSeconds: 60 } })?.concurrency,
    { queueTimeoutMs: 60_000, policy: 'Queue', maxRunning: 1, scope: 'job', onConflict: 'retry' })
  t.match(entryWith({ env: { tenantKey: 'TENANT_ID' }, concurrency: { policy: 'Queue' } })?.concurrency,
    { scope: 'tenant', tenantKey: 'TENANT_ID' })
  refused(t, { concurrency: { policy: 'Forbid', queueTimeoutSeconds: 60 } },
    /^JOBGATE_JOBS: job "report": concurrency.queueTimeoutSeconds needs policy "Queue"/)
  refused(t, { concurrency: { policy: 'Queue', onConflict: 'drop' } }, /concurrency.onConflict does not apply to policy "Queue"/)
  refused(t, { concurrency: { policy: 'Queue', queueTimeoutSeconds: 0 } }, /\/concurrency\/queueTimeoutSeconds/)
  refused(t, { concurrency: { policy: 'Queue', queueTimeoutSeconds: 8 * 86_400 } }, /\/concurrency\/queueTimeoutSeconds/)
})
