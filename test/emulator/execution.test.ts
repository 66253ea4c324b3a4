import t, { type Test } from 'tap'
import type { V1Execution } from '../../emulator/index.js'
import { client, condition, executionFilter, fetchToken, isDone, listAllEntries, overrides, pollExecution, runPath, startTestEmulator, waitForEntries } from './helpers.js'

const project = 'acme-prod'
const region = 'europe-west1'

async function setup (t: Test) {
  const emulator = await startTestEmulator(t, {
    region,
    jobs: [
      { project, name: 'echo-job', env: { TEMPLATE_VAR: 'kept', DB_PASSWORD: 'hunter2' }, args: ['template-arg'], maxRetries: 0 },
      { project, name: 'flaky', maxRetries: 3 },
      { project, name: 'wide', taskCount: 4, parallelism: 2, maxRetries: 0 }
    ]
  })
  const api = client(emulator, await fetchToken(emulator))
  const run = async (job: string, body: unknown): Promise<V1Execution> => {
    const reply = await api<V1Execution>('POST', runPath(project, `jobs/${job}:run`), body)
    t.equal(reply.status, 200, `run ${job}: ${JSON.stringify(reply.body)}`)
    return reply.body
  }
  return { emulator, api, run }
}

t.test('the echo job with args/env overrides and 3 tasks succeeds, and each task logs its own context', async t => {
  const { api, run } = await setup(t)
  const created = await run('echo-job', overrides({ args: ['--date', '2026-11-23'], env: { TENANT_ID: 'acme', API_TOKEN: 's3cr3t' }, taskCount: 3 }))
  t.match(created.metadata.name, /^echo-job-[a-z0-9]{5}$/)
  t.equal(created.metadata.labels['run.googleapis.com/job'], 'echo-job')
  t.equal(created.spec.taskCount, 3)
  t.equal(condition(created, 'Completed')?.status, 'Unknown', 'just created: not completed')
  t.same(created.spec.template.spec.containers[0]?.args, ['--date', '2026-11-23'])

  const done = await pollExecution(api, project, created.metadata.name, isDone)
  t.match(done.status, { succeededCount: 3, logUri: /^https:\/\/console\.cloud\.google\.com\/logs\/viewer\?project=acme-prod&advancedFilter=/ })
  t.notOk(done.status.failedCount || done.status.runningCount || done.status.cancelledCount, 'zero counts are omitted')
  t.match(condition(done, 'Completed'), { status: 'True' })
  t.match(condition(done, 'Started'), { status: 'True' })
  t.match(condition(done, 'ResourcesAvailable'), { status: 'True' })
  t.ok(done.status.startTime && done.status.completionTime && done.status.startTime <= done.status.completionTime)

  const entries = await listAllEntries(api, project, executionFilter('echo-job', region, created.metadata.name, new Date(created.metadata.creationTimestamp)))
  for (const index of [0, 1, 2]) {
    const mine = entries.filter(entry => entry.labels['run.googleapis.com/task_index'] === String(index))
    const payload = (message: string) => mine.find(entry => entry.jsonPayload?.message === message)?.jsonPayload
    t.same(payload('args')?.args, ['--date', '2026-11-23'], `task ${index} got the args`)
    const env = payload('env')?.env as Record<string, string>
    t.match(env, {
      TENANT_ID: 'acme',
      TEMPLATE_VAR: 'kept',
      API_TOKEN: '[REDACTED]',
      DB_PASSWORD: '[REDACTED]',
      CLOUD_RUN_TASK_INDEX: String(index),
      CLOUD_RUN_TASK_COUNT: '3',
      CLOUD_RUN_JOB: 'echo-job',
      CLOUD_RUN_EXECUTION: created.metadata.name
    }, `task ${index} env`)
    t.match(payload('task'), { taskIndex: index, taskCount: 3, taskAttempt: 0 })
    for (const entry of mine) {
      t.match(entry, { severity: 'INFO', resource: { type: 'cloud_run_job', labels: { job_name: 'echo-job', location: region, project_id: project } }, logName: `projects/${project}/logs/run.googleapis.com%2Fstdout` })
      t.notOk('severity' in (entry.jsonPayload ?? {}) || 'time' in (entry.jsonPayload ?? {}), 'severity and time are lifted out of the payload')
    }
  }
  t.notMatch(JSON.stringify(entries), /s3cr3t|hunter2/, 'no secret value reached the logs')
})

t.test('clearArgs clears the template args; no overrides keep them', async t => {
  const { api, run } = await setup(t)
  const cleared = await run('echo-job', overrides({ clearArgs: true }))
  const kept = await run('echo-job', {})
  for (const [execution, args] of [[cleared, []], [kept, ['template-arg']]] as const) {
    await pollExecution(api, project, execution.metadata.name, isDone)
    const entries = await listAllEntries(api, project, `labels."run.googleapis.com/execution_name"="${execution.metadata.name}"`)
    t.same(entries.find(entry => entry.jsonPayload?.message === 'args')?.jsonPayload?.args, args)
  }
})

