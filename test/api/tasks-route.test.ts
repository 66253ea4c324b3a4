import t from 'tap'
import { callerKey } from '../../api/policy/caller-key.js'
import type { Execution, Task } from '../../api/cloudrun/execution.js'
import { taskState, toTask } from '../../api/cloudrun/task-mapping.js'
import { UpstreamError } from '../../api/google/upstream-error.js'
import { build } from '../helper.js'
import { fakeExecution, RUNNING, SUCCEEDED } from '../helpers/fake-cloud-run.js'

/** A v1 Task as Cloud Run lists it: index and retries left out when 0, as proto3 JSON does. */
function v1Task (index: number, state: string, status: NonNullable<Task['status']> = {}): Task {
  return {
    metadata: { name: `reports-job-acme1-task${index}`, labels: { 'run.googleapis.com/runningState': state } },
    status: { ...(index > 0 && { index }), ...status }
  }
}

/** An execution of reports-job that ran for `tenant`, in `conditions`. */
function ranFor (name: string, tenant: string, conditions = SUCCEEDED): Execution {
  const execution = fakeExecution(name, 'reports-job', { conditions, taskCount: 3 })
  return { ...execution, spec: { ...execution.spec, template: { spec: { containers: [{ name: 'job', env: [{ name: 'TENANT_ID', value: tenant }] }] } } } }
}

const as = (tenant: string): Record<string, string> => ({ 'x-tenant': tenant })

async function setup (t: Parameters<typeof build>[0]) {
  const stack = await build(t, {
    jobs: { reports: { job: 'reports-job', env: { tenantKey: 'TENANT_ID' } } },
    authenticate: async headers => ({ name: 'ci', tenant: String(headers['x-tenant']) })
  })
  const { fake } = stack
  fake.executions.set('reports-job-acme1', [ranFor('reports-job-acme1', 'acme')])
  fake.executions.set('reports-job-globx', [ranFor('reports-job-globx', 'globex')])
  // Listed out of order, on two pages: the route answers by index.
  fake.tasks.set('reports-job-acme1', [
    v1Task(2, 'Failed', { retried: 3, startTime: '2026-11-23T10:00:01Z', completionTime: '2026-11-23T10:00:09Z', lastAttemptResult: { exitCode: 3, status: { message: 'The container exited with an error (exit code 3)' } }, logUri: 'https://console.cloud.google.com/logs/viewer?task=2' }),
    v1Task(0, 'Succeeded', { startTime: '2026-11-23T10:00:01Z', completionTime: '2026-11-23T10:00:02Z', lastAttemptResult: { status: {} } }),
    v1Task(1, 'Cancelled', { lastAttemptResult: { termSignal: 15, status: { message: 'The container was terminated by signal SIGTERM' } } })
  ])
  fake.tasks.set('reports-job-globx', [v1Task(0, 'Succeeded')])
  const listCalls = (): number => fake.calls.filter(call => call.method === 'listTasks').length
  return { app: stack.app, services: stack.services, fake, listCalls }
}

t.test('each task: index, state, attempts (retries + 1), the last attempt\'s exit code or signal, times, links', async t => {
  const { app, listCalls, services } = await setup(t)
  const taken = services.live.runBudget.taken
  const response = await app.inject({ url: '/v1/jobs/reports/runs/reports-job-acme1/tasks', headers: as('acme') })
  t.equal(response.statusCode, 200, response.body)
  t.same(response.json(), {
    tasks: [
      { index: 0, state: 'SUCCEEDED', attempts: 1, exitCode: 0, startTime: '2026-11-23T10:00:01Z', completionTime: '2026-11-23T10:00:02Z', links: { logs: '/v1/jobs/reports/runs/reports-job-acme1/logs?taskIndex=0' } },
      { index: 1, state: 'CANCELLED', attempts: 1, termSignal: 15, message: 'The container was terminated by signal SIGTERM', links: { logs: '/v1/jobs/reports/runs/reports-job-acme1/logs?taskIndex=1' } },
      {
        index: 2,
        state: 'FAILED',
        attempts: 4,
        exitCode: 3,
        message: 'The container exited with an error (exit code 3)',
        startTime: '2026-11-23T10:00:01Z',
        completionTime: '2026-11-23T10:00:09Z',
        logUri: 'https://console.cloud.google.com/logs/viewer?task=2',
        links: { logs: '/v1/jobs/reports/runs/reports-job-acme1/logs?taskIndex=2' }
      }
    ]
  })
  t.equal(listCalls(), 1)
  t.equal(services.live.runBudget.taken - taken, 2, 'one Cloud Run read for the run, one for its single page of tasks')
})

