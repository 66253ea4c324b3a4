/**
 * Concurrency policies end to end: the API in local mode over a real socket, the Cloud Run emulator running
 * the companion job (ECHO_SLEEP_MS keeps a run running), upstream calls counted in the emulator's request log.
 */
import t from 'tap'
import { VIEW_PAGE_SIZE } from '../../api/concurrency/scope-view.js'
import type { RecordedRequest } from '../../emulator/index.js'
import { build } from '../helper.js'
import { call } from '../helpers/call.js'
import { auditLines, captureLogs } from '../helpers/log-capture.js'

const SLEEP = { ECHO_SLEEP_MS: '600000' }
const sleeper = { sleepMs: '{attributes.sleepMs}' }
const catalog = {
  jobs: {
    forbid: { concurrency: { policy: 'Forbid' } },
    two: { concurrency: { policy: 'Forbid', maxRunning: 2 } },
    replace: { concurrency: { policy: 'Replace' } },
    tenant: { env: { tenantKey: 'TENANT_ID' }, concurrency: { policy: 'Forbid', scope: 'tenant' } },
    keyed: { concurrency: { policy: 'Forbid' } },
    retry: { pubsub: { env: { ECHO_SLEEP_MS: sleeper.sleepMs } }, concurrency: { policy: 'Forbid', onConflict: 'retry' } },
    drop: { pubsub: { env: { ECHO_SLEEP_MS: sleeper.sleepMs } }, concurrency: { policy: 'Forbid', onConflict: 'drop' } },
    allow: {}
  }
}
const logs = captureLogs()
const stack = await build(t, {
  env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify(catalog), JOBGATE_RATE_LIMIT: '100000' },
  services: { logger: logs.logger },
  listen: true
})
const { emulator } = stack

