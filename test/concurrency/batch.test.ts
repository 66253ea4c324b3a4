/**
 * Batches (POST /v1/jobs/{job}/batches) in one instance (local mode, memory store): the API over a real socket, the Cloud Run
 * emulator running the companion job, starts counted at the emulator, events counted as the lifecycle records them.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import type { StoredEvent } from '../../api/lifecycle/index.js'
import { build } from '../helper.js'
import { call } from '../helpers/call.js'
import { auditLines, captureLogs } from '../helpers/log-capture.js'
import { runCli } from '../cli/helpers.js'
import { eventually } from '../lifecycle/pubsub-helpers.js'

const QUICK = { ECHO_SLEEP_MS: '0' }
const SLEEP = { ECHO_SLEEP_MS: '600000' }
const catalog = {
  jobs: {
    export: { env: { tenantKey: 'TENANT_ID', allow: ['ECHO_*'] }, concurrency: { policy: 'Queue', scope: 'job', maxRunning: 2 } },
    plain: { env: { allow: ['ECHO_*'] } }
  }
}
const logs = captureLogs()
const stack = await build(t, {
  env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify(catalog), JOBGATE_RATE_LIMIT: '100000', JOBGATE_READ_RATE_LIMIT: '100000' },
  services: { logger: logs.logger },
  // x-tenant: a key bound to that tenant; none: a tenant-free key.
  authenticate: async headers => headers['x-tenant'] === undefined
    ? { name: 'ops', tenantFree: true }
    : { name: `key-${String(headers['x-tenant'])}`, tenant: String(headers['x-tenant']) },
  listen: true
})
const { emulator } = stack
const events: StoredEvent[] = []
stack.services.lifecycle.runs.recorder.listen(event => { events.push(event) })

const asTenant = (tenant?: string): Record<string, string> => tenant === undefined ? {} : { 'x-tenant': tenant }
const postBatch = async (job: string, runs: unknown[], headers: Record<string, string> = {}) =>
  await call(`${stack.url}/v1/jobs/${job}/batches`, { body: { runs }, headers })
const batchOf = async (job: string, batch: string, wait = 0, tenant?: string) =>
  await call(`${stack.url}/v1/jobs/${job}/batches/${batch}${wait > 0 ? `?wait=${wait}` : ''}`, { headers: asTenant(tenant) })
const runOf = async (job: string, run: string, wait = 0) =>
  await call(`${stack.url}/v1/jobs/${job}/runs/${run}${wait > 0 ? `?wait=${wait}` : ''}`)
/** The runs the emulator was asked to start (their JOBGATE_RUN marker), in order. */
const started = (): string[] => emulator.requests
  .filter(request => request.method === 'POST' && request.path.endsWith(':run'))
  .map(request => ((request.body as any)?.overrides?.containerOverrides?.[0]?.env ?? [])
    .find((variable: any) => variable.name === 'JOBGATE_RUN')?.value)
const finishedEvents = (batch: string): StoredEvent[] =>
  events.filter(event => event.type === 'jobgate.batch.finished' && event.subject.endsWith(`/${batch}`))
const tenantRuns = (tenants: string[], env: Record<string, string> = QUICK): unknown[] =>
  tenants.map(tenant => ({ env: { TENANT_ID: tenant, ...env } }))

