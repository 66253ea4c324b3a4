/** The policy step with a recording fake Cloud Run: failures around the start, cancels of runs already gone, paging. */
import { pino } from 'pino'
import t from 'tap'
import type { CloudRunClient, ExecutionPage } from '../../api/cloudrun/client.js'
import { ConcurrencyConflict } from '../../api/concurrency/conflict.js'
import { ConcurrencyControl } from '../../api/concurrency/control.js'
import { MemoryLeaseStore } from '../../api/concurrency/memory-lease-store.js'
import { readScopeView } from '../../api/concurrency/scope-view.js'
import { ApiError } from '../../api/errors.js'
import { testEntry } from '../helpers/catalog-entry.js'
import { fakeExecution, FakeCloudRun, RUNNING, SUCCEEDED } from '../helpers/fake-cloud-run.js'

const forbid = testEntry({ job: 'report-job', concurrency: { policy: 'Forbid' } }, 'report')
const replace = testEntry({ job: 'report-job', concurrency: { policy: 'Replace' } }, 'report')
const silent = pino({ level: 'silent' })

function setup (store = new MemoryLeaseStore()): { fake: FakeCloudRun, control: ConcurrencyControl, store: MemoryLeaseStore } {
  const fake = new FakeCloudRun()
  return { fake, store, control: new ConcurrencyControl(fake, store, { pendingMs: 120_000 }) }
}
const startWith = (fake: FakeCloudRun, entry = forbid) => async () => await fake.runJob(entry, {})

t.test('a start that provably failed frees its slot at once', async t => {
  const { fake, control } = setup()
  fake.fail('runJob', new ApiError('UNAVAILABLE', 'Cloud Run unavailable', { httpCode: 503, runMayHaveStarted: false }))
  t.match(await control.start(forbid, {}, startWith(fake), silent).catch((err: unknown) => err), { status: 'UNAVAILABLE' })
  t.match(await control.start(forbid, {}, startWith(fake), silent), { replaced: [] }, 'the next start goes ahead')
})

t.test('a start whose outcome is unknown keeps its slot (the run may exist, unseen yet)', async t => {
  const { fake, control } = setup()
  fake.fail('runJob', new ApiError('DEADLINE_EXCEEDED', 'timed out', { runMayHaveStarted: true }))
  t.match(await control.start(forbid, {}, startWith(fake), silent).catch((err: unknown) => err), { status: 'DEADLINE_EXCEEDED' })
  await t.rejects(control.start(forbid, {}, startWith(fake), silent), ConcurrencyConflict)
})

t.test('a start that fails with an unexpected error (not one of jobgate\'s) keeps its slot: the run may have started', async t => {
  const { fake, control } = setup()
  fake.fail('runJob', new TypeError('socket hung up in a way nobody mapped'))
  t.match(await control.start(forbid, {}, startWith(fake), silent).catch((err: unknown) => err), { name: 'TypeError' })
  await t.rejects(control.start(forbid, {}, startWith(fake), silent), ConcurrencyConflict, 'the next start is refused until the lease lapses')
})

t.test('the scope is the rule\'s, not the job\'s tenant key: a job-wide rule counts every tenant\'s runs', async t => {
  // The catalog refuses this pair (a tenant-scoped job's rule is per tenant); the control step still follows the rule it is given.
  const scoped = testEntry({ job: 'report-job', env: { tenantKey: 'TENANT_ID' } }, 'report')
  const jobWide = { ...scoped, concurrency: { policy: 'Forbid' as const, maxRunning: 1, scope: 'job' as const, onConflict: 'retry' as const } }
  const globexRun = fakeExecution('report-job-globx', 'report-job', { conditions: RUNNING })
  const { fake, control } = setup()
  fake.listPage = { executions: [{ ...globexRun, spec: { template: { spec: { containers: [{ env: [{ name: 'TENANT_ID', value: 'globex' }] }] } } } }] }
  await t.rejects(control.start(jobWide, { env: { TENANT_ID: 'acme' } }, startWith(fake, jobWide), silent), ConcurrencyConflict)
  const perTenant = { ...scoped, concurrency: { ...jobWide.concurrency, scope: 'tenant' as const, tenantKey: 'TENANT_ID' } }
  t.match(await control.start(perTenant, { env: { TENANT_ID: 'acme' } }, startWith(fake, perTenant), silent), { replaced: [] }, 'per tenant, globex\'s run is not acme\'s')
})

