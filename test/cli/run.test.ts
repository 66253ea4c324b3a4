import t from 'tap'
import { startFakeApi, type FakeApi } from './fake-api.js'
import { runCli } from './helpers.js'

let api: FakeApi
t.before(async () => { api = await startFakeApi() })
t.teardown(() => api.close())

const lastRunName = (): string => [...api.runs.keys()].at(-1) ?? ''

t.test('run --wait --logs: exit 0, the echoed env printed once, progress lines on stderr', async t => {
  const { code, stdout, stderr } = await runCli(['run', 'echo', '--env', 'RELEASE=abc=1', '--arg', 'x', '--wait', '--logs', '--tasks', '2'], api.url)
  t.equal(code, 0, stderr)
  t.match(stdout, '[task 0] INFO env env={"RELEASE":"abc=1"}')
  t.match(stdout, '[task 1] INFO args args=["x"]')
  t.equal(stdout.split('\n').filter(line => line === '[task 0] INFO done').length, 1, 'no line printed twice')
  t.equal(stdout.trim().split('\n').length, 6, '3 lines per task, each once')
  t.match(stderr, /Started run echo-job-\d+ of job echo\./)
  t.match(stderr, /Run echo-job-\d+ SUCCEEDED in \d+s \(2 of 2 tasks succeeded, 0 failed\)\./)
  t.notMatch(stderr, '\x1b', 'no escape codes off a TTY')
  const run = api.runs.get(lastRunName())
  t.same(run?.request, { args: ['x'], env: { RELEASE: 'abc=1' }, taskCount: 2 }, 'the API got exactly the overrides')
})

t.test('a failed run exits 1 and points at its logs', async t => {
  const { code, stdout, stderr } = await runCli(['run', 'fail', '--wait', '--logs'], api.url)
  t.equal(code, 1)
  t.match(stdout, '[task 0] ERROR migration 42 failed')
  t.match(stderr, /Run fail-job-\d+ FAILED after \d+s \(0 of 1 tasks succeeded, 1 failed, 1 retried\):\n {2}task 0 failed after 4 attempts: exit code 3\nLogs: jobgate logs fail fail-job-\d+ {2}Cloud Logging: https:/)
})

t.test('a failed run names its failed tasks (ten at most); without the tasks route, Cloud Run\'s message', async t => {
  const broken = await startFakeApi({ jobs: { broken: { steps: (_, n) => [{ atMs: 0, state: 'PENDING' }, { atMs: 50, state: 'FAILED', failed: n }] } } })
  t.teardown(() => broken.close())
  const many = await runCli(['run', 'broken', '--tasks', '12', '--wait'], broken.url)
  t.equal(many.code, 1)
  const named = many.stderr.split('\n').filter(line => /^ {2}task \d+ failed after 4 attempts: exit code 3$/.test(line))
  t.equal(named.length, 10)
  t.match(many.stderr, /\n {2}… and more: jobgate tasks broken broken-job-\d+ --failed\n/)

  const older = await startFakeApi()
  t.teardown(() => older.close())
  older.inject({ path: /\/tasks$/, times: 10, fault: { status: 404, body: { error: { code: 404, status: 'NOT_FOUND', message: 'no route GET /tasks' } } } })
  const plain = await runCli(['run', 'fail', '--wait'], older.url)
  t.equal(plain.code, 1)
  t.match(plain.stderr, /FAILED after \d+s \(0 of 1 tasks succeeded, 1 failed, 1 retried\):\n {2}Task fail-job-\d+-task0 failed with message: The container exited with an error \(exit code 3\)\.\nLogs: /)
})

t.test('--wait-timeout 1 on a long run exits 4, says how to resume, and the run goes on', async t => {
  const started = Date.now()
  const { code, stderr } = await runCli(['run', 'slow', '--wait-timeout', '1'], api.url)
  t.equal(code, 4)
  t.ok(Date.now() - started < 2500, 'stops soon after the timeout')
  const name = lastRunName()
  t.match(stderr, `Stopped waiting (--wait-timeout): run ${name} is still RUNNING and continues. Resume with: jobgate status slow ${name} --wait`)
  t.equal(api.snapshot(name).state, 'RUNNING', 'the CLI did not cancel it')
})

t.test('a run cancelled while the CLI waits exits 3', async t => {
  const known = api.runs.size
  const waiting = runCli(['run', 'slow', '--wait'], api.url)
  for (let i = 0; i < 500 && api.runs.size === known; i++) await new Promise(resolve => setTimeout(resolve, 10))
  await new Promise(resolve => setTimeout(resolve, 200))
  const name = lastRunName()
  const cancel = await runCli(['cancel', 'slow', name], api.url)
  t.equal(cancel.code, 0)
  t.equal(cancel.stdout, `Cancel requested for run ${name} of job slow; state now CANCELLED.\n`)
  const { code, stderr } = await waiting
  t.equal(code, 3)
  t.match(stderr, `Run ${name} was CANCELLED after`)
})

t.test('--json: the final Run alone on stdout, log lines and progress on stderr', async t => {
  const { code, stdout, stderr } = await runCli(['run', 'echo', '--env', 'A=1', '--logs', '--json'], api.url)
  t.equal(code, 0)
  const run = JSON.parse(stdout)
  t.match(run, { name: lastRunName(), job: 'echo', state: 'SUCCEEDED', succeededCount: 1, taskCount: 1 })
  t.match(stderr, '[task 0] INFO env env={"A":"1"}')
})

t.test('run without --wait: the run name on stdout (JSON with --json), exit 0 at once', async t => {
  const plain = await runCli(['run', 'slow'], api.url)
  t.equal(plain.code, 0)
  t.equal(plain.stdout, `${lastRunName()}\n`)
  t.match(plain.stderr, `Follow it with: jobgate status slow ${lastRunName()} --wait`)
  const json = await runCli(['run', 'slow', '--json', '--url', api.url], undefined)
  t.equal(json.code, 0)
  t.match(JSON.parse(json.stdout), { name: lastRunName(), state: 'PENDING' })
  t.match(json.stderr, `--wait --url ${api.url}`, 'hints repeat a --url given on the command line')
})

t.test('every request says who it is', async t => {
  t.ok(api.requests.length > 10)
  t.ok(api.requests.every(r => /^jobgate-cli\/\d+\.\d+\.\d+ node\/v\d+/.test(String(r.headers['user-agent']))))
  t.ok(api.requests.filter(r => r.method === 'POST' && r.path.endsWith('/runs')).every(r => r.headers['content-type'] === 'application/json'))
})