t.test('an ended run\'s tasks are read once; paging and the state filter are served from that read', async t => {
  const { app, listCalls } = await setup(t)
  const first = await app.inject({ url: '/v1/jobs/reports/runs/reports-job-acme1/tasks?pageSize=2', headers: as('acme') })
  t.same(first.json().tasks.map((task: { index: number }) => task.index), [0, 1])
  t.equal(first.json().nextPageToken, '2')
  const second = await app.inject({ url: '/v1/jobs/reports/runs/reports-job-acme1/tasks?pageSize=2&pageToken=2', headers: as('acme') })
  t.same(second.json(), { tasks: [second.json().tasks[0]] })
  t.equal(second.json().tasks[0].index, 2)
  const failed = await app.inject({ url: '/v1/jobs/reports/runs/reports-job-acme1/tasks?state=FAILED', headers: as('acme') })
  t.same(failed.json().tasks.map((task: { index: number }) => task.index), [2])
  t.equal(listCalls(), 1, 'the finished run\'s list came from the cache three times')
  const bad = await app.inject({ url: '/v1/jobs/reports/runs/reports-job-acme1/tasks?pageToken=x', headers: as('acme') })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().error.status, 'INVALID_ARGUMENT')
})

t.test('a running run\'s tasks are read again each time, upstream pages followed to the end', async t => {
  const { app, fake, listCalls } = await setup(t)
  fake.executions.set('reports-job-acme2', [ranFor('reports-job-acme2', 'acme', RUNNING)])
  fake.tasks.set('reports-job-acme2', Array.from({ length: 1200 }, (_, index) => v1Task(index, index < 5 ? 'Running' : 'Pending')))
  const response = await app.inject({ url: '/v1/jobs/reports/runs/reports-job-acme2/tasks?pageSize=1000', headers: as('acme') })
  t.equal(response.json().tasks.length, 1000)
  t.same(response.json().tasks.slice(4, 6).map((task: { state: string, attempts: number }) => [task.state, task.attempts]), [['RUNNING', 1], ['PENDING', 0]])
  t.equal(listCalls(), 3, 'three pages of 500')
  await app.inject({ url: '/v1/jobs/reports/runs/reports-job-acme2/tasks?state=RUNNING', headers: as('acme') })
  t.equal(listCalls(), 6, 'not cached while the run goes on')
})

t.test('the tenant rule of every run route: another tenant\'s run is a 404 and its tasks are never read', async t => {
  const { app, listCalls } = await setup(t)
  const response = await app.inject({ url: '/v1/jobs/reports/runs/reports-job-globx/tasks', headers: as('acme') })
  t.equal(response.statusCode, 404)
  t.same(response.json(), { error: { code: 404, status: 'NOT_FOUND', message: 'run "reports-job-globx" of job "reports" not found.' } })
  t.equal(listCalls(), 0)
  const theirs = await app.inject({ url: '/v1/jobs/reports/runs/reports-job-globx/tasks', headers: as('globex') })
  t.equal(theirs.statusCode, 200)
})

t.test('a spent Cloud Run read budget is a 429 with Retry-After; Cloud Run\'s refusal keeps its meaning', async t => {
  const { app, fake, services } = await setup(t)
  // The run itself is read (and cached as ended) first; then the budget runs dry.
  await app.inject({ url: '/v1/jobs/reports/runs/reports-job-acme1', headers: as('acme') })
  const acme = callerKey({ name: 'ci', tenant: 'acme' })
  while (services.live.runBudget.tryTake(acme)) { /* spend acme's share */ }
  const spent = await app.inject({ url: '/v1/jobs/reports/runs/reports-job-acme1/tasks', headers: as('acme') })
  t.equal(spent.statusCode, 429)
  t.equal(spent.json().error.status, 'RESOURCE_EXHAUSTED')
  t.match(spent.headers['retry-after'], /^\d+$/)

  const { app: other, fake: otherFake } = await setup(t)
  const advice = 'jobgate\'s service account lacks run.tasks.list on Cloud Run job "reports-job": grant roles/run.viewer on that job to it.'
  otherFake.fail('listTasks', new UpstreamError('http', 'denied', { httpStatus: 403, googleStatus: 'PERMISSION_DENIED', context: { service: 'Cloud Run', operation: 'tasks.list', permissionAdvice: advice, notFound: 'gone' } }))
  const denied = await other.inject({ url: '/v1/jobs/reports/runs/reports-job-acme1/tasks', headers: as('acme') })
  t.equal(denied.statusCode, 403, denied.body)
  t.match(denied.json().error.message, 'run.tasks.list')
  t.equal(fake.calls.filter(call => call.method === 'listTasks').length, 0, 'the spent budget read nothing')
})

t.test('a task without the runningState label: its conditions say the state, as for executions', async t => {
  const withConditions = (conditions: Array<{ type: string, status: string, reason?: string }>): Task => ({ status: { conditions } })
  t.equal(taskState(withConditions([{ type: 'Completed', status: 'True' }])), 'SUCCEEDED')
  t.equal(taskState(withConditions([{ type: 'Completed', status: 'False', reason: 'Failed' }])), 'FAILED')
  t.equal(taskState(withConditions([{ type: 'Completed', status: 'False', reason: 'Cancelled' }])), 'CANCELLED')
  t.equal(taskState(withConditions([{ type: 'Completed', status: 'Unknown' }, { type: 'Started', status: 'True' }])), 'RUNNING')
  t.equal(taskState({}), 'PENDING')
  t.match(toTask('echo', 'echo-1', { status: { retried: 2, lastAttemptResult: { status: { message: 'The configured timeout was reached' }, termSignal: 9 } } }),
    { index: 0, state: 'PENDING', attempts: 2, termSignal: 9, message: 'The configured timeout was reached' }, 'a task waiting for its third attempt ran twice')
})