t.test('a task exiting non-zero fails the execution', async t => {
  const { api, run } = await setup(t)
  const created = await run('echo-job', overrides({ env: { ECHO_EXIT_CODE: '3' }, taskCount: 2 }))
  const done = await pollExecution(api, project, created.metadata.name, isDone)
  t.match(done.status, { failedCount: 2 })
  t.notOk(done.status.succeededCount)
  t.match(condition(done, 'Completed'), { status: 'False', reason: 'NonZeroExitCode', message: /exit code 3.*\(2 of 2 tasks failed\)/ })
})

t.test('a task past its timeout is killed and fails', async t => {
  const { api, run } = await setup(t)
  const created = await run('echo-job', overrides({ env: { ECHO_SLEEP_MS: '600000' }, timeoutSeconds: 1 }))
  t.equal(created.spec.template.spec.timeoutSeconds, '1')
  // Ten minutes of sleep: only the timeout can end it within the poll's deadline. (On a loaded machine the task may
  // still be starting when the second is up, before its SIGTERM handler exists: the cancel test checks that log line.)
  const done = await pollExecution(api, project, created.metadata.name, isDone, 120_000)
  t.match(done.status, { failedCount: 1 })
  t.notOk(done.status.succeededCount, 'not run to its end')
  t.match(condition(done, 'Completed'), { status: 'False', message: /timeout was reached/ })
})

t.test('cancel stops running tasks and cancels pending ones', async t => {
  const { api, run } = await setup(t)
  const created = await run('wide', overrides({ env: { ECHO_SLEEP_MS: '20000' } }))
  const name = created.metadata.name
  // Wait until both running tasks are past their start-up (their SIGTERM handler is installed).
  await waitForEntries(api, project, `labels."run.googleapis.com/execution_name"="${name}" AND jsonPayload.message="sleeping"`, 2)
  t.equal((await pollExecution(api, project, name, () => true)).status.runningCount, 2)
  const started = Date.now()
  const cancelled = await api<V1Execution>('POST', runPath(project, `executions/${name}:cancel`), {})
  t.equal(cancelled.status, 200)
  t.ok(Date.now() - started < 1500, 'the tasks stopped on SIGTERM')
  t.match(cancelled.body.status, { cancelledCount: 4 })
  t.notOk(cancelled.body.status.runningCount)
  t.match(condition(cancelled.body, 'Completed'), { status: 'False', reason: 'Cancelled' })
  const again = await api('POST', runPath(project, `executions/${name}:cancel`), {})
  t.match(again, { status: 400, body: { error: { status: 'FAILED_PRECONDITION' } } })
  const warnings = await listAllEntries(api, project, `labels."run.googleapis.com/execution_name"="${name}" AND severity>="WARNING"`)
  t.equal(warnings.length, 2, 'both running tasks logged their SIGTERM')
})

t.test('failed attempts are retried and counted in retriedCount', async t => {
  const { api, run } = await setup(t)
  const created = await run('flaky', overrides({ env: { ECHO_FAIL_ATTEMPTS: '2' }, taskCount: 2 }))
  const done = await pollExecution(api, project, created.metadata.name, isDone)
  t.match(done.status, { succeededCount: 2, retriedCount: 2 })
  t.match(condition(done, 'Completed'), { status: 'True' })
  const tasks = await listAllEntries(api, project, `labels."run.googleapis.com/execution_name"="${created.metadata.name}" AND jsonPayload.message="task"`)
  t.same(tasks.map(e => `${e.labels['run.googleapis.com/task_index']}/${e.labels['run.googleapis.com/task_attempt']}/${String(e.jsonPayload?.taskAttempt)}`).sort(),
    ['0/0/0', '0/1/1', '0/2/2', '1/0/0', '1/1/1', '1/2/2'])

  const exhausted = await run('flaky', overrides({ env: { ECHO_FAIL_ATTEMPTS: '9' } }))
  const failed = await pollExecution(api, project, exhausted.metadata.name, isDone)
  t.match(failed.status, { failedCount: 1, retriedCount: 1 })
  t.equal(condition(failed, 'Completed')?.status, 'False')
})

