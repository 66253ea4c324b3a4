import t from 'tap'
import type { V1Execution, V1Task } from '../../emulator/index.js'
import { client, fetchToken, isDone, overrides, pollExecution, runPath, startTestEmulator } from './helpers.js'

// Cloud Run v1 `namespaces.tasks` list and get, as gcloud reads them (test/e2e/gcloud.test.ts runs gcloud itself).
const project = 'task-project'
const emulator = await startTestEmulator(t, {
  region: 'europe-west1',
  jobs: [
    { project, name: 'flaky', maxRetries: 3 },
    { project, name: 'once', maxRetries: 0, taskCount: 3 }
  ]
})
const api = client(emulator, await fetchToken(emulator))

async function runToEnd (job: string, body: unknown): Promise<V1Execution> {
  const reply = await api<V1Execution>('POST', runPath(project, `jobs/${job}:run`), body)
  if (reply.status !== 200) throw new Error(`run ${job}: ${reply.status} ${JSON.stringify(reply.body)}`)
  return await pollExecution(api, project, reply.body.metadata.name, isDone, 30_000)
}

const list = async (query: string): Promise<{ items?: V1Task[], metadata: { continue?: string } }> => {
  const reply = await api<{ items?: V1Task[], metadata: { continue?: string } }>('GET', runPath(project, `tasks?${query}`))
  if (reply.status !== 200) throw new Error(`tasks list: ${reply.status} ${JSON.stringify(reply.body)}`)
  return reply.body
}
const selectorFor = (execution: string): string => `labelSelector=${encodeURIComponent(`run.googleapis.com/execution=${execution}`)}`

// Started up front: the failing run retries 3 times, and both run while the checks below are written.
const [failed, mixed] = await Promise.all([
  runToEnd('flaky', overrides({ env: { ECHO_EXIT_CODE: '3' } })),
  runToEnd('once', overrides({ env: { ECHO_FAIL_ATTEMPTS: '1' }, taskCount: 2 }))
])

t.test('a task that failed every attempt: retried 3 (4 attempts), its last exit code, Failed', async t => {
  const { items = [] } = await list(selectorFor(failed.metadata.name))
  t.equal(items.length, 1)
  const [task] = items as [V1Task]
  t.match(task, {
    apiVersion: 'run.googleapis.com/v1',
    kind: 'Task',
    metadata: {
      name: `${failed.metadata.name}-task0`,
      namespace: emulator.projectNumber,
      selfLink: `/apis/run.googleapis.com/v1/namespaces/${emulator.projectNumber}/tasks/${failed.metadata.name}-task0`,
      labels: {
        'run.googleapis.com/execution': failed.metadata.name,
        'run.googleapis.com/executionUid': failed.metadata.uid,
        'run.googleapis.com/job': 'flaky',
        'run.googleapis.com/runningState': 'Failed'
      },
      ownerReferences: [{ kind: 'Execution', name: failed.metadata.name, uid: failed.metadata.uid }]
    },
    spec: { maxRetries: 3, containers: [{ env: [{ name: 'ECHO_EXIT_CODE', value: '3' }] }] },
    status: {
      retried: 3,
      lastAttemptResult: { exitCode: 3, status: { message: 'The container exited with an error (exit code 3)' } },
      conditions: [{ type: 'Completed', status: 'False', reason: 'Failed' }, { type: 'Started', status: 'True' }],
      logUri: /task_index%22%3D%220%22$/
    }
  })
  t.notOk('index' in task.status, 'index 0 is left out, as proto3 JSON does')
  const { startTime, completionTime } = task.status
  t.ok(startTime !== undefined && completionTime !== undefined && startTime <= completionTime)
  t.equal(failed.status.retriedCount, 1, 'the execution counts retried tasks, the task counts its retries')
})

