import t from 'tap'
import { taskContext } from '../../job/task-context.js'
import * as jobApi from '../../job/index.js'

t.test('parses Cloud Run variables', async t => {
  t.same(taskContext({
    CLOUD_RUN_JOB: 'echo-job',
    CLOUD_RUN_EXECUTION: 'echo-job-abcde',
    CLOUD_RUN_TASK_INDEX: '4',
    CLOUD_RUN_TASK_COUNT: '10',
    CLOUD_RUN_TASK_ATTEMPT: '2'
  }), { job: 'echo-job', execution: 'echo-job-abcde', taskIndex: 4, taskCount: 10, taskAttempt: 2 })
})

t.test('defaults to task 0 of 1, first attempt, when absent or empty', async t => {
  t.same(taskContext({}), { taskIndex: 0, taskCount: 1, taskAttempt: 0 })
  t.same(taskContext({ CLOUD_RUN_TASK_INDEX: '', CLOUD_RUN_JOB: '' }), { taskIndex: 0, taskCount: 1, taskAttempt: 0 })
})

t.test('reads process.env by default', async t => {
  const saved = process.env.CLOUD_RUN_TASK_ATTEMPT
  process.env.CLOUD_RUN_TASK_ATTEMPT = '7'
  t.teardown(() => { if (saved === undefined) delete process.env.CLOUD_RUN_TASK_ATTEMPT; else process.env.CLOUD_RUN_TASK_ATTEMPT = saved })
  t.equal(taskContext().taskAttempt, 7)
})

t.test('rejects malformed values, naming the variable', async t => {
  t.throws(() => taskContext({ CLOUD_RUN_TASK_INDEX: '-1' }), { name: 'RangeError', message: /CLOUD_RUN_TASK_INDEX/ })
  t.throws(() => taskContext({ CLOUD_RUN_TASK_COUNT: '0' }), { message: /CLOUD_RUN_TASK_COUNT must be an integer ≥ 1/ })
  t.throws(() => taskContext({ CLOUD_RUN_TASK_ATTEMPT: '1.5' }), { message: /CLOUD_RUN_TASK_ATTEMPT/ })
  t.throws(() => taskContext({ CLOUD_RUN_TASK_COUNT: '99999999999999999999' }), { message: /CLOUD_RUN_TASK_COUNT/ })
  t.throws(() => taskContext({ CLOUD_RUN_TASK_INDEX: '2', CLOUD_RUN_TASK_COUNT: '2' }), { message: /below CLOUD_RUN_TASK_COUNT/ })
})

t.test('job/index.ts exports the helpers for job authors', async t => {
  t.equal(jobApi.taskContext, taskContext)
  t.same(jobApi.shard(10, 1, 3), { start: 4, end: 7 })
  t.type(jobApi.redactEnv, 'function')
  t.type(jobApi.createJobLogger, 'function')
})
