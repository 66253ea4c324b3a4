import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { backoffDelayMs, defaultRetryPolicy, parseRetryAfter, sleep } from '../../cli/retry.js'
import { describeFailedTask } from '../../cli/task-summary.js'
import { startFakeApi, type FakeApi } from './fake-api.js'
import { runCli } from './helpers.js'

let api: FakeApi
t.before(async () => { api = await startFakeApi() })
t.teardown(() => api.close())

t.test('status: details for people, the Run for scripts, exit 0 whatever the state', async t => {
  const failed = await runCli(['run', 'fail', '--wait'], api.url)
  t.equal(failed.code, 1)
  const name = [...api.runs.keys()].at(-1) ?? ''
  const plain = await runCli(['status', 'fail', name], api.url)
  t.equal(plain.code, 0)
  t.match(plain.stdout, new RegExp(`^run +${name}\njob +fail\nstate +FAILED\ntasks +\\[#+\\] 1/1  succeeded 0  failed 1  running 0\nretried +1 task \\(jobgate tasks fail ${name}\\)\nelapsed +\\d+s\ncreated +\\S+\nstarted +\\S+\ncompleted +\\S+\nmessage +Task \\S+ failed with message: .+\nlogs +https://`))
  const json = await runCli(['status', 'fail', name, '--json'], api.url)
  t.match(JSON.parse(json.stdout), { name, state: 'FAILED', failedCount: 1 })
})

t.test('status --wait resumes waiting: exit code of the run, --logs and --json as for run', async t => {
  const started = await runCli(['run', 'echo', '--env', 'K=v'], api.url)
  const name = started.stdout.trim()
  const waited = await runCli(['status', 'echo', name, '--wait', '--logs', '--json'], api.url)
  t.equal(waited.code, 0)
  t.match(JSON.parse(waited.stdout), { name, state: 'SUCCEEDED' })
  t.match(waited.stderr, '[task 0] INFO env env={"K":"v"}')
  const failed = await runCli(['run', 'fail', '--json'], api.url)
  const failedName = JSON.parse(failed.stdout).name
  const plain = await runCli(['status', 'fail', failedName, '--wait', '--logs'], api.url)
  t.equal(plain.code, 1)
  t.match(plain.stdout, '[task 0] ERROR migration 42 failed')
  const gone = await runCli(['status', 'echo', 'no-such-run', '--wait'], api.url)
  t.equal(gone.code, 5)
  t.match(gone.stderr, 'NOT_FOUND 404: run no-such-run')
})

t.test('cancel: the Run as JSON; cancelling a finished run changes nothing', async t => {
  const started = await runCli(['run', 'slow'], api.url)
  const name = started.stdout.trim()
  const cancelled = await runCli(['cancel', 'slow', name, '--json'], api.url)
  t.equal(cancelled.code, 0)
  t.match(JSON.parse(cancelled.stdout), { name, state: 'CANCELLED' })
  const again = await runCli(['status', 'slow', name, '--wait'], api.url)
  t.equal(again.code, 3, 'waiting on a cancelled run exits 3')
})

t.test('jobs: a table of the jobs with their limits, or the API body with --json', async t => {
  const plain = await runCli(['jobs'], api.url)
  t.equal(plain.code, 0)
  const lines = plain.stdout.trimEnd().split('\n')
  t.match(lines[0], /^JOB +MAX TASKS +MAX TIMEOUT +ARGS +ENV +DESCRIPTION$/)
  t.match(lines[1], /^echo +100 +1h00m00s +up to 100 +any$/)
  t.equal(lines.length, 5, 'a header and the four jobs')
  const json = await runCli(['jobs', '--json'], api.url)
  t.match(JSON.parse(json.stdout), { jobs: [{ id: 'echo', limits: { maxTaskCount: 100 } }] })
})