t.test('a lease store that fails to record the run: the start still answers, and the failure is logged', async t => {
  const store = new MemoryLeaseStore()
  store.attach = async () => { throw new Error('store down') }
  const { fake, control } = setup(store)
  const lines: string[] = []
  const log = pino({ level: 'error' }, { write: (line: string) => { lines.push(line) } })
  const { execution } = await control.start(forbid, {}, startWith(fake), log)
  t.ok(execution.metadata?.name)
  t.match(lines.join(''), /could not record run report-job-/)
})

t.test('Replace: a run that ended before its cancel is fine; other cancel failures stop the start', async t => {
  const { fake, control } = setup()
  fake.listPage = { executions: [fakeExecution('report-job-old', 'report-job', { conditions: RUNNING })] }
  fake.executions.set('report-job-old', [fakeExecution('report-job-old', 'report-job', { conditions: RUNNING })])
  fake.fail('cancelExecution', new ApiError('FAILED_PRECONDITION', 'already completed'))
  t.match(await control.start(replace, {}, startWith(fake, replace), silent), { replaced: ['report-job-old'] })
  const denied = setup()
  denied.fake.listPage = fake.listPage
  denied.fake.fail('cancelExecution', new ApiError('PERMISSION_DENIED', 'lacks run.executions.cancel'))
  t.match(await denied.control.start(replace, {}, startWith(denied.fake, replace), silent).catch((err: unknown) => err), { status: 'PERMISSION_DENIED' })
  t.equal(denied.fake.calls.filter(call => call.method === 'runJob').length, 0, 'nothing started')
})

t.test('the 409 body and Location', async t => {
  const { fake, control } = setup()
  fake.listPage = { executions: [fakeExecution('report-job-a', 'report-job', { conditions: RUNNING })] }
  const err = await control.start(forbid, {}, startWith(fake), silent).catch((e: unknown) => e) as ConcurrencyConflict
  t.equal(err.httpCode, 409)
  t.equal(err.location, '/v1/jobs/report/runs/report-job-a')
  t.same(err.toBody().error.runningRuns, ['report-job-a'])
  t.equal(err.onConflict, 'retry')
})

t.test('a known view (the job\'s reconciler\'s) admits without a read; a direct start it finds full reads Cloud Run\'s list', async t => {
  const queue = testEntry({ job: 'report-job', concurrency: { policy: 'Queue' } }, 'report')
  // The reconciler still follows report-job-old, which Cloud Run already lists as ended.
  const stale = { running: [{ name: 'report-job-old', createTime: '2026-12-07T00:00:00Z' }], listed: new Set(['report-job-old']) }
  const ended = { executions: [fakeExecution('report-job-old', 'report-job', { conditions: SUCCEEDED })] }
  const lists = (fake: FakeCloudRun): number => fake.calls.filter(call => call.method === 'listExecutions').length
  const free = setup()
  t.match(await free.control.start(forbid, {}, startWith(free.fake), silent, { running: [], listed: new Set() }), { replaced: [] })
  t.equal(lists(free.fake), 0, 'room on the view: no read')
  const forbidden = setup()
  forbidden.fake.listPage = ended
  t.match(await forbidden.control.start(forbid, {}, startWith(forbidden.fake), silent, stale, true), { replaced: [] },
    'Forbid: admitted after all')
  t.equal(lists(forbidden.fake), 1, 'the refusal on the view was checked against one list')
  const replacing = setup()
  replacing.fake.listPage = ended
  t.match(await replacing.control.start(replace, {}, startWith(replacing.fake, replace), silent, stale, true), { replaced: [] },
    'Replace: nothing cancelled for a run the view missed the end of')
  t.equal(replacing.fake.calls.filter(call => call.method === 'cancelExecution').length, 0)
  const queued = setup()
  queued.fake.listPage = ended
  t.match(await queued.control.start(queue, {}, startWith(queued.fake, queue), silent, stale, true), { replaced: [] },
    'Queue: started at once rather than queued behind a run that ended')
  const admitted = setup()
  admitted.fake.listPage = ended
  await t.rejects(admitted.control.start(queue, {}, startWith(admitted.fake, queue), silent, stale), ConcurrencyConflict,
    'an admission\'s refusal on the view stands: the run goes back to its place, and the next pass reads Cloud Run')
  t.equal(lists(admitted.fake), 0)
})

