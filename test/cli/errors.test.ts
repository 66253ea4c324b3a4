import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { startFakeApi, type FakeApi } from './fake-api.js'
import { runCli } from './helpers.js'

const posts = (api: FakeApi) => api.requests.filter(r => r.method === 'POST' && r.path.endsWith('/runs'))

t.test('the first POST is handled but its connection drops: the retry reuses the key and one run starts', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  api.inject({ method: 'POST', path: /\/runs$/, fault: 'handle-then-drop' })
  const { code, stderr } = await runCli(['run', 'echo', '--env', 'A=1', '--wait'], api.url)
  t.equal(code, 0, stderr)
  t.equal(posts(api).length, 2, 'the server saw two POSTs')
  const [first, second] = posts(api).map(r => r.headers['idempotency-key'])
  t.match(first, /^[0-9a-f-]{36}$/)
  t.equal(second, first, 'with one Idempotency-Key')
  t.equal(api.runs.size, 1, 'and started one run')
  t.match(stderr, /jobgate: (ECONNRESET|UND_ERR_SOCKET) on POST \/v1\/jobs\/echo\/runs; retrying in \d\.\ds \(attempt 2 of 5\)/)
})

t.test('a connection dropped before the server handled it is retried too; separate invocations use separate keys', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  api.inject({ method: 'POST', fault: 'drop' })
  t.equal((await runCli(['run', 'echo'], api.url)).code, 0)
  t.equal((await runCli(['run', 'echo'], api.url)).code, 0)
  const keys = posts(api).map(r => r.headers['idempotency-key'])
  t.equal(keys.length, 3)
  t.equal(keys[0], keys[1])
  t.not(keys[2], keys[0], 'a new invocation is a new run')
  t.equal(api.runs.size, 2)
})

t.test('429 with Retry-After: waits as told, then retries with the same key', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  api.inject({ method: 'POST', fault: { status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'slow down' } } } })
  const started = Date.now()
  const { code, stderr } = await runCli(['run', 'echo'], api.url)
  t.equal(code, 0)
  t.ok(Date.now() - started >= 950, 'honoured Retry-After: 1')
  t.match(stderr, 'HTTP 429 on POST /v1/jobs/echo/runs; retrying in 1.0s')
  t.equal(new Set(posts(api).map(r => r.headers['idempotency-key'])).size, 1)
  t.equal(posts(api).length, 2)
})

t.test('409 (first attempt still in flight) and 503 are retried; 502 until attempts run out exits 5 with the message', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  api.inject({ method: 'POST', fault: { status: 409, body: { error: { code: 409, status: 'ABORTED', message: 'a request with this key is in progress' } } } })
  api.inject({ method: 'POST', fault: { status: 503, body: {} } })
  t.equal((await runCli(['run', 'echo'], api.url)).code, 0)
  t.equal(posts(api).length, 3)

  api.inject({ method: 'POST', times: 5, fault: { status: 502, body: { error: { code: 502, status: 'UNAVAILABLE', message: 'Cloud Run API unavailable; no run was started' } } } })
  const { code, stderr } = await runCli(['run', 'echo'], api.url)
  t.equal(code, 5)
  t.match(stderr, 'jobgate: UNAVAILABLE 502: Cloud Run API unavailable; no run was started')
  t.equal(posts(api).length, 8, '5 attempts, then give up')
})

t.test('errors that retrying cannot fix are not retried: 400 policy, 404, 422', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  const denied = await runCli(['run', 'echo', '--env', 'GOOGLE_CLOUD_PROJECT=x'], api.url)
  t.equal(denied.code, 5)
  t.match(denied.stderr, 'jobgate: INVALID_ARGUMENT 400: env.GOOGLE_CLOUD_PROJECT: protected variable')
  const missing = await runCli(['run', 'nope'], api.url)
  t.equal(missing.code, 2, 'a job not in the catalog is a usage error')
  t.match(missing.stderr, 'jobgate: job \'nope\' is not in jobgate\'s catalog; jobs you may use: echo, fail, slow, progress')
  api.inject({ method: 'POST', fault: { status: 422, body: { error: { code: 422, status: 'UNPROCESSABLE_ENTITY', message: 'key reused with another body' } } } })
  t.equal((await runCli(['run', 'echo'], api.url)).code, 5)
  t.equal(posts(api).length, 3, 'one attempt each')
})