t.test('tasks by index: a first attempt that failed, then succeeded; selectors on the running state', async t => {
  const { items = [] } = await list(selectorFor(mixed.metadata.name))
  t.same(items.map(task => [task.status.index ?? 0, task.status.retried ?? 0, task.metadata.labels['run.googleapis.com/runningState']]), [[0, 0, 'Failed'], [1, 0, 'Failed']],
    'maxRetries 0: the one failed attempt is the last')
  const retried = await runToEnd('flaky', overrides({ env: { ECHO_FAIL_ATTEMPTS: '1' }, taskCount: 2 }))
  const tasks = (await list(selectorFor(retried.metadata.name))).items ?? []
  t.same(tasks.map(task => [task.status.index ?? 0, task.status.retried, task.metadata.labels['run.googleapis.com/runningState']]), [[0, 1, 'Succeeded'], [1, 1, 'Succeeded']])
  t.same(tasks[0]?.status.lastAttemptResult, { status: {} }, 'the last attempt succeeded: exit code 0 is left out')
  t.match(tasks[1]?.status.conditions, [{ type: 'Completed', status: 'True' }])

  // gcloud's --failed / --succeeded flags: `runningState in (…)` beside the execution.
  const onlyFailed = await list(`${selectorFor(mixed.metadata.name)},${encodeURIComponent('run.googleapis.com/runningState in (Failed)')}`)
  t.equal(onlyFailed.items?.length, 2)
  const succeededThere = await list(`${selectorFor(mixed.metadata.name)},${encodeURIComponent('run.googleapis.com/runningState in (Succeeded)')}`)
  t.same(succeededThere.items, undefined, 'an empty list has no items, as the API sends it')
})

t.test('pages: limit and continue walk the whole list once', async t => {
  const all = (await list('')).items ?? []
  t.equal(all.length, 5, '1 + 2 + 2 tasks in the project')
  const walked: string[] = []
  let token: string | undefined
  do {
    const page = await list(`limit=2${token === undefined ? '' : `&continue=${token}`}`)
    walked.push(...(page.items ?? []).map(task => task.metadata.name))
    token = page.metadata.continue
  } while (token !== undefined)
  t.same(walked, all.map(task => task.metadata.name))
})

t.test('get by name; an unknown task or a name that is not a task is a 404; permissions are checked', async t => {
  const name = `${failed.metadata.name}-task0`
  const got = await api<V1Task>('GET', runPath(project, `tasks/${name}`))
  t.equal(got.status, 200)
  t.equal(got.body.metadata.name, name)
  for (const missing of [`${failed.metadata.name}-task1`, 'no-such-execution-task0', 'not-a-task']) {
    const reply = await api('GET', runPath(project, `tasks/${missing}`))
    t.match(reply, { status: 404, body: { error: { status: 'NOT_FOUND', message: `Resource '${missing}' of kind 'TASK' in region 'europe-west1' in project '${project}' does not exist.` } } })
  }
  emulator.denyPermission('run.tasks.list')
  t.teardown(() => emulator.allowPermission('run.tasks.list'))
  t.match(await api('GET', runPath(project, 'tasks')), { status: 403, body: { error: { status: 'PERMISSION_DENIED' } } })
})

t.test('a running task: Running, started, no completion yet; a cancelled one ends Cancelled', async t => {
  const reply = await api<V1Execution>('POST', runPath(project, 'jobs/once:run'), overrides({ env: { ECHO_SLEEP_MS: '20000' }, taskCount: 1 }))
  const name = reply.body.metadata.name
  await pollExecution(api, project, name, execution => (execution.status.runningCount ?? 0) > 0)
  const running = (await list(selectorFor(name))).items?.[0]
  t.match(running, { metadata: { labels: { 'run.googleapis.com/runningState': 'Running' } }, status: { conditions: [{ type: 'Completed', status: 'Unknown' }, { type: 'Started', status: 'True' }] } })
  t.notOk(running?.status.completionTime)
  t.equal((await api('POST', runPath(project, `executions/${name}:cancel`), {})).status, 200)
  const cancelled = (await list(selectorFor(name))).items?.[0]
  t.match(cancelled, { metadata: { labels: { 'run.googleapis.com/runningState': 'Cancelled' } }, status: { conditions: [{ status: 'False', reason: 'Cancelled' }], lastAttemptResult: { termSignal: 15 } } })
})
