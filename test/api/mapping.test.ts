import t from 'tap'
import { isTerminal } from '../../common/run-state.js'
import { executionState, hasOverrides, runPath, toRun, toRunJobRequest } from '../../api/cloudrun/mapping.js'
import type { Condition, Execution } from '../../api/cloudrun/execution.js'
import { testEntry } from '../helpers/catalog-entry.js'

const named = testEntry({ container: 'job' })
const unnamed = testEntry()

t.test('toRunJobRequest: nothing sent → {} (no overrides at all)', async t => {
  t.same(toRunJobRequest(named, {}), {})
  t.same(toRunJobRequest(unnamed, {}), {})
  t.equal(hasOverrides(toRunJobRequest(named, {})), false)
  t.same(toRunJobRequest(named, { args: [], env: {} }), {}, 'empty args and empty env are not overrides')
})

t.test('toRunJobRequest: args', async t => {
  t.same(toRunJobRequest(named, { args: ['a', 'b c', ''] }), { overrides: { containerOverrides: [{ name: 'job', args: ['a', 'b c', ''] }] } })
  const withoutName = toRunJobRequest(unnamed, { args: ['x'] })
  t.same(withoutName, { overrides: { containerOverrides: [{ args: ['x'] }] } })
  t.notOk(Object.hasOwn(withoutName.overrides?.containerOverrides?.[0] ?? {}, 'name'), 'no name key when the catalog names no container')
  t.equal(hasOverrides(withoutName), true)
})

t.test('toRunJobRequest: clearArgs', async t => {
  t.same(toRunJobRequest(named, { clearArgs: true }), { overrides: { containerOverrides: [{ name: 'job', clearArgs: true }] } })
  t.same(toRunJobRequest(named, { clearArgs: true, args: [] }), { overrides: { containerOverrides: [{ name: 'job', clearArgs: true }] } })
  t.same(toRunJobRequest(named, { clearArgs: false }), {}, 'clearArgs false is the default, not an override')
})

t.test('toRunJobRequest: env keeps the caller\'s order as [{name, value}]', async t => {
  const request = toRunJobRequest(named, { env: { ZED: '1', ALPHA: '', MIDDLE: 'a=b' } })
  t.same(request, { overrides: { containerOverrides: [{ name: 'job', env: [{ name: 'ZED', value: '1' }, { name: 'ALPHA', value: '' }, { name: 'MIDDLE', value: 'a=b' }] }] } })
  t.same(request.overrides?.containerOverrides?.[0]?.env?.map(e => e.name), ['ZED', 'ALPHA', 'MIDDLE'])
})

t.test('toRunJobRequest: taskCount and timeoutSeconds alone need no container override', async t => {
  t.same(toRunJobRequest(named, { taskCount: 3 }), { overrides: { taskCount: 3 } })
  t.same(toRunJobRequest(named, { timeoutSeconds: 600 }), { overrides: { timeoutSeconds: 600 } })
})

t.test('toRunJobRequest: everything at once, in Cloud Run\'s field names', async t => {
  const request = toRunJobRequest(named, { args: ['--x'], env: { A: '1' }, taskCount: 3, timeoutSeconds: 600 })
  t.strictSame(request, {
    overrides: {
      containerOverrides: [{ name: 'job', args: ['--x'], env: [{ name: 'A', value: '1' }] }],
      taskCount: 3,
      timeoutSeconds: 600
    }
  })
  t.equal(JSON.stringify(request), '{"overrides":{"containerOverrides":[{"name":"job","args":["--x"],"env":[{"name":"A","value":"1"}]}],"taskCount":3,"timeoutSeconds":600}}')
})

const cond = (type: string, status: string, extra: Partial<Condition> = {}): Condition => ({ type, status, ...extra })
const exec = (conditions: Condition[] | undefined, counts: NonNullable<Execution['status']> = {}): Execution =>
  ({ metadata: { name: 'e-1' }, status: { ...(conditions !== undefined && { conditions }), ...counts } })

t.test('executionState: Completed=True → SUCCEEDED whatever else says', async t => {
  for (const started of [undefined, 'True', 'False', 'Unknown']) {
    for (const runningCount of [undefined, 0, 2]) {
      const conditions = [cond('Completed', 'True'), ...(started === undefined ? [] : [cond('Started', started)])]
      t.equal(executionState(exec(conditions, { ...(runningCount !== undefined && { runningCount }) })), 'SUCCEEDED', `Started=${started} running=${runningCount}`)
    }
  }
  t.equal(executionState(exec([cond('Completed', 'True')], { cancelledCount: 1 })), 'SUCCEEDED')
})

t.test('executionState: Completed=False → FAILED, or CANCELLED when cancelled', async t => {
  t.equal(executionState(exec([cond('Completed', 'False')], { failedCount: 1 })), 'FAILED')
  t.equal(executionState(exec([cond('Completed', 'False')])), 'FAILED', 'no counts at all')
  t.equal(executionState(exec([cond('Completed', 'False', { reason: 'Cancelled' })])), 'CANCELLED', 'reason Cancelled')
  t.equal(executionState(exec([cond('Completed', 'False', { reason: 'ExecutionCancelled' })], { failedCount: 2 })), 'CANCELLED', 'a cancel reason wins over failures')
  t.equal(executionState(exec([cond('Completed', 'False', { reason: 'cancelled' })])), 'CANCELLED', 'reason matched case-insensitively')
  t.equal(executionState(exec([cond('Completed', 'False')], { cancelledCount: 2 })), 'CANCELLED', 'cancelled tasks and no failures')
  t.equal(executionState(exec([cond('Completed', 'False')], { cancelledCount: 2, failedCount: 1 })), 'FAILED', 'a real failure beside cancelled tasks is a failure')
  t.equal(executionState(exec([cond('Completed', 'False', { reason: 'NonZeroExitCode' })], { cancelledCount: 0, failedCount: 0 })), 'FAILED')
  t.equal(executionState(exec([cond('Completed', 'False'), cond('Started', 'True')], { runningCount: 1, failedCount: 1 })), 'FAILED', 'Started/running do not matter once Completed is False')
})

