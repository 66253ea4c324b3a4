import t from 'tap'
import { runJob } from './run-job.js'

const cloudRunEnv = {
  CLOUD_RUN_JOB: 'echo-job',
  CLOUD_RUN_EXECUTION: 'echo-job-x7k2p',
  CLOUD_RUN_TASK_INDEX: '2',
  CLOUD_RUN_TASK_COUNT: '3',
  CLOUD_RUN_TASK_ATTEMPT: '0'
}

t.test('prints args, redacted env and task context as Cloud Logging JSON lines, then exits 0', async t => {
  const run = runJob(['--date', '2026-11-23', 'two words'], {
    ...cloudRunEnv,
    TENANT_ID: 'acme',
    API_TOKEN: 'tok-123',
    db_password: 'hunter2',
    SIGNING_KEY: 'k',
    GOOGLE_APPLICATION_CREDENTIALS: '/secret/path',
    MY_SECRET_THING: 's'
  })
  const { code, stderr } = await run.exited
  t.equal(code, 0)
  t.equal(stderr, '')
  for (const line of run.lines) {
    t.equal(line.severity, 'INFO', `severity of ${String(line.message)}`)
    t.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    t.notOk('pid' in line || 'hostname' in line || 'level' in line || 'msg' in line, 'no pino noise')
  }
  t.same(run.lines.map(line => line.message), ['args', 'env', 'task', 'done'])
  t.same(run.lines[0]?.args, ['--date', '2026-11-23', 'two words'])
  const env = run.lines[1]?.env as Record<string, string>
  t.equal(env.TENANT_ID, 'acme')
  t.equal(env.CLOUD_RUN_TASK_INDEX, '2')
  for (const name of ['API_TOKEN', 'db_password', 'SIGNING_KEY', 'GOOGLE_APPLICATION_CREDENTIALS', 'MY_SECRET_THING']) {
    t.equal(env[name], '[REDACTED]', `${name} is redacted`)
  }
  t.notMatch(JSON.stringify(run.lines), /tok-123|hunter2|\/secret\/path/, 'no secret value anywhere')
  t.match(run.lines[2], { job: 'echo-job', execution: 'echo-job-x7k2p', taskIndex: 2, taskCount: 3, taskAttempt: 0 })
})

t.test('outside Cloud Run the task context has local defaults', async t => {
  const run = runJob([], {})
  t.equal((await run.exited).code, 0)
  const task = await run.lineWith('task')
  t.same(run.lines[0]?.args, [])
  t.match(task, { taskIndex: 0, taskCount: 1, taskAttempt: 0 })
  t.notOk('job' in task || 'execution' in task)
})

t.test('SIGTERM is logged as a WARNING and ends the process with 143', async t => {
  const run = runJob([], { ...cloudRunEnv, ECHO_SLEEP_MS: '30000' })
  await run.lineWith('sleeping')
  run.child.kill('SIGTERM')
  const { code } = await run.exited
  t.equal(code, 143)
  const last = run.lines.at(-1)
  t.match(last, { severity: 'WARNING', signal: 'SIGTERM' })
})

t.test('ECHO_EXIT_CODE fails the task after echoing', async t => {
  const run = runJob(['x'], { ECHO_EXIT_CODE: '3' })
  t.equal((await run.exited).code, 3)
  t.same(run.lines[0]?.args, ['x'])
  t.match(run.lines.at(-1), { severity: 'ERROR', exitCode: 3 })
})

t.test('ECHO_FAIL_ATTEMPTS fails early attempts only', async t => {
  const failing = runJob([], { ...cloudRunEnv, CLOUD_RUN_TASK_ATTEMPT: '1', ECHO_FAIL_ATTEMPTS: '2' })
  t.equal((await failing.exited).code, 1)
  const passing = runJob([], { ...cloudRunEnv, CLOUD_RUN_TASK_ATTEMPT: '2', ECHO_FAIL_ATTEMPTS: '2' })
  t.equal((await passing.exited).code, 0)
})

t.test('a bad knob or task variable exits 2 with an ERROR line naming it', async t => {
  const badKnob = runJob([], { ECHO_SLEEP_MS: 'soon' })
  t.equal((await badKnob.exited).code, 2)
  t.match(badKnob.lines.at(-1), { severity: 'ERROR', message: 'bad configuration', error: /ECHO_SLEEP_MS/ })
  const badIndex = runJob([], { CLOUD_RUN_TASK_INDEX: '3', CLOUD_RUN_TASK_COUNT: '3' })
  t.equal((await badIndex.exited).code, 2)
  t.match(badIndex.lines.at(-1), { error: /CLOUD_RUN_TASK_INDEX/ })
})