t.test('readScopeView: pages until a page has no running run and is older than the lookback; names only', async t => {
  const pages: ExecutionPage[] = [
    { executions: [fakeExecution('r-3', 'j', { conditions: RUNNING, created: '2026-11-29T10:00:00Z' }), { metadata: {} }], nextPageToken: 'p2' },
    { executions: [fakeExecution('r-2', 'j', { conditions: SUCCEEDED, created: '2026-11-29T09:00:00Z' }), fakeExecution('r-1b', 'j', { conditions: RUNNING })], nextPageToken: 'p3' },
    { executions: [fakeExecution('r-1', 'j', { conditions: SUCCEEDED, created: '2026-11-20T00:00:00Z' })], nextPageToken: 'p4' },
    { executions: [fakeExecution('r-0', 'j', { conditions: RUNNING })] }
  ]
  const tokens: Array<string | undefined> = []
  const cloudRun = {
    listExecutions: async (_entry: unknown, page: { pageToken?: string }) => {
      tokens.push(page.pageToken)
      return pages[tokens.length - 1]
    }
  } as unknown as CloudRunClient
  const view = await readScopeView(cloudRun, forbid, undefined, 3_600_000, Date.parse('2026-11-29T10:30:00Z'))
  t.same(tokens, [undefined, 'p2', 'p3'], 'stopped after the old page without a running run')
  t.same(view.running.map(run => run.name), ['r-1b', 'r-3'], 'oldest first')
  t.same([...view.listed].sort(), ['r-1', 'r-1b', 'r-2', 'r-3'])
  tokens.length = 0
  const sought = await readScopeView(cloudRun, forbid, undefined, 3_600_000, Date.parse('2026-11-29T10:30:00Z'), new Set(['r-2', 'r-3']))
  t.same(tokens, [undefined, 'p2'], 'seeking a view\'s runs: stopped once both were listed')
  t.same(sought.running.map(run => run.name), ['r-1b', 'r-3'])
})

t.test('readScopeView: tenant scope keeps the tenant\'s runs only', async t => {
  const entry = testEntry({ env: { tenantKey: 'TENANT_ID' }, concurrency: { policy: 'Forbid', scope: 'tenant' } }, 'report')
  const withTenant = (name: string, tenant?: string) => ({
    ...fakeExecution(name, 'report', { conditions: RUNNING }),
    spec: { template: { spec: { containers: [{ env: tenant === undefined ? [] : [{ name: 'TENANT_ID', value: tenant }] }] } } }
  })
  const cloudRun = { listExecutions: async () => ({ executions: [withTenant('a', 'acme'), withTenant('g', 'globex'), withTenant('none')] }) } as unknown as CloudRunClient
  const view = await readScopeView(cloudRun, entry, 'acme', 1000, Date.now())
  t.same(view.running.map(run => run.name), ['a'])
  t.equal(view.listed.size, 3)
})