t.test('a wrong API key exits 5 with the server message; the key itself is never printed', async t => {
  const api = await startFakeApi({ apiKey: 'right-key' })
  t.teardown(() => api.close())
  const { code, stdout, stderr } = await runCli(['run', 'echo', '--wait'], api.url, { env: { JOBGATE_URL: api.url, JOBGATE_API_KEY: 'sk-wrong-7f3a' } })
  t.equal(code, 5)
  t.equal(stdout, '')
  t.match(stderr, 'jobgate: UNAUTHENTICATED 401: the API key is not valid')
  t.match(stderr, 'sent the API key in JOBGATE_API_KEY')
  t.notMatch(stderr, 'sk-wrong-7f3a')
  t.equal(posts(api)[0]?.headers['x-api-key'], 'sk-wrong-7f3a', 'sent as X-API-Key')
  const ok = await runCli(['jobs'], api.url, { env: { JOBGATE_URL: api.url, JOBGATE_API_KEY: 'right-key' } })
  t.equal(ok.code, 0)
})

t.test('unreachable API: retried, then exit 5 naming the network error', async t => {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  const { code, stderr } = await runCli(['jobs'], `http://127.0.0.1:${port}`)
  t.equal(code, 5)
  t.match(stderr, 'jobgate: network error (ECONNREFUSED)')
  t.equal(stderr.match(/retrying/g)?.length, 4)
})

t.test('something that is not jobgate: the status and a short excerpt, not a stack trace', async t => {
  const server = createServer((req, res) => {
    if (req.url === '/v1/jobs') { res.writeHead(403, { 'content-type': 'text/html' }); res.end('<html><body><h1>Error: Forbidden</h1><p>Your client does not have permission</p></body></html>'); return }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('hello')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const forbidden = await runCli(['jobs'], url)
  t.equal(forbidden.code, 5)
  t.match(forbidden.stderr, 'jobgate: HTTP 403: HTTP 403 from GET /v1/jobs (not a jobgate error body; is the URL right?): Error: Forbidden Your client does not have permission')
  const notJson = await runCli(['status', 'echo', 'r1'], url)
  t.equal(notJson.code, 5)
  t.match(notJson.stderr, 'the answer is not JSON: hello')
})

t.test('while waiting: a poll that keeps failing ends the wait with exit 5 and how to resume', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  api.inject({ method: 'GET', path: /\/runs\/[^/]+$/, fault: { status: 404, body: { error: { code: 404, status: 'NOT_FOUND', message: 'run vanished' } } } })
  const { code, stderr } = await runCli(['run', 'slow', '--wait'], api.url)
  t.equal(code, 5)
  const name = [...api.runs.keys()][0] ?? ''
  t.match(stderr, `jobgate: lost track of run ${name}: run vanished`)
  t.match(stderr, `The run may still be going. Resume with: jobgate status slow ${name} --wait`)
})

t.test('while waiting: failing log reads are reported once and do not end the wait', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  api.inject({ path: /\/logs$/, times: 10, fault: { status: 403, body: { error: { code: 403, status: 'PERMISSION_DENIED', message: 'the service cannot read logs' } } } })
  const { code, stderr } = await runCli(['run', 'echo', '--wait', '--logs'], api.url)
  t.equal(code, 0)
  t.equal(stderr.match(/logs unavailable/g)?.length, 1)
  t.match(stderr, 'jobgate: logs unavailable, still waiting for the run: the service cannot read logs')
})

t.test('transient poll failures (503, dropped connection) are ridden out', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  api.inject({ method: 'GET', path: /\/runs\/[^/]+$/, fault: { status: 503, body: {} } })
  api.inject({ method: 'GET', path: /\/runs\/[^/]+$/, fault: 'drop' })
  const { code } = await runCli(['run', 'echo', '--wait'], api.url)
  t.equal(code, 0)
})