t.test('a batch of 6 on a job that runs 2 at once: 202 QUEUED, each run starts once, ' +
  'then SUCCEEDED with its counts and one event', async t => {
  const before = started().length
  const created = await postBatch('export', tenantRuns(['a', 'b', 'a', 'c', 'b', 'a']))
  t.equal(created.status, 202)
  const batch = created.body
  t.match(batch, {
    name: /^export-b[a-z0-9]{9}$/, job: 'export', state: 'RUNNING', counts: { queued: 6, running: 0, succeeded: 0, failed: 0, cancelled: 0 }
  })
  t.equal(created.headers.get('location'), `/v1/jobs/export/batches/${batch.name}`)
  t.equal(batch.runs.length, 6)
  for (const run of batch.runs) t.match(run, /^export-q[a-z0-9]{9}$/, 'each run has its queued name')
  const ended = await batchOf('export', batch.name, 60)
  t.equal(ended.status, 200)
  t.match(ended.body,
    { name: batch.name, state: 'SUCCEEDED', runs: batch.runs, counts: { queued: 0, running: 0, succeeded: 6, failed: 0, cancelled: 0 } })
  t.ok(Date.parse(ended.body.completionTime) >= Date.parse(batch.createTime), 'completionTime once ended')
  const starts = started().slice(before)
  t.equal(starts.length, 6, 'six starts at the emulator')
  t.same([...starts].sort(), [...batch.runs].sort(), 'each run of the batch started exactly once')
  for (const run of batch.runs) t.match((await runOf('export', run)).body, { name: run, state: 'SUCCEEDED' })
  await Promise.all([batchOf('export', batch.name), batchOf('export', batch.name), batchOf('export', batch.name)])
  const finished = finishedEvents(batch.name)
  t.equal(finished.length, 1, 'jobgate.batch.finished once, however many read the ended batch')
  t.match(finished[0], { id: `jobs/export/batches/${batch.name}/finished`, subject: `jobs/export/batches/${batch.name}`, data: ended.body })
  t.equal(events.filter(event => event.batch === batch.name && event.type === 'jobgate.run.finished').length, 6,
    'its runs\' events carry its name')
  const audit = auditLines(logs.lines).filter(line => line.job === 'export' && line.batch === batch.name)
  t.match(audit, [{ outcome: 'queued', runs: 6, principal: 'ops' }], 'one audit line for the batch')
})

t.test('one bad item refuses the whole batch, naming its index; nothing is queued or started', async t => {
  const before = { starts: started().length, events: events.length }
  const refused = async (
    runs: unknown[], message: RegExp, status = 'INVALID_ARGUMENT', headers: Record<string, string> = {}, job = 'export'
  ) => {
    const answer = await postBatch(job, runs, headers)
    t.match(answer, { status: status === 'PERMISSION_DENIED' ? 403 : 400, body: { error: { status, message } } }, String(message))
  }
  await refused([...tenantRuns(['a', 'b', 'c']), { env: { TENANT_ID: 'd', FOO: 'x' } }],
    /^runs\[3\]\.env\.FOO: not allowed for job "export"/)
  await refused([...tenantRuns(['a']), { env: { TENANT_ID: 'b' }, taskCount: 0 }], /^runs\[1\]\.taskCount: /)
  await refused([{ env: { TENANT_ID: 'a' }, nope: true }], /^runs\[0\]: unknown field "nope"/)
  await refused([{ env: {} }], /^runs\[0\]\.env\.TENANT_ID: required/)
  await refused([{ env: { TENANT_ID: 'b' } }], /^runs\[0\]\.env\.TENANT_ID: key-a may only run job "export" for its own tenant/,
    'PERMISSION_DENIED', asTenant('a'))
  await refused([], /^runs: 0 items; a batch holds 1 to 1000/)
  await refused(Array.from({ length: 1001 }, () => ({ env: { TENANT_ID: 'a' } })), /^runs: 1001 items/)
  await refused([{}], /^job "plain" does not queue runs: batches need its concurrency.policy to be "Queue"/,
    'FAILED_PRECONDITION', {}, 'plain')
  t.equal(started().length, before.starts, 'nothing started')
  t.equal(events.length, before.events, 'nothing queued (no jobgate.run.queued)')
})

t.test('Idempotency-Key: the same key and body answer with the same batch and queue nothing more; another body is a 422', async t => {
  const key = { 'idempotency-key': 'nightly-2026-12-06' }
  const before = started().length
  const first = await postBatch('export', tenantRuns(['a', 'b']), key)
  const again = await postBatch('export', tenantRuns(['a', 'b']), key)
  t.equal(again.status, 202)
  t.equal(again.headers.get('idempotency-replayed'), 'true')
  t.same(again.body, first.body, 'the first answer, the same batch')
  t.match(await postBatch('export', tenantRuns(['a', 'c']), key), { status: 422, body: { error: { status: 'UNPROCESSABLE_ENTITY' } } })
  t.equal((await batchOf('export', first.body.name, 60)).body.state, 'SUCCEEDED')
  t.equal(started().length, before + 2, 'two runs started, not four')
})