const start = async (job: string, env: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  await call(`${stack.url}/v1/jobs/${job}/runs`, { body: { env }, headers })
const runOf = async (job: string, run: string, wait = 0) => await call(`${stack.url}/v1/jobs/${job}/runs/${run}${wait > 0 ? `?wait=${wait}` : ''}`)
const cancel = async (job: string, run: string) => await call(`${stack.url}/v1/jobs/${job}/runs/${run}/cancel`, { method: 'POST' })

/** Upstream calls made while `action` ran, by kind. */
async function upstreamDuring<T> (action: () => Promise<T>): Promise<{ result: T, calls: Record<'list' | 'get' | 'run' | 'cancel', number>, requests: RecordedRequest[] }> {
  const before = emulator.requests.length
  const result = await action()
  // The job's reconciler (api/lifecycle/) lists too, pages sized to what it follows; the concurrency check lists a full page.
  const byTheCheck = (request: RecordedRequest): boolean =>
    !(request.method === 'GET' && request.path.endsWith('/executions') && !request.url.includes(`limit=${VIEW_PAGE_SIZE}`))
  const requests = emulator.requests.slice(before).filter(request => request.path.startsWith('/apis/run.googleapis.com/') && byTheCheck(request))
  const count = (test: (r: RecordedRequest) => boolean): number => requests.filter(test).length
  return {
    result,
    requests,
    calls: {
      list: count(r => r.method === 'GET' && r.path.endsWith('/executions')),
      get: count(r => r.method === 'GET' && /\/executions\/[^/:]+$/.test(r.path)),
      run: count(r => r.method === 'POST' && r.path.endsWith(':run')),
      cancel: count(r => r.method === 'POST' && r.path.endsWith(':cancel'))
    }
  }
}

t.test('Forbid: 409 while a run is running, naming it; allowed once it has ended', async t => {
  const first = await start('forbid', SLEEP)
  t.equal(first.status, 202)
  const refused = await start('forbid')
  t.equal(refused.status, 409)
  t.equal(refused.body.error.status, 'ABORTED')
  t.same(refused.body.error.runningRuns, [first.body.name])
  t.equal(refused.headers.get('location'), `/v1/jobs/forbid/runs/${first.body.name}`, 'Location points at the running run')
  t.match(refused.body.error.message, /allows 1 running run \(concurrency policy Forbid\)/)
  t.equal((await start('forbid')).status, 409, 'still running: still refused')
  await cancel('forbid', first.body.name)
  t.equal((await runOf('forbid', first.body.name, 30)).body.state, 'CANCELLED')
  const next = await start('forbid')
  t.equal(next.status, 202, 'the run ended: the next start goes ahead')
  await cancel('forbid', next.body.name)
})

t.test('maxRunning 2 admits two', async t => {
  const a = await start('two', SLEEP)
  const b = await start('two', SLEEP)
  t.same([a.status, b.status], [202, 202])
  const c = await start('two', SLEEP)
  t.equal(c.status, 409)
  t.same(c.body.error.runningRuns, [a.body.name, b.body.name], 'oldest first')
  await cancel('two', a.body.name)
  t.equal((await start('two', SLEEP)).status, 202, 'a cancelled run frees its place')
  for (const run of (await call(`${stack.url}/v1/jobs/two/runs`)).body.runs) if (run.state === 'RUNNING' || run.state === 'PENDING') await cancel('two', run.name)
})

t.test('Replace cancels exactly the old run, then starts; the audit line names it', async t => {
  const other = await start('forbid', SLEEP)
  const old = await start('replace', SLEEP)
  t.equal(old.status, 202)
  const { result: fresh, calls, requests } = await upstreamDuring(async () => await start('replace', SLEEP))
  t.equal(fresh.status, 202)
  t.equal(calls.cancel, 1, 'one cancel upstream')
  t.match(requests.find(r => r.path.endsWith(':cancel'))?.path, new RegExp(`/executions/${old.body.name}:cancel$`), '…of the old run')
  t.equal((await runOf('replace', old.body.name)).body.state, 'CANCELLED')
  t.not((await runOf('replace', fresh.body.name)).body.state, 'CANCELLED')
  t.not((await runOf('forbid', other.body.name)).body.state, 'CANCELLED', 'another job\'s run is untouched')
  const audit = auditLines(logs.lines).find(line => line.execution === fresh.body.name)
  t.same(audit?.replaced, [old.body.name])
  t.match(audit?.message, new RegExp(`started, replacing ${old.body.name}$`))
  await cancel('replace', fresh.body.name)
  await cancel('forbid', other.body.name)
})

t.test('tenant scope: acme\'s run does not block globex, but blocks acme', async t => {
  const acme = await start('tenant', { TENANT_ID: 'acme', ...SLEEP })
  t.equal(acme.status, 202)
  const again = await start('tenant', { TENANT_ID: 'acme', ...SLEEP })
  t.equal(again.status, 409)
  t.same(again.body.error.runningRuns, [acme.body.name])
  t.match(again.body.error.message, /for tenant "acme"/)
  const globex = await start('tenant', { TENANT_ID: 'globex', ...SLEEP })
  t.equal(globex.status, 202, 'another tenant starts')
  await cancel('tenant', acme.body.name)
  await cancel('tenant', globex.body.name)
})

t.test('idempotency first: a replayed key gets its first answer and never counts as a second start', async t => {
  const headers = { 'idempotency-key': 'nightly-2026-11-29' }
  const first = await start('keyed', SLEEP, headers)
  t.equal(first.status, 202)
  const { result: replay, calls } = await upstreamDuring(async () => await start('keyed', SLEEP, headers))
  t.equal(replay.status, 202, 'not a 409: the same request')
  t.equal(replay.headers.get('idempotency-replayed'), 'true')
  t.same(replay.body, first.body)
  t.same(calls, { list: 0, get: 0, run: 0, cancel: 0 }, 'a replay costs nothing upstream')
  const refused = await start('keyed', SLEEP, { 'idempotency-key': 'another' })
  t.equal(refused.status, 409)
  await cancel('keyed', first.body.name)
  await runOf('keyed', first.body.name, 30)
  t.equal((await start('keyed', {}, { 'idempotency-key': 'another' })).status, 202, 'a refused key was released: it can start once the run ended')
})

t.test('upstream reads each start costs (emulator request log)', async t => {
  const allowed = await upstreamDuring(async () => await start('allow'))
  t.same(allowed.calls, { list: 0, get: 0, run: 1, cancel: 0 }, 'no policy: no read')
  const admitted = await upstreamDuring(async () => await start('forbid', SLEEP))
  t.same(admitted.calls, { list: 1, get: 0, run: 1, cancel: 0 }, 'Forbid, admitted: one list, one run')
  t.match(admitted.requests[0]?.url, /labelSelector=run.googleapis.com%2Fjob%3Dforbid/, 'the list is of this job only')
  const refused = await upstreamDuring(async () => await start('forbid', SLEEP))
  t.same(refused.calls, { list: 1, get: 0, run: 0, cancel: 0 }, 'Forbid, refused: one list')
  const replaced = await upstreamDuring(async () => await start('replace', SLEEP))
  t.same(replaced.calls, { list: 1, get: 0, run: 1, cancel: 0 }, 'Replace with nothing running: as Forbid')
  const replacing = await upstreamDuring(async () => await start('replace', SLEEP))
  t.same(replacing.calls, { list: 1, get: 1, run: 1, cancel: 1 }, 'Replace of one run: plus the cancel (and its ownership check)')
  t.comment(`per start: Allow ${allowed.requests.length}, Forbid ${admitted.requests.length}, refused ${refused.requests.length}, Replace ${replacing.requests.length} upstream calls`)
  await cancel('forbid', admitted.result.body.name)
  await cancel('replace', replacing.result.body.name)
})

let messageId = 5000
const push = async (job: string, sleepMs: string) => await call(`${stack.url}/v1/push/pubsub/${job}`, {
  body: { subscription: 'projects/p/subscriptions/s', message: { messageId: String(messageId++), publishTime: '2026-11-29T10:00:00Z', attributes: { sleepMs }, data: '' } }
})
let taskId = 1
const task = async (job: string) => await call(`${stack.url}/v1/push/tasks/${job}`, {
  body: { env: SLEEP },
  headers: { 'x-cloudtasks-queuename': 'q', 'x-cloudtasks-taskname': `t${taskId++}` }
})

t.test('push routes, onConflict "retry": 429 with Retry-After, so Pub/Sub and Cloud Tasks redeliver', async t => {
  const running = await push('retry', '600000')
  t.equal(running.status, 200, JSON.stringify(running.body))
  const pubsub = await push('retry', '600000')
  t.equal(pubsub.status, 429)
  t.equal(pubsub.body.error.status, 'RESOURCE_EXHAUSTED')
  t.equal(pubsub.headers.get('retry-after'), '60')
  const tasks = await task('retry')
  t.equal(tasks.status, 429)
  t.equal(tasks.headers.get('retry-after'), '60')
  t.equal(auditLines(logs.lines).filter(line => line.job === 'retry' && line.outcome !== 'started').length, 2, 'each refusal audited once')
  await cancel('retry', running.body.name)
})

t.test('push routes, onConflict "drop": acknowledged without a run, one log line', async t => {
  const running = await push('drop', '600000')
  t.equal(running.status, 200)
  const before = logs.lines.length
  const { result: pubsub, calls } = await upstreamDuring(async () => await push('drop', '600000'))
  t.equal(pubsub.status, 204)
  t.equal(calls.run, 0)
  const tasks = await task('drop')
  t.equal(tasks.status, 204)
  const dropped = logs.lines.slice(before).filter(line => /acknowledged without a run/.test(line.message))
  t.equal(dropped.length, 2, 'one line per dropped delivery')
  t.match(dropped[0]?.message, /concurrency onConflict "drop"/)
  t.same(dropped[0]?.runningRuns, [running.body.name])
  await cancel('drop', running.body.name)
})

t.test('the OpenAPI document lists the 409 of the start route with runningRuns', async t => {
  const doc = (await call(`${stack.url}/openapi.json`)).body
  const conflict = doc.paths['/v1/jobs/{job}/runs'].post.responses['409']
  t.ok(conflict, 'a 409 response')
  const schema = JSON.stringify(conflict.content['application/json'].schema.$ref === undefined ? conflict : doc.components.schemas)
  t.match(schema, /runningRuns/)
})