/** The most tasks alive at once, from each task's first and last log line. */
function maxConcurrency (entries: Array<{ labels: Record<string, string>, timestamp: string }>): number {
  const spans = new Map<string, [number, number]>()
  for (const entry of entries) {
    const task = entry.labels['run.googleapis.com/task_index'] as string
    const at = Date.parse(entry.timestamp)
    const span = spans.get(task)
    spans.set(task, span ? [Math.min(span[0], at), Math.max(span[1], at)] : [at, at])
  }
  const events = [...spans.values()].flatMap(([start, end]) => [[start, 1], [end, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let now = 0
  let max = 0
  for (const [, delta] of events) max = Math.max(max, now += delta)
  return max
}

t.test('parallelism bounds the tasks running at once; 0 means all of them', async t => {
  const { emulator, api, run } = await setup(t)
  emulator.addJob({ project, name: 'unbounded', taskCount: 4, maxRetries: 0 })
  for (const [job, limit] of [['wide', 2], ['unbounded', 4]] as const) {
    const execution = await run(job, overrides({ env: { ECHO_SLEEP_MS: '300' } }))
    t.equal(execution.spec.parallelism, job === 'wide' ? 2 : undefined, 'parallelism 0 is omitted')
    // runningCount as the API reports it, polled until the end...
    let maxRunning = 0
    const done = await pollExecution(api, project, execution.metadata.name, e => {
      maxRunning = Math.max(maxRunning, e.status.runningCount ?? 0)
      return isDone(e)
    })
    t.equal(done.status.succeededCount, 4)
    t.equal(maxRunning, limit, `runningCount peaked at ${limit}`)
    // ...and what the processes themselves saw: never more alive at once than allowed.
    const alive = maxConcurrency(await listAllEntries(api, project, `labels."run.googleapis.com/execution_name"="${execution.metadata.name}"`))
    t.ok(alive <= limit && alive >= 1, `${alive} task processes overlapped (limit ${limit})`)
  }
})

t.test('a command that cannot start fails its attempts; stderr lines are ERROR text entries', async t => {
  const { emulator, api, run } = await setup(t)
  emulator.addJob({ project, name: 'missing', command: ['/nonexistent/binary'], maxRetries: 1 })
  emulator.addJob({ project, name: 'shell', command: [process.execPath, '-e', 'console.log("plain text"); console.error("to stderr"); console.log(JSON.stringify({severity:"bogus", message:"odd"}))'], maxRetries: 0 })
  const missing = await run('missing', {})
  const failed = await pollExecution(api, project, missing.metadata.name, isDone)
  t.match(failed.status, { failedCount: 1, retriedCount: 1 })
  t.match(condition(failed, 'Completed')?.message, /could not be started: spawn \/nonexistent\/binary ENOENT/)

  const shell = await run('shell', {})
  await pollExecution(api, project, shell.metadata.name, isDone)
  const entries = await listAllEntries(api, project, `labels."run.googleapis.com/execution_name"="${shell.metadata.name}"`)
  t.match(entries.find(e => e.textPayload === 'plain text'), { severity: 'DEFAULT', logName: /stdout$/ })
  t.match(entries.find(e => e.textPayload === 'to stderr'), { severity: 'ERROR', logName: /run\.googleapis\.com%2Fstderr$/ })
  t.match(entries.find(e => e.jsonPayload?.message === 'odd'), { severity: 'DEFAULT', jsonPayload: { severity: 'bogus' } })
})

t.test('an env value spawn() refuses fails the attempt instead of the emulator', async t => {
  const { api, run } = await setup(t)
  const created = await run('echo-job', overrides({ env: { BAD: 'a\u0000b' } }))
  const done = await pollExecution(api, project, created.metadata.name, isDone)
  t.match(condition(done, 'Completed'), { status: 'False', message: /could not be started/ })
})

t.test('emulator.executions and waitForExecution see the same executions', async t => {
  const { emulator, run } = await setup(t)
  const first = await run('echo-job', {})
  const second = await run('flaky', {})
  t.same(emulator.executions(project).map(e => e.metadata.name), [second.metadata.name, first.metadata.name])
  t.same(emulator.executions(emulator.projectNumber === '123456789012' ? 'other' : project), [])
  t.same(emulator.executions(undefined, 'flaky').map(e => e.metadata.name), [second.metadata.name])
  const done = await emulator.waitForExecution(first.metadata.name, project)
  t.equal(condition(done, 'Completed')?.status, 'True')
  await t.rejects(emulator.waitForExecution('nope'), /no execution named nope/)
  t.ok(emulator.logEntries().length > 0)
})

t.test('the built-in emulator:sleep: its tasks succeed after the pause, and a cancel stops it at once', async t => {
  const emulator = await startTestEmulator(t, {
    region,
    jobs: [
      { project, name: 'nap', command: ['emulator:sleep', '0.2'], taskCount: 3, maxRetries: 0 },
      { project, name: 'long-nap', command: ['emulator:sleep', '600'], maxRetries: 0 }
    ]
  })
  const api = client(emulator, await fetchToken(emulator))
  const nap = await api<V1Execution>('POST', runPath(project, 'jobs/nap:run'), {})
  const done = await pollExecution(api, project, nap.body.metadata.name, isDone)
  t.match(done.status, { succeededCount: 3 })
  t.notOk(done.status.failedCount, 'no task failed')
  const long = await api<V1Execution>('POST', runPath(project, 'jobs/long-nap:run'), {})
  await pollExecution(api, project, long.body.metadata.name, execution => (execution.status.runningCount ?? 0) === 1)
  t.same([emulator.unfinished(project), emulator.unfinished(project, 'nap'), emulator.unfinished(undefined, 'long-nap')], [1, 0, 1],
    'unfinished counts the executions not ended')
  const cancelled = await api<V1Execution>('POST', runPath(project, `executions/${long.body.metadata.name}:cancel`), {})
  t.match(cancelled.body.status, { cancelledCount: 1 })
  t.notOk(cancelled.body.status.runningCount, 'the timer stopped with the cancel')
})