t.test('jobs: env rules and descriptions as a person reads them', async t => {
  const limits = { maxTaskCount: 5, maxTimeoutSeconds: 90, args: { allow: false, maxItems: 0 } }
  const body = { jobs: [
    { id: 'report', project: 'p', region: 'r', job: 'report', description: 'nightly report', limits: { ...limits, env: { allow: ['DATE', 'REPORT_*'], tenantKey: 'TENANT_ID' } } },
    { id: 'locked', project: 'p', region: 'r', job: 'locked', limits: { ...limits, env: { allow: [] } } }
  ] }
  const server = createServer((_, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.equal((await runCli(['jobs'], url)).stdout, [
    'JOB     MAX TASKS  MAX TIMEOUT  ARGS  ENV                                DESCRIPTION',
    'report  5          1m30s        none  DATE,REPORT_* (tenant: TENANT_ID)  nightly report',
    'locked  5          1m30s        none  none',
    ''
  ].join('\n'))
})

t.test('runs: newest first as a table (name, state, started, duration, tasks), --limit across pages, --json', async t => {
  const own = await startFakeApi()
  t.teardown(() => own.close())
  for (const job of ['echo', 'echo', 'fail']) await runCli(['run', job, '--wait', '--tasks', '2'], own.url)
  const table = await runCli(['runs', 'echo'], own.url)
  t.equal(table.code, 0)
  const lines = table.stdout.trimEnd().split('\n')
  t.match(lines[0], /^RUN +STATE +STARTED +DURATION +TASKS$/)
  t.match(lines[1], /^echo-job-00002 +SUCCEEDED +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +\d+s +2\/2$/)
  t.match(lines[2], /^echo-job-00001 /)
  t.equal(lines.length, 3)
  t.match((await runCli(['runs', 'fail'], own.url)).stdout, /FAILED .* 1\/2 \(1 failed\)\n$/)
  const limited = await runCli(['runs', 'echo', '--limit', '1', '--json'], own.url)
  t.same(JSON.parse(limited.stdout).map((run: { name: string }) => run.name), ['echo-job-00002'])
  t.same(own.requests.filter(r => r.path === '/v1/jobs/echo/runs' && r.method === 'GET').at(-1)?.query, { pageSize: '1' })
  const none = await runCli(['runs', 'slow'], own.url)
  t.equal(none.code, 0)
  t.equal(none.stdout, '')
  t.match(none.stderr, 'No runs of job slow.')
})

t.test('tasks: a table by index with attempts and exit codes; --failed; --json', async t => {
  const failed = await runCli(['run', 'fail', '--tasks', '3', '--wait'], api.url)
  const name = /Run (fail-job-\d+) FAILED/.exec(failed.stderr)?.[1] ?? ''
  const table = await runCli(['tasks', 'fail', name], api.url)
  t.equal(table.code, 0)
  const lines = table.stdout.trimEnd().split('\n')
  t.match(lines[0], /^TASK +STATE +ATTEMPTS +EXIT +STARTED +DURATION +MESSAGE$/)
  t.match(lines[1], /^0 +FAILED +4 +3 +\S+Z +\d+s +The container exited with an error \(exit code 3\)$/)
  t.match(lines[2], /^1 +SUCCEEDED +1 +0 +\S+Z +\d+s$/)
  t.equal(lines.length, 4)
  const onlyFailed = await runCli(['tasks', 'fail', name, '--failed', '--json'], api.url)
  t.same(JSON.parse(onlyFailed.stdout).map((task: { index: number }) => task.index), [0])
  const running = await runCli(['run', 'slow', '--tasks', '2'], api.url)
  const slow = running.stdout.trim()
  await runCli(['cancel', 'slow', slow], api.url)
  const none = await runCli(['tasks', 'slow', slow, '--failed'], api.url)
  t.match(none.stderr, `No failed task in run ${slow}.`)
})

t.test('why a task failed, in a few words: its exit code, else Cloud Run\'s message, else its signal', async t => {
  const task = { index: 2, state: 'FAILED' as const, attempts: 1, links: { logs: '' } }
  t.equal(describeFailedTask({ ...task, attempts: 4, exitCode: 3, message: 'The container exited with an error (exit code 3)' }), 'task 2 failed after 4 attempts: exit code 3')
  t.equal(describeFailedTask({ ...task, termSignal: 15, message: 'The configured timeout was reached' }), 'task 2 failed after 1 attempt: The configured timeout was reached')
  t.equal(describeFailedTask({ ...task, termSignal: 9 }), 'task 2 failed after 1 attempt: ended by signal 9')
  t.equal(describeFailedTask({ ...task, exitCode: 0 }), 'task 2 failed after 1 attempt: no exit code reported')
})

t.test('a job that is not in the catalog is a usage error (exit 2) naming the jobs you may use', async t => {
  for (const argv of [['run', 'nope', '--wait'], ['runs', 'nope'], ['status', 'nope', 'nope-1'], ['tasks', 'nope', 'nope-1']]) {
    const result = await runCli(argv, api.url)
    t.equal(result.code, 2, argv.join(' '))
    t.match(result.stderr, /^jobgate: job 'nope' is not in jobgate's catalog; jobs you may use: echo, fail, slow, progress\nUsage: jobgate /)
  }
  const missingRun = await runCli(['status', 'echo', 'echo-job-99999'], api.url)
  t.equal(missingRun.code, 5, 'a missing run of a known job stays an API error')
  t.match(missingRun.stderr, 'NOT_FOUND 404')
})

t.test('an API under a path prefix keeps its prefix', async t => {
  const seen: string[] = []
  const server = createServer((req, res) => { seen.push(req.url ?? ''); res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"jobs":[]}') })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const empty = await runCli(['jobs'], `${base}/jobgate`)
  t.equal(empty.code, 0)
  t.equal(empty.stdout, '')
  t.match(empty.stderr, 'No jobs you may run.')
  await runCli(['jobs'], `${base}/jobgate/`)
  t.same(seen, ['/jobgate/v1/jobs', '/jobgate/v1/jobs'])
})

t.test('backoff: doubling with jitter, capped; Retry-After wins but is capped too', async t => {
  const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 350 }
  t.equal(backoffDelayMs(policy, 1, undefined, () => 0.5), 100)
  t.equal(backoffDelayMs(policy, 2, undefined, () => 0.5), 200)
  t.equal(backoffDelayMs(policy, 3, undefined, () => 0.5), 350)
  t.equal(backoffDelayMs(policy, 1, undefined, () => 0), 50)
  t.equal(backoffDelayMs(policy, 1, undefined, () => 0.999), 150)
  t.equal(backoffDelayMs(policy, 1, 2000), 2000)
  t.equal(backoffDelayMs(policy, 1, 3_600_000), 60_000)
  t.equal(defaultRetryPolicy.attempts, 5)
  t.equal(parseRetryAfter('3'), 3000)
  t.equal(parseRetryAfter(['7']), 7000)
  t.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000)
  t.equal(parseRetryAfter(new Date(0).toUTCString(), 4000), 0)
  t.equal(parseRetryAfter('soon'), undefined)
  t.equal(parseRetryAfter(undefined), undefined)
  t.equal(parseRetryAfter(' '), undefined)
})

t.test('sleep ends early when aborted', async t => {
  const controller = new AbortController()
  const started = Date.now()
  const slept = sleep(5000, controller.signal)
  controller.abort(new Error('stop'))
  await t.rejects(slept, { message: 'stop' })
  t.ok(Date.now() - started < 1000)
  await t.rejects(sleep(10, controller.signal), { message: 'stop' }, 'already aborted')
  await sleep(1)
})