t.test('tenants: a bound key sees its own tenant\'s batch; another tenant, or a batch of several tenants, is a 404', async t => {
  const own = await postBatch('export', [{ env: QUICK }, { env: QUICK }], asTenant('acme'))
  t.equal(own.status, 202)
  t.match((await batchOf('export', own.body.name, 0, 'acme')).body, { name: own.body.name })
  t.match(await batchOf('export', own.body.name, 0, 'globex'),
    { status: 404, body: { error: { message: `batch "${own.body.name}" of job "export" not found` } } })
  t.equal((await batchOf('export', own.body.name)).status, 200, 'a tenant-free key sees every batch')
  const mixed = await postBatch('export', tenantRuns(['acme', 'globex']))
  t.equal((await batchOf('export', mixed.body.name, 0, 'acme')).status, 404, 'runs of several tenants: only tenant-free keys see the batch')
  t.equal((await batchOf('export', 'export-bnothere00')).status, 404)
  for (const batch of [own.body.name, mixed.body.name]) t.equal((await batchOf('export', batch, 60)).body.state, 'SUCCEEDED')
})

t.test('?wait holds while the batch runs and returns when it ends: cancelled runs make it CANCELLED, a failed one FAILED', async t => {
  const slow = await postBatch('export', tenantRuns(['a', 'b', 'c'], SLEEP))
  await eventually(async () => (await batchOf('export', slow.body.name)).body.counts.running === 2, 60_000, 'two of its runs admitted')
  const held = await batchOf('export', slow.body.name, 1)
  t.match(held.body, { state: 'RUNNING', counts: { running: 2, queued: 1 } },
    '?wait=1 answers RUNNING: two run, one waits its turn (maxRunning 2)')
  for (const run of slow.body.runs) t.equal((await call(`${stack.url}/v1/jobs/export/runs/${run}/cancel`, { method: 'POST' })).status, 200)
  t.match((await batchOf('export', slow.body.name, 60)).body, { state: 'CANCELLED', counts: { cancelled: 3, succeeded: 0, failed: 0 } })
  const failing = await postBatch('export', [...tenantRuns(['a']), { env: { TENANT_ID: 'b', ECHO_SLEEP_MS: '0', ECHO_EXIT_CODE: '3' } }])
  t.match((await batchOf('export', failing.body.name, 60)).body, { state: 'FAILED', counts: { succeeded: 1, failed: 1 } })
  t.equal(finishedEvents(failing.body.name).length, 1)
  t.equal(finishedEvents(slow.body.name).length, 1)
})

t.test('jobgate.batch.finished reaches GET /v1/events after its runs\' events: `jobgate events` prints it as a batch', async t => {
  const following = runCli(['events', '--job', 'export', '--count', '4'], stack.url)
  const followingJson = runCli(['events', '--job', 'export', '--count', '4', '--json'], stack.url)
  await eventually(async () => stack.services.lifecycle.feed.followers === 2, 60_000, 'the CLI following')
  const batch = (await postBatch('export', tenantRuns(['a']))).body
  const printed = await following
  t.equal(printed.code, 0, printed.stderr)
  const lines = printed.stdout.trim().split('\n')
  t.match(lines.map(line => line.split(/\s+/)[1]), ['queued', 'started', 'finished', 'finished'],
    'queued, started, finished, then the batch')
  t.match(lines[3],
    new RegExp(`finished\\s+export/${batch.name}\\s+SUCCEEDED\\s+batch: 0 queued, 0 running, 1 succeeded, 0 failed, 0 cancelled`))
  const cursor = JSON.parse((await followingJson).stdout.trim().split('\n')[3] as string).jobgatecursor as string
  t.match(cursor, new RegExp(`~jobs/export/batches/${batch.name}/finished$`), 'the batch event\'s resume cursor')
  const controller = new AbortController()
  const resumed = await fetch(`${stack.url}/v1/events?job=export`, { headers: { 'last-event-id': cursor }, signal: controller.signal })
  t.equal(resumed.status, 200, 'a batch event\'s cursor resumes the stream')
  controller.abort()
})

