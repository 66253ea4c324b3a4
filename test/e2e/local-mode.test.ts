import t from 'tap'
import { call } from '../helpers/call.js'
import { build } from '../helper.js'

// Real sockets, real child processes: API → production Cloud Run / Logging clients → emulator → dist/job/main.js.
const stack = await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify({ jobs: { echo: {}, ghost: {} } }) }, listen: true })
const api = (path: string): string => `${stack.url}${path}`

async function runToEnd (body: unknown): Promise<any> {
  const started = await call(api('/v1/jobs/echo/runs'), { body })
  t.equal(started.status, 202, 'run accepted')
  let run = started.body
  for (let i = 0; i < 10 && !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(run.state); i++) {
    run = (await call(api(`${started.headers.get('location') ?? ''}?wait=20`))).body
  }
  return run
}

t.test('overrides reach every task, and the logs route shows them', async t => {
  const started = await call(api('/v1/jobs/echo/runs'), {
    body: { args: ['report', '--day=2026-11-23'], env: { TENANT_ID: 'acme', API_TOKEN: 'tok-secret-value' }, taskCount: 3, timeoutSeconds: 60 }
  })
  t.equal(started.status, 202)
  t.equal(started.headers.get('location'), `/v1/jobs/echo/runs/${started.body.name as string}`)
  t.match(started.body.name, /^echo-[a-z0-9]{5}$/)

  const done = (await call(api(`/v1/jobs/echo/runs/${started.body.name as string}?wait=30`))).body
  t.equal(done.state, 'SUCCEEDED')
  t.equal(done.succeededCount, 3)
  t.equal(done.taskCount, 3)

  const logs = await call(api(`/v1/jobs/echo/runs/${started.body.name as string}/logs`))
  t.equal(logs.status, 200)
  for (const index of [0, 1, 2]) {
    const mine = logs.body.entries.filter((entry: any) => entry.taskIndex === index)
    const args = mine.find((entry: any) => entry.message === 'args')
    const env = mine.find((entry: any) => entry.message === 'env')?.payload.env
    t.same(args?.payload.args, ['report', '--day=2026-11-23'], `task ${index} got the args`)
    t.equal(env?.TENANT_ID, 'acme', `task ${index} got TENANT_ID`)
    t.equal(env?.CLOUD_RUN_TASK_INDEX, String(index), `task ${index} knows its index`)
    t.equal(env?.CLOUD_RUN_TASK_COUNT, '3')
    t.equal(env?.API_TOKEN, '[REDACTED]', 'a secret-looking value is redacted by the job')
  }
  t.notMatch(JSON.stringify(logs.body), /tok-secret-value/)

  // A follower asks only for what is new: nothing is newer than the last line.
  const newest = logs.body.entries.at(-1).timestamp as string
  const later = await call(api(`/v1/jobs/echo/runs/${started.body.name as string}/logs?since=${new Date(Date.parse(newest) + 1).toISOString()}`))
  t.same(later.body.entries, [])
  const fromNewest = await call(api(`/v1/jobs/echo/runs/${started.body.name as string}/logs?since=${newest}`))
  t.ok(fromNewest.body.entries.length >= 1 && fromNewest.body.entries.length < logs.body.entries.length, 'since is inclusive and narrows the read')
  const bad = await call(api(`/v1/jobs/echo/runs/${started.body.name as string}/logs?since=yesterday`))
  t.equal(bad.status, 400)
})

t.test('a task exiting non-zero fails the run, with failedCount; its tasks show every retry and the exit code', async t => {
  const run = await runToEnd({ env: { ECHO_EXIT_CODE: '3' }, taskCount: 2 })
  t.equal(run.state, 'FAILED')
  t.equal(run.failedCount, 2)
  t.type(run.message, 'string')

  // The echo job keeps Cloud Run's default of 3 retries: each task ran 4 times.
  const taskReads = (): number => stack.emulator.requests.filter(request => request.path.endsWith('/tasks')).length
  const tasks = await call(api(`/v1/jobs/echo/runs/${run.name as string}/tasks`))
  t.equal(tasks.status, 200)
  t.match(tasks.body.tasks, [
    { index: 0, state: 'FAILED', attempts: 4, exitCode: 3, message: 'The container exited with an error (exit code 3)', startTime: /Z$/, completionTime: /Z$/ },
    { index: 1, state: 'FAILED', attempts: 4, exitCode: 3 }
  ])
  t.equal(tasks.body.tasks.length, 2)
  const before = taskReads()
  t.same((await call(api(`/v1/jobs/echo/runs/${run.name as string}/tasks`))).body, tasks.body)
  t.equal(taskReads(), before, 'the ended run\'s tasks came from the cache')

  const own = await call(api(tasks.body.tasks[1].links.logs as string))
  t.ok(own.body.entries.length > 0)
  t.ok(own.body.entries.every((entry: any) => entry.taskIndex === 1), 'a task\'s log link holds its lines only')
  t.same(own.body.entries.filter((entry: any) => entry.message === 'task').map((entry: any) => entry.payload.taskAttempt), [0, 1, 2, 3])
})

