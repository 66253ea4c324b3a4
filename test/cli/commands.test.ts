import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { jobEntries } from '../../cli/commands/jobs.js'
import { backoffDelayMs, defaultRetryPolicy, parseRetryAfter, sleep } from '../../cli/retry.js'
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
  t.match(plain.stdout, new RegExp(`^run +${name}\njob +fail\nstate +FAILED\ntasks +\\[#+\\] 1/1  succeeded 0  failed 1  running 0\nelapsed +\\d+s\ncreated +\\S+\nstarted +\\S+\ncompleted +\\S+\nlogs +https://`))
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

t.test('jobs: one line per job with its limits, or the API body with --json', async t => {
  const plain = await runCli(['jobs'], api.url)
  t.equal(plain.code, 0)
  t.match(plain.stdout, /^echo +maxTaskCount=100 maxTimeoutSeconds=3600\n/)
  t.equal(plain.stdout.trim().split('\n').length, 4)
  const json = await runCli(['jobs', '--json'], api.url)
  t.match(JSON.parse(json.stdout), { jobs: [{ id: 'echo' }] })
})

t.test('jobs: list or map shapes, and an empty catalog', async t => {
  t.same(jobEntries({ jobs: [{ id: 'a', maxTaskCount: 1 }, { name: 'b' }, { job: 'c' }, {}] }), [['a', { maxTaskCount: 1 }], ['b', {}], ['c', {}], ['?', {}]])
  t.same(jobEntries({ jobs: { echo: { env: { allow: ['A'] } } } }), [['echo', { env: { allow: ['A'] } }]])
  t.same(jobEntries([{ id: 'x' }]), [['x', {}]])
  t.same(jobEntries(null), [])
  t.same(jobEntries('nonsense'), [])
  const server = createServer((_, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"jobs":{"echo":{"env":{"allow":["DATE"]},"maxTaskCount":5}}}') })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const map = await runCli(['jobs'], url)
  t.equal(map.stdout, 'echo  env={"allow":["DATE"]} maxTaskCount=5\n')
})

t.test('an API under a path prefix keeps its prefix', async t => {
  const seen: string[] = []
  const server = createServer((req, res) => { seen.push(req.url ?? ''); res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"jobs":[]}') })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const empty = await runCli(['jobs'], `${base}/jobgate`)
  t.equal(empty.code, 0)
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