t.test('the CLI: `jobgate batch --from FILE --wait` exits 0 when all succeeded, 1 when any failed, 2 on a bad file', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'jobgate-batch-'))
  const file = async (name: string, lines: string[]): Promise<string> => {
    const path = join(dir, name)
    await writeFile(path, lines.join('\n'))
    return path
  }
  const good = await file('good.jsonl',
    ['{"env":{"TENANT_ID":"a","ECHO_SLEEP_MS":"0"}}', '', '{"env":{"TENANT_ID":"b","ECHO_SLEEP_MS":"0"}}'])
  const ok = await runCli(['batch', 'export', '--from', good, '--wait'], stack.url)
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stderr, /^Queued batch export-b[a-z0-9]{9} of job export: 2 runs \(2 queued, 0 running/)
  t.match(ok.stderr, /Batch export-b[a-z0-9]{9} SUCCEEDED: 0 queued, 0 running, 2 succeeded, 0 failed, 0 cancelled \(of 2 runs\)\./)
  const bad = await file('bad.jsonl',
    ['{"env":{"TENANT_ID":"a","ECHO_SLEEP_MS":"0"}}', '{"env":{"TENANT_ID":"b","ECHO_SLEEP_MS":"0","ECHO_EXIT_CODE":"3"}}'])
  const failed = await runCli(['batch', 'export', '--from', bad, '--wait', '--json'], stack.url)
  t.equal(failed.code, 1, failed.stderr)
  t.match(JSON.parse(failed.stdout), { state: 'FAILED', counts: { succeeded: 1, failed: 1 } })
  const fromStdin = await runCli(['batch', 'export', '--from', '-'], stack.url,
    { stdin: Readable.from(['{"env":{"TENANT_ID":"a","ECHO_SLEEP_MS":"0"}}\n']) })
  t.equal(fromStdin.code, 0)
  t.match(fromStdin.stdout, /^export-b[a-z0-9]{9}\n$/, 'without --wait: the batch name on stdout')
  const before = started().length
  const broken = await runCli(['batch', 'export', '--from', await file('broken.jsonl', ['{"env":{}}', '{"env":'])], stack.url)
  t.equal(broken.code, 2)
  t.match(broken.stderr, /--from .*broken\.jsonl: line 2 is not JSON/)
  t.equal((await runCli(['batch', 'export', '--from', join(dir, 'missing.jsonl')], stack.url)).code, 2)
  t.equal((await runCli(['batch', 'export'], stack.url)).code, 2, '--from is required')
  const refused = await runCli(['batch', 'export', '--from', await file('refused.jsonl', ['{"env":{"TENANT_ID":"a","NOPE":"1"}}'])],
    stack.url)
  t.equal(refused.code, 5, 'a batch the API refuses: the API error')
  t.match(refused.stderr, /runs\[0\]\.env\.NOPE: not allowed/)
  await t.resolves(runOf('export', fromStdin.stdout.trim()))
  t.equal((await batchOf('export', fromStdin.stdout.trim(), 60)).body.state, 'SUCCEEDED')
  t.equal(started().length, before + 1, 'the broken files started nothing')
  t.match(await runCli(['batch', 'export', '--from', await file('array.jsonl', ['[1]'])], stack.url),
    { code: 2, stderr: /line 1 is not a JSON object/ })
  const slow = await runCli(['batch', 'export', '--from', await file('slow.jsonl', ['{"env":{"TENANT_ID":"a","ECHO_SLEEP_MS":"600000"}}']),
    '--wait-timeout', '1', '--json'], stack.url)
  t.equal(slow.code, 4, 'past --wait-timeout: exit 4, the runs continue')
  t.match(slow.stderr, /Stopped waiting \(--wait-timeout\): batch export-b[a-z0-9]{9} is still RUNNING/)
  const still = JSON.parse(slow.stdout)
  t.equal(still.state, 'RUNNING')
  t.equal((await call(`${stack.url}/v1/jobs/export/runs/${still.runs[0] as string}/cancel`, { method: 'POST' })).status, 200)
})