t.test('a task past its timeout is killed and the run fails', async t => {
  const run = await runToEnd({ env: { ECHO_SLEEP_MS: '30000' }, timeoutSeconds: 1 })
  t.equal(run.state, 'FAILED')
  t.equal(run.failedCount, 1)
})

t.test('failed attempts are retried and counted', async t => {
  const run = await runToEnd({ env: { ECHO_FAIL_ATTEMPTS: '1' } })
  t.equal(run.state, 'SUCCEEDED')
  t.equal(run.retriedCount, 1)
})

t.test('cancel ends a running run as CANCELLED', async t => {
  const started = await call(api('/v1/jobs/echo/runs'), { body: { env: { ECHO_SLEEP_MS: '30000' }, taskCount: 2 } })
  const name = started.body.name as string
  const deadline = Date.now() + 60_000
  while ((await call(api(`/v1/jobs/echo/runs/${name}`))).body.state !== 'RUNNING' && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
  const cancelled = await call(api(`/v1/jobs/echo/runs/${name}/cancel`), { method: 'POST' })
  t.equal(cancelled.status, 200)
  const run = (await call(api(`/v1/jobs/echo/runs/${name}?wait=20`))).body
  t.equal(run.state, 'CANCELLED')
  t.ok(run.cancelledCount >= 1)
})

t.test('cancelling a run that already ended is 400 FAILED_PRECONDITION, as Cloud Run answers', async t => {
  const run = await runToEnd({})
  t.equal(run.state, 'SUCCEEDED')
  const again = await call(api(`/v1/jobs/echo/runs/${run.name as string}/cancel`), { method: 'POST' })
  t.equal(again.status, 400)
  t.same(again.body, { error: { code: 400, status: 'FAILED_PRECONDITION', message: `run "${run.name as string}" of job "echo" already ended; only a pending or running run can be cancelled.` } })
})

t.test('list is newest first', async t => {
  const list = await call(api('/v1/jobs/echo/runs?pageSize=100'))
  t.equal(list.status, 200)
  const times = list.body.runs.map((run: any) => run.createTime as string)
  t.ok(times.length >= 4)
  t.same(times, [...times].sort().reverse())
})

t.test('the emulator\'s 401, 403 and 404 become clear errors', async t => {
  stack.emulator.denyPermission('run.jobs.runWithOverrides')
  t.teardown(() => stack.emulator.allowPermission('run.jobs.runWithOverrides'))
  const denied = await call(api('/v1/jobs/echo/runs'), { body: { env: { A: 'b' } } })
  t.equal(denied.status, 403)
  t.equal(denied.body.error.status, 'PERMISSION_DENIED')
  t.match(denied.body.error.message, /run\.jobs\.runWithOverrides.*roles\/run\.jobsExecutorWithOverrides/)
  const plain = await call(api('/v1/jobs/echo/runs'), { body: {} })
  t.equal(plain.status, 202, 'without overrides, run.jobs.run suffices')

  const missingRun = await call(api('/v1/jobs/echo/runs/echo-zzzzz'))
  t.equal(missingRun.status, 404)
  t.match(missingRun.body.error.message, /echo-zzzzz/)

  // A rejected (expired) token is replaced once, transparently.
  stack.emulator.expireTokens()
  const afterExpiry = await call(api('/v1/jobs/echo/runs?pageSize=1'))
  t.equal(afterExpiry.status, 200)
})

t.test('a catalog job missing from Cloud Run is a 404 naming project and region', async t => {
  const token = await fetch(`${stack.emulator.url}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'metadata-flavor': 'Google' } })
  const { access_token: accessToken } = await token.json() as { access_token: string }
  const deleted = await fetch(`${stack.emulator.url}/apis/run.googleapis.com/v1/namespaces/local-project/jobs/ghost`, { method: 'DELETE', headers: { authorization: `Bearer ${accessToken}` } })
  t.equal(deleted.status, 200)
  const missing = await call(api('/v1/jobs/ghost/runs'), { body: {} })
  t.equal(missing.status, 404)
  t.match(missing.body.error.message, /"ghost" does not exist in project "local-project", region "us-central1"/)
})