t.test('executionState: Completed Unknown or absent → RUNNING when started or running, else PENDING', async t => {
  for (const completed of [[cond('Completed', 'Unknown')], []]) {
    const label = completed.length === 0 ? 'absent' : 'Unknown'
    t.equal(executionState(exec([...completed, cond('Started', 'True')])), 'RUNNING', `Completed ${label}, Started=True`)
    t.equal(executionState(exec([...completed, cond('Started', 'False')], { runningCount: 1 })), 'RUNNING', `Completed ${label}, runningCount 1`)
    t.equal(executionState(exec([...completed], { runningCount: 3 })), 'RUNNING', `Completed ${label}, no Started, running`)
    t.equal(executionState(exec([...completed, cond('Started', 'False')])), 'PENDING', `Completed ${label}, Started=False`)
    t.equal(executionState(exec([...completed, cond('Started', 'Unknown')], { runningCount: 0 })), 'PENDING', `Completed ${label}, Started=Unknown`)
    t.equal(executionState(exec([...completed], { cancelledCount: 1 })), 'PENDING', `Completed ${label}: cancelled counts alone do not end a run`)
  }
  t.equal(executionState({}), 'PENDING', 'no status at all')
  t.equal(executionState({ status: {} }), 'PENDING', 'empty status')
  t.equal(executionState(exec([cond('Ready', 'True')])), 'PENDING', 'unrelated conditions are ignored')
})

t.test('isTerminal', async t => {
  t.same(['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'].map(s => isTerminal(s as never)), [false, false, true, true, true])
})

t.test('toRun: every field from the execution, links from the job id and name', async t => {
  const execution: Execution = {
    metadata: { name: 'echo-job-x7k2p', namespace: '123', creationTimestamp: '2026-11-23T10:00:00Z', labels: { 'run.googleapis.com/job': 'echo-job' } },
    spec: { taskCount: 3, parallelism: 3 },
    status: {
      conditions: [cond('Completed', 'True'), cond('Started', 'True')],
      startTime: '2026-11-23T10:00:05Z',
      completionTime: '2026-11-23T10:01:00Z',
      runningCount: 0,
      succeededCount: 3,
      failedCount: 0,
      cancelledCount: 0,
      retriedCount: 1,
      logUri: 'https://console.cloud.google.com/logs/viewer?x=1'
    }
  }
  t.strictSame(toRun('echo', execution), {
    name: 'echo-job-x7k2p',
    job: 'echo',
    state: 'SUCCEEDED',
    taskCount: 3,
    runningCount: 0,
    succeededCount: 3,
    failedCount: 0,
    cancelledCount: 0,
    retriedCount: 1,
    links: { self: '/v1/jobs/echo/runs/echo-job-x7k2p', logs: '/v1/jobs/echo/runs/echo-job-x7k2p/logs' },
    createTime: '2026-11-23T10:00:00Z',
    startTime: '2026-11-23T10:00:05Z',
    completionTime: '2026-11-23T10:01:00Z',
    logUri: 'https://console.cloud.google.com/logs/viewer?x=1'
  })
  t.equal(runPath('echo', 'r'), '/v1/jobs/echo/runs/r')
})

t.test('toRun: a fresh execution gets defaults and omits what is unknown', async t => {
  const run = toRun('echo', { metadata: { name: 'e-1' } })
  t.strictSame(run, {
    name: 'e-1',
    job: 'echo',
    state: 'PENDING',
    taskCount: 1,
    runningCount: 0,
    succeededCount: 0,
    failedCount: 0,
    cancelledCount: 0,
    retriedCount: 0,
    links: { self: '/v1/jobs/echo/runs/e-1', logs: '/v1/jobs/echo/runs/e-1/logs' }
  })
  t.equal(toRun('echo', {}).name, '', 'no metadata: empty name rather than a crash')
})

t.test('toRun: message only on failure', async t => {
  const failed = toRun('echo', exec([cond('Completed', 'False', { reason: 'NonZeroExitCode', message: 'Task echo-job-x-0 failed with exit code 1' })], { failedCount: 1 }))
  t.equal(failed.state, 'FAILED')
  t.equal(failed.message, 'Task echo-job-x-0 failed with exit code 1')
  const failedSilently = toRun('echo', exec([cond('Completed', 'False')], { failedCount: 1 }))
  t.notOk(Object.hasOwn(failedSilently, 'message'))
  const cancelled = toRun('echo', exec([cond('Completed', 'False', { reason: 'Cancelled', message: 'cancelled by user' })]))
  t.equal(cancelled.state, 'CANCELLED')
  t.notOk(Object.hasOwn(cancelled, 'message'), 'a cancelled run is not a failure')
  const succeeded = toRun('echo', exec([cond('Completed', 'True', { message: 'done' })]))
  t.notOk(Object.hasOwn(succeeded, 'message'))
})
