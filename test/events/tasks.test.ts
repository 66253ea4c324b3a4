/** The Cloud Tasks HTTP target over a real socket: headers as Cloud Tasks sends them, dedup by queue + task name. */
import t from 'tap'
import { call } from '../helpers/call.js'
import { build } from '../helper.js'
import { auditLines, captureLogs } from '../helpers/log-capture.js'
import { executionEnv, RUN_PATH, runCalls } from './helpers.js'

const logs = captureLogs()
const stack = await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_RATE_LIMIT: '100000' }, services: { logger: logs.logger }, listen: true })
const url = `${stack.url}/v1/push/tasks/echo`

function taskHeaders (task: string, retryCount: number, queue = 'reports'): Record<string, string> {
  return {
    'x-cloudtasks-queuename': queue,
    'x-cloudtasks-taskname': task,
    'x-cloudtasks-taskretrycount': String(retryCount),
    'x-cloudtasks-taskexecutioncount': String(retryCount),
    'x-cloudtasks-tasketa': '1790000000.123456',
    'user-agent': 'Google-Cloud-Tasks'
  }
}

t.test('the same task delivered 3 times starts one run; the retry count is logged and audited', async t => {
  const before = runCalls(stack.emulator)
  const body = { env: { REPORT_DATE: '2026-11-23' }, args: ['daily'] }
  const responses: any[] = []
  for (const retry of [0, 1, 2]) responses.push(await call(url, { body, headers: taskHeaders('report-2026-11-23', retry) }))
  t.same(responses.map(r => r.status), [200, 200, 200], 'Cloud Tasks completes the task on 2xx')
  t.same(responses.map(r => r.headers.get('idempotency-replayed')), [null, 'true', 'true'])
  t.equal(new Set(responses.map(r => r.body.name)).size, 1, 'one run')
  t.equal(runCalls(stack.emulator) - before, 1, 'one jobs.run call')
  const execution = stack.emulator.executions(undefined, 'echo').find(e => e.metadata.name === responses[0]?.body.name)
  t.match(execution && executionEnv(execution), { REPORT_DATE: '2026-11-23' })

  const audit = auditLines(logs.lines).filter(line => line.event?.task === 'report-2026-11-23')
  t.same(audit.map(line => [line.outcome, line.event.taskRetryCount]), [['started', 0], ['replayed', 1], ['replayed', 2]])
  t.equal(audit[0]?.idempotencyKey, 'queues/reports/tasks/report-2026-11-23')
  t.equal(audit[0]?.trigger, 'tasks')
  const received = logs.lines.filter(line => line.cloudTasks?.task === 'report-2026-11-23' && /received/.test(line.message))
  t.same(received.map(line => line.cloudTasks.taskRetryCount), [0, 1, 2], 'each delivery logged with its retry count')
})

t.test('the retry and execution counts are optional', async t => {
  const res = await call(url, { body: {}, headers: { 'x-cloudtasks-queuename': 'reports', 'x-cloudtasks-taskname': 'first-try' } })
  t.equal(res.status, 200)
  const audit = auditLines(logs.lines).find(line => line.event?.task === 'first-try')
  t.same(audit?.event, { queue: 'reports', task: 'first-try', taskRetryCount: 0 })
})

t.test('another queue with the same task name is another task', async t => {
  const a = await call(url, { body: {}, headers: taskHeaders('same-name', 0, 'queue-a') })
  const b = await call(url, { body: {}, headers: taskHeaders('same-name', 0, 'queue-b') })
  t.not(a.body.name, b.body.name)
})

t.test('an empty body means no overrides, with or without a JSON content type', async t => {
  const bare = await fetch(url, { method: 'POST', headers: taskHeaders('empty-1', 0) })
  t.equal(bare.status, 200)
  const typed = await fetch(url, { method: 'POST', headers: { ...taskHeaders('empty-2', 0), 'content-type': 'application/json' } })
  t.equal(typed.status, 200)
  const run = await typed.json() as { name: string }
  const execution = stack.emulator.executions(undefined, 'echo').find(e => e.metadata.name === run.name)
  t.ok(execution, 'the run exists')
  t.equal((execution?.spec.template.spec.containers[0]?.env ?? []).some(v => v.name === 'REPORT_DATE'), false, 'no overrides')
})

t.test('missing or malformed Cloud Tasks headers are 400', async t => {
  const before = runCalls(stack.emulator)
  const noTask = await call(url, { body: {}, headers: { 'x-cloudtasks-queuename': 'reports' } })
  t.equal(noTask.status, 400)
  t.match(noTask.body.error.message, /x-cloudtasks-taskname/)
  const noQueue = await call(url, { body: {}, headers: { 'x-cloudtasks-taskname': 't1' } })
  t.equal(noQueue.status, 400)
  t.match(noQueue.body.error.message, /x-cloudtasks-queuename/)
  const badRetry = await call(url, { body: {}, headers: { ...taskHeaders('t2', 0), 'x-cloudtasks-taskretrycount': 'many' } })
  t.equal(badRetry.status, 400)
  t.equal(runCalls(stack.emulator), before)
})

t.test('the body is a run request: schema and policy apply; a different body for the same task is 422', async t => {
  const unknownField = await call(url, { body: { nope: 1 }, headers: taskHeaders('t3', 0) })
  t.equal(unknownField.status, 400)
  const protectedName = await call(url, { body: { env: { LD_PRELOAD: 'x' } }, headers: taskHeaders('t4', 0) })
  t.equal(protectedName.status, 400)
  t.match(protectedName.body.error.message, /protected/)
  const first = await call(url, { body: { env: { A: '1' } }, headers: taskHeaders('t5', 0) })
  t.equal(first.status, 200)
  const changed = await call(url, { body: { env: { A: '2' } }, headers: taskHeaders('t5', 1) })
  t.equal(changed.status, 422)
})

t.test('backpressure answers 429/503 with Retry-After so the queue retries; the key is released', async t => {
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { status: 429, headers: { 'retry-after': '30' } })
  const limited = await call(url, { body: {}, headers: taskHeaders('busy', 0) })
  t.equal(limited.status, 429)
  t.equal(limited.headers.get('retry-after'), '30')
  stack.emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { status: 503, headers: { 'retry-after': '7' } })
  const down = await call(url, { body: {}, headers: taskHeaders('busy', 1) })
  t.equal(down.status, 503)
  t.equal(down.headers.get('retry-after'), '7')
  const ok = await call(url, { body: {}, headers: taskHeaders('busy', 2) })
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('idempotency-replayed'), null)
})
