import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { errors as undiciErrors } from 'undici'
import { CloudRunRestClient } from '../../api/cloudrun/client.js'
import { ApiError, unauthenticated } from '../../api/errors.js'
import { GoogleHttp } from '../../api/google/http.js'
import { FakeTokenSource } from '../helpers/fake-token-source.js'
import { fakeExecution, RUNNING, SUCCEEDED } from '../helpers/fake-cloud-run.js'
import { googleError, MockGoogleApi, type Answer } from '../helpers/mock-google-api.js'
import { build, type Built, type BuildOptions } from '../helper.js'

const REGIONAL = 'https://europe-west1-run.googleapis.com'
const JOBS = {
  echo: { job: 'echo-job', container: 'job', maxTaskCount: 10, maxTimeoutSeconds: 3600, args: { maxItems: 3 } },
  reports: { description: 'Nightly reports', env: { allow: ['DATE', 'REPORT_*'], tenantKey: 'TENANT_ID' }, args: { allow: false } }
}

const setup = async (t: Test, options: BuildOptions = {}): Promise<Built> => await build(t, { jobs: JOBS, ...options })

/** Asserts the contract's error shape, exactly: `{ error: { code, status, message, runMayHaveStarted? } }`, code = HTTP status. */
function assertError (
  t: Test,
  response: LightMyRequestResponse,
  code: number,
  status: string,
  message?: RegExp | string
): Record<string, unknown> {
  t.equal(response.statusCode, code, `HTTP ${code}`)
  t.match(response.headers['content-type'], /^application\/json/)
  const body = response.json<{ error: Record<string, unknown> }>()
  t.same(Object.keys(body), ['error'], 'only "error" at the top')
  const keys = Object.keys(body.error).sort().join(',')
  t.ok(keys === 'code,message,status' || keys === 'code,message,runMayHaveStarted,status', `error fields: ${keys}`)
  t.equal(body.error.code, code)
  t.equal(body.error.status, status)
  t.type(body.error.message, 'string')
  if (message !== undefined) t.match(body.error.message, message)
  return body.error
}

const post = async (app: Built['app'], url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
  await app.inject({ method: 'POST', url, ...(payload !== undefined && { payload: payload as Record<string, unknown> }), headers })

t.test('POST /v1/jobs/{job}/runs: 202, Location, a Run; the fake got exactly the overrides', async t => {
  const { app, fake } = await setup(t)
  const response = await post(app, '/v1/jobs/echo/runs', { args: ['--x', 'y'], env: { B: '2', A: '1' }, taskCount: 3, timeoutSeconds: 600 })
  t.equal(response.statusCode, 202)
  const run = response.json<Record<string, unknown>>()
  t.equal(response.headers.location, `/v1/jobs/echo/runs/${String(run.name)}`)
  t.match(run, {
    name: /^echo-job-/,
    job: 'echo',
    state: 'PENDING',
    createTime: '2026-11-23T10:00:00Z',
    taskCount: 3,
    runningCount: 0,
    succeededCount: 0,
    failedCount: 0,
    cancelledCount: 0,
    links: { self: response.headers.location, logs: `${String(response.headers.location)}/logs` }
  })
  t.same(fake.calls, [{
    method: 'runJob',
    job: 'echo',
    argument: { overrides: { containerOverrides: [{ name: 'job', args: ['--x', 'y'], env: [{ name: 'B', value: '2' }, { name: 'A', value: '1' }] }], taskCount: 3, timeoutSeconds: 600 } }
  }])
})

t.test('POST with {} runs the job as configured; a body-less or form POST is a 415 and starts nothing', async t => {
  const { app, fake } = await setup(t)
  // Issue 23: any web page can send these to a laptop's jobgate (fetch with mode no-cors), with no body meaning {}.
  assertError(t, await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /send Content-Type: application\/json and a body \(\{\} for no overrides\)/)
  assertError(t, await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  assertError(t, await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  t.same(fake.calls, [], 'nothing reached Cloud Run')
  t.equal((await post(app, '/v1/jobs/echo/runs', {})).statusCode, 202)
  t.same(fake.calls.map(c => c.argument), [{}])
})

t.test('400: schema and policy violations never reach Cloud Run', async t => {
  const { app, fake } = await setup(t)
  const cases: Array<[unknown, RegExp | string, string?]> = [
    [{ colour: 'red' }, 'body: unknown field "colour"'],
    [{ args: 'x' }, /^args: /],
    [{ args: [1] }, /^args\[0\]: /],
    [{ env: ['A'] }, /^env: /],
    [{ env: { A: 1 } }, /^env\.A: /],
    [{ taskCount: '3' }, /^taskCount: /],
    [{ taskCount: 0 }, /^taskCount: /],
    [{ taskCount: 1.5 }, /^taskCount: /],
    [{ timeoutSeconds: -1 }, /^timeoutSeconds: /],
    [{ clearArgs: 'yes' }, /^clearArgs: /],
    [[], /^body: /],
    [{ env: { 'TENANT-ID': 'x' } }, 'env.TENANT-ID: not a valid variable name'],
    [{ env: { '1A': 'x' } }, 'env.1A: not a valid variable name'],
    [{ env: { LD_PRELOAD: '/tmp/x.so' } }, 'env.LD_PRELOAD: protected; it cannot be overridden'],
    [{ env: { k_service: 'x' } }, /^env\.k_service: protected/],
    [{ env: { A: 'x'.repeat(32 * 1024 + 1) } }, /^env\.A: /],
    [{ env: { A: 'a\u0000b' } }, 'env.A: contains a NUL character'],
    [{ args: ['x'.repeat(4 * 1024 + 1)] }, /^args\[0\]: /],
    [{ args: ['a', 'b', 'c', 'd'] }, 'args: 4 items; job "echo" accepts at most 3'],
    [{ taskCount: 11 }, 'taskCount: 11 exceeds job "echo"\'s limit of 10'],
    [{ timeoutSeconds: 3601 }, 'timeoutSeconds: 3601 exceeds job "echo"\'s limit of 3600'],
    [{ clearArgs: true, args: ['a'] }, 'clearArgs: cannot be combined with non-empty args'],
    [{ args: ['x'] }, 'args: job "reports" does not accept args', 'reports'],
    [{ env: { TENANT_ID: 't', OTHER: 'x' } }, /^env\.OTHER: not allowed for job "reports"/, 'reports'],
    [{ env: { DATE: 'x' } }, 'env.TENANT_ID: required, job "reports" is tenant-scoped', 'reports']
  ]
  for (const [payload, message, job] of cases) {
    const response = await post(app, `/v1/jobs/${job ?? 'echo'}/runs`, payload)
    assertError(t, response, 400, 'INVALID_ARGUMENT', message)
  }
  const tooMany = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, 'x']))
  assertError(t, await post(app, '/v1/jobs/echo/runs', { env: tooMany }), 400, 'INVALID_ARGUMENT', /^env: /)
  t.same(fake.calls, [], 'no upstream call for any of them')
})

t.test('400/413/415: bodies that are not acceptable JSON', async t => {
  const { app, fake } = await setup(t)
  const raw = async (payload: string, contentType: string): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload, headers: { 'content-type': contentType } })
  assertError(t, await raw('{"args": ["a",', 'application/json'), 400, 'INVALID_ARGUMENT', 'body: not valid JSON')
  assertError(t, await raw('', 'application/json'), 400, 'INVALID_ARGUMENT', /^body: empty/)
  assertError(t, await raw('{"args":["a"]}', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE', 'request bodies must be application/json')
  assertError(t, await raw('args=a', 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE')
  const proto = assertError(t, await raw('{"__proto__":{"polluted":true}}', 'application/json'), 400, 'INVALID_ARGUMENT', /__proto__/)
  t.notMatch(String(proto.message), /at |\/node_modules\//, 'no stack or internals')
  assertError(t, await raw('{"constructor":{"prototype":{"polluted":true}}}', 'application/json'), 400, 'INVALID_ARGUMENT', /constructor/)
  assertError(t, await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: '{}', headers: { 'content-type': 'application/json', 'content-length': '100' } }), 400, 'INVALID_ARGUMENT', 'Content-Length does not match the body')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'nothing was polluted')
  const big = JSON.stringify({ args: ['x'.repeat(300 * 1024)] })
  assertError(t, await raw(big, 'application/json'), 413, 'PAYLOAD_TOO_LARGE', 'request body is larger than 256 KiB')
  t.same(fake.calls, [])
})

t.test('404: unknown job, unknown run, another job\'s run, unknown route', async t => {
  const { app, fake } = await setup(t)
  assertError(t, await post(app, '/v1/jobs/nope/runs', {}), 404, 'NOT_FOUND', 'job "nope" is not in jobgate\'s catalog')
  assertError(t, await app.inject('/v1/jobs/nope/runs/x-1'), 404, 'NOT_FOUND', /not in jobgate's catalog, or not open to you/)
  assertError(t, await app.inject('/v1/jobs/nope/runs'), 404, 'NOT_FOUND')
  assertError(t, await post(app, '/v1/jobs/nope/runs/x-1/cancel'), 404, 'NOT_FOUND')
  t.same(fake.calls, [], 'an unknown job never reaches Cloud Run')

  assertError(t, await app.inject('/v1/jobs/echo/runs/echo-job-zzz'), 404, 'NOT_FOUND', 'run "echo-job-zzz" of job "echo" not found.')
  fake.executions.set('reports-1', [fakeExecution('reports-1', 'reports')])
  assertError(t, await app.inject('/v1/jobs/echo/runs/reports-1'), 404, 'NOT_FOUND', /not found/)
  assertError(t, await app.inject('/v1/nothing-here'), 404, 'NOT_FOUND', 'no route GET /v1/nothing-here')
  assertError(t, await app.inject({ method: 'DELETE', url: '/v1/jobs/echo/runs?x=1' }), 404, 'NOT_FOUND', 'no route DELETE /v1/jobs/echo/runs')
})

t.test('400: bad path and query parameters', async t => {
  const { app, fake } = await setup(t)
  assertError(t, await app.inject('/v1/jobs/echo/runs/Bad_Name'), 400, 'INVALID_ARGUMENT', /^run: /)
  assertError(t, await app.inject('/v1/jobs/echo/runs/r-1?wait=61'), 400, 'INVALID_ARGUMENT', /^wait: /)
  assertError(t, await app.inject('/v1/jobs/echo/runs/r-1?wait=-1'), 400, 'INVALID_ARGUMENT', /wait/)
  assertError(t, await app.inject('/v1/jobs/echo/runs/r-1?wait=soon'), 400, 'INVALID_ARGUMENT', /wait/)
  assertError(t, await app.inject('/v1/jobs/echo/runs/r-1?colour=red'), 400, 'INVALID_ARGUMENT', 'querystring: unknown field "colour"')
  assertError(t, await app.inject('/v1/jobs/echo/runs?pageSize=101'), 400, 'INVALID_ARGUMENT', /pageSize/)
  assertError(t, await app.inject('/v1/jobs/echo/runs?pageToken=a%20b'), 400, 'INVALID_ARGUMENT', /pageToken/)
  const badUrl = await app.inject({ url: '/v1/jobs/echo/runs/%zz', headers: { 'x-request-id': 'bad-url' } })
  assertError(t, badUrl, 400, 'INVALID_ARGUMENT', 'path: not a valid URL (malformed percent-encoding)')
  t.equal(badUrl.headers['x-request-id'], 'bad-url')
  const longSegment = await app.inject(`/v1/jobs/${'a'.repeat(101)}/runs`)
  t.ok(longSegment.statusCode >= 400 && longSegment.statusCode < 500)
  assertError(t, longSegment, longSegment.statusCode, longSegment.json<{ error: { status: string } }>().error.status)
  t.same(fake.calls, [])
})

t.test('GET a run; ?wait=0 answers at once', async t => {
  const { app, fake } = await setup(t)
  fake.executions.set('echo-job-1', [fakeExecution('echo-job-1', 'echo-job', { conditions: RUNNING, status: { runningCount: 1 } })])
  for (const url of ['/v1/jobs/echo/runs/echo-job-1', '/v1/jobs/echo/runs/echo-job-1?wait=0']) {
    const response = await app.inject(url)
    t.equal(response.statusCode, 200)
    t.match(response.json(), { name: 'echo-job-1', job: 'echo', state: 'RUNNING', runningCount: 1 })
  }
  t.equal(fake.calls.length, 1, 'a second read within a second shares the first one\'s answer')
})

t.test('?wait=N long-polls', async t => {
  t.jobs = 3

  t.test('until the run ends', async t => {
    const { app, fake } = await setup(t)
    const running = fakeExecution('echo-job-2', 'echo-job', { conditions: RUNNING })
    fake.executions.set('echo-job-2', [running, running, fakeExecution('echo-job-2', 'echo-job', { conditions: SUCCEEDED, status: { succeededCount: 1 } })])
    const started = Date.now()
    const response = await app.inject('/v1/jobs/echo/runs/echo-job-2?wait=30')
    t.equal(response.statusCode, 200)
    t.match(response.json(), { state: 'SUCCEEDED', succeededCount: 1 })
    t.equal(fake.calls.length, 3, 'polled until it ended')
    t.ok(Date.now() - started < 10_000, 'returned long before the wait ran out')
  })

  t.test('until N seconds pass', async t => {
    const { app, fake } = await setup(t)
    fake.executions.set('echo-job-3', [fakeExecution('echo-job-3', 'echo-job', { conditions: RUNNING })])
    const started = Date.now()
    const response = await app.inject('/v1/jobs/echo/runs/echo-job-3?wait=1')
    const elapsed = Date.now() - started
    t.equal(response.statusCode, 200)
    t.match(response.json(), { state: 'RUNNING' })
    t.ok(elapsed >= 950 && elapsed < 5000, `held about a second (${elapsed} ms)`)
    t.ok(fake.calls.length >= 2, 'polled more than once')
  })

  t.test('and stops polling when the client hangs up', async t => {
    const { app, fake, services } = await setup(t)
    fake.executions.set('echo-job-4', [fakeExecution('echo-job-4', 'echo-job', { conditions: RUNNING })])
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const request = httpRequest({ host: '127.0.0.1', port, path: '/v1/jobs/echo/runs/echo-job-4?wait=60' })
    request.on('error', () => {})
    request.end()
    const until = async (done: () => boolean): Promise<void> => {
      for (const deadline = Date.now() + 30_000; !done() && Date.now() < deadline;) await new Promise(resolve => setTimeout(resolve, 10))
    }
    await until(() => fake.calls.length > 0)
    request.destroy()
    // The run's watcher ends when its last waiter leaves: from then on nothing may poll.
    await until(() => services.live.runs.size === 0)
    t.equal(services.live.runs.size, 0, 'the watcher stopped')
    const polls = fake.calls.length
    t.ok(polls >= 1, 'it had polled and was waiting for the next poll')
    await new Promise(resolve => setTimeout(resolve, 800))
    t.equal(fake.calls.length, polls, 'no more polls after the client left')
  })
})

t.test('GET /v1/jobs/{job}/runs: newest first, page size passed through, Cloud Run\'s token sealed', async t => {
  const { app, fake } = await setup(t)
  fake.listPage = {
    executions: [
      fakeExecution('echo-job-a', 'echo-job', { created: '2026-11-23T10:00:00Z' }),
      fakeExecution('echo-job-c', 'echo-job', { created: '2026-11-23T12:00:00Z', conditions: SUCCEEDED }),
      fakeExecution('echo-job-b', 'echo-job', { created: '2026-11-23T11:00:00Z' })
    ],
    nextPageToken: 'next/page='
  }
  const response = await app.inject('/v1/jobs/echo/runs?pageSize=3')
  t.equal(response.statusCode, 200)
  const body = response.json<{ runs: Array<{ name: string, state: string }>, nextPageToken?: string }>()
  t.same(body.runs.map(r => r.name), ['echo-job-c', 'echo-job-b', 'echo-job-a'])
  t.equal(body.runs[0]?.state, 'SUCCEEDED')
  const token = body.nextPageToken ?? ''
  t.match(token, /^[A-Za-z0-9_-]{40,}$/, 'a token of jobgate\'s own')
  t.notMatch(Buffer.from(token, 'base64url').toString('latin1'), /next|page/, 'which does not show Cloud Run\'s')
  t.same(fake.calls, [{ method: 'listExecutions', job: 'echo', argument: { pageSize: 3 } }])

  fake.listPage = { executions: [] }
  const last = await app.inject(`/v1/jobs/echo/runs?pageToken=${token}`)
  t.same(last.json(), { runs: [] }, 'no token on the last page')
  t.same(fake.calls[1]?.argument, { pageSize: 100, pageToken: 'next/page=' }, 'the next page goes on where Cloud Run\'s token left off')
  assertError(t, await app.inject('/v1/jobs/echo/runs?pageToken=next%2Fpage%3D'), 400, 'INVALID_ARGUMENT', /pageToken: not a token jobgate handed out/)
  t.equal(fake.calls.length, 2, 'a token jobgate did not seal reaches nothing upstream')
  t.same((await app.inject('/v1/jobs/echo/runs')).json(), { runs: [] })
  t.same(fake.calls[2]?.argument, { pageSize: 20 }, 'default page size, no token')
})

t.test('POST .../cancel returns the Run', async t => {
  const { app, fake } = await setup(t)
  fake.executions.set('echo-job-5', [fakeExecution('echo-job-5', 'echo-job', { conditions: RUNNING })])
  const response = await post(app, '/v1/jobs/echo/runs/echo-job-5/cancel')
  t.equal(response.statusCode, 200)
  t.match(response.json(), { name: 'echo-job-5', state: 'CANCELLED', cancelledCount: 1 })
  t.same(fake.calls.map(call => call.method), ['getExecution', 'cancelExecution'], 'the run read (the tenant check), then cancelled')
})

t.test('GET /v1/jobs lists the catalog with its limits', async t => {
  const { app } = await setup(t)
  const response = await app.inject('/v1/jobs')
  t.equal(response.statusCode, 200)
  t.strictSame(response.json(), {
    jobs: [
      { id: 'echo', project: 'p', region: 'europe-west1', job: 'echo-job', limits: { maxTaskCount: 10, maxTimeoutSeconds: 3600, args: { allow: true, maxItems: 3 }, env: {} } },
      {
        id: 'reports',
        description: 'Nightly reports',
        project: 'p',
        region: 'europe-west1',
        job: 'reports',
        limits: { maxTaskCount: 10_000, maxTimeoutSeconds: 86_400, args: { allow: false, maxItems: 100 }, env: { allow: ['DATE', 'REPORT_*'], tenantKey: 'TENANT_ID' } }
      }
    ]
  })
})

t.test('/healthz, /readyz', async t => {
  let ready = true
  const { app } = await setup(t, { ready: () => ready })
  t.same((await app.inject('/healthz')).json(), { status: 'ok' })
  const readyResponse = await app.inject('/readyz')
  t.equal(readyResponse.statusCode, 200)
  t.same(readyResponse.json(), { status: 'ready' })
  ready = false
  assertError(t, await app.inject('/readyz'), 503, 'UNAVAILABLE', 'shutting down')
  t.equal((await app.inject('/healthz')).statusCode, 200, 'still alive while draining')
  const { app: defaultReady } = await setup(t)
  t.equal((await defaultReady.inject('/readyz')).statusCode, 200, 'ready by default')
})

t.test('/openapi.json is OpenAPI 3.1 and documents the run route; /docs answers', async t => {
  const { app } = await setup(t)
  const response = await app.inject('/openapi.json')
  t.equal(response.statusCode, 200)
  const doc = response.json<{
    openapi: string
    paths: Record<string, Record<string, { responses?: Record<string, unknown>, requestBody?: unknown }>>
  }>()
  t.match(doc.openapi, /^3\.1\./)
  const run = doc.paths['/v1/jobs/{job}/runs']?.post
  t.ok(run, 'POST /v1/jobs/{job}/runs is documented')
  t.ok(run?.requestBody, 'with its request body')
  t.ok(run?.responses?.['202'], 'and its 202')
  t.ok(doc.paths['/v1/jobs/{job}/runs/{run}']?.get)
  t.ok(doc.paths['/v1/jobs/{job}/runs/{run}/cancel']?.post)
  t.ok(doc.paths['/v1/jobs']?.get)
  t.notOk(doc.paths['/healthz'], 'health probes are not API')
  const docs = await app.inject('/docs')
  t.ok(docs.statusCode === 200 || (docs.statusCode >= 300 && docs.statusCode < 400), `/docs answers (${docs.statusCode})`)
  const page = docs.statusCode === 200 ? docs : await app.inject(docs.headers.location ?? '/docs/')
  t.equal(page.statusCode, 200)
  t.match(page.body, /swagger/i)
})

t.test('x-request-id: echoed when sane, made up otherwise', async t => {
  const { app } = await setup(t)
  t.equal((await app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123.x:y' } })).headers['x-request-id'], 'abc-123.x:y')
  const made = (await app.inject('/v1/jobs')).headers['x-request-id']
  t.match(made, /^[0-9a-f-]{36}$/)
  const odd = (await app.inject({ url: '/v1/jobs', headers: { 'x-request-id': 'a b<script>' } })).headers['x-request-id']
  t.match(odd, /^[0-9a-f-]{36}$/)
  t.equal((await post(app, '/v1/jobs/nope/runs', {}, { 'x-request-id': 'on-error' })).headers['x-request-id'], 'on-error', 'on errors too')
})

t.test('the caller comes from deps.authenticate: 401, and tenant scope applied before Cloud Run', async t => {
  const { app, fake } = await setup(t, {
    authenticate: async headers => {
      if (headers['x-api-key'] === 'acme-key') return { name: 'ci-acme', tenant: 'acme' }
      if (headers['x-api-key'] === 'loner') return { name: 'loner' }
      throw unauthenticated('send an API key')
    }
  })
  assertError(t, await post(app, '/v1/jobs/echo/runs', {}), 401, 'UNAUTHENTICATED', 'send an API key')
  t.equal((await app.inject('/healthz')).statusCode, 200, 'health is public')
  t.equal((await app.inject('/openapi.json')).statusCode, 200, 'the API description is public')

  const ok = await post(app, '/v1/jobs/reports/runs', { env: { DATE: '2026-01-01' } }, { 'x-api-key': 'acme-key' })
  t.equal(ok.statusCode, 202)
  t.same(fake.calls[0]?.argument, { overrides: { containerOverrides: [{ env: [{ name: 'DATE', value: '2026-01-01' }, { name: 'TENANT_ID', value: 'acme' }] }] } })
  assertError(t, await post(app, '/v1/jobs/reports/runs', { env: { TENANT_ID: 'globex' } }, { 'x-api-key': 'acme-key' }), 403, 'PERMISSION_DENIED', /own tenant/)
  assertError(t, await post(app, '/v1/jobs/reports/runs', {}, { 'x-api-key': 'loner' }), 403, 'PERMISSION_DENIED', /bound to no tenant/)
  t.equal(fake.calls.length, 1, 'refused runs never reach Cloud Run')
})

t.test('public routes run without authenticating: they see the anonymous caller', async t => {
  let authentications = 0
  const { app } = await setup(t, { authenticate: async () => { authentications++; throw unauthenticated('no') } })
  app.get('/probe', { config: { public: true } }, async request => request.caller)
  t.same((await app.inject('/probe')).json(), { name: 'anonymous', via: 'anonymous', tenantFree: true })
  t.equal(authentications, 0)
})

t.test('an unexpected failure is a 500 that says nothing about internals', async t => {
  const { app, fake, log } = await setup(t)
  fake.fail('runJob', new TypeError('Cannot read properties of undefined (reading \'secretThing\')'))
  const error = assertError(t, await post(app, '/v1/jobs/echo/runs', {}), 500, 'INTERNAL', 'internal error; see the service logs')
  t.notMatch(JSON.stringify(error), /secretThing/)
  t.match(log.text, /secretThing/, 'the details are in the log')
})

t.test('ApiErrors from the client keep their status, Retry-After and runMayHaveStarted', async t => {
  const { app, fake } = await setup(t)
  fake.fail('runJob', new ApiError('RESOURCE_EXHAUSTED', 'slow down', { retryAfterSeconds: 7 }))
  const limited = await post(app, '/v1/jobs/echo/runs', {})
  assertError(t, limited, 429, 'RESOURCE_EXHAUSTED', 'slow down')
  t.equal(limited.headers['retry-after'], '7')
  fake.fail('runJob', new ApiError('DEADLINE_EXCEEDED', 'late', { runMayHaveStarted: true }))
  t.equal(assertError(t, await post(app, '/v1/jobs/echo/runs', {}), 504, 'DEADLINE_EXCEEDED').runMayHaveStarted, true)
})

/** The app over the real Cloud Run client, whose upstream (MockAgent) answers `answers` in order. */
async function overRestClient (t: Test, ...answers: Answer[]): Promise<{ app: Built['app'], api: MockGoogleApi }> {
  const api = new MockGoogleApi()
  const http = new GoogleHttp({ tokens: new FakeTokenSource(), dispatcher: api.dispatcher, sleep: async () => {} })
  api.answer(REGIONAL, ...answers)
  const { app } = await setup(t, { services: { cloudRun: new CloudRunRestClient(http) } })
  t.teardown(async () => { await http.close(); await api.close() })
  return { app, api }
}

t.test('over the REST client: 202 with the exact upstream request', async t => {
  const { app, api } = await overRestClient(t, { status: 200, body: fakeExecution('echo-job-x7k2p', 'echo-job', { taskCount: 2 }) })
  const response = await post(app, '/v1/jobs/echo/runs', { args: ['a'], env: { A: '1' }, taskCount: 2, timeoutSeconds: 60 })
  t.equal(response.statusCode, 202)
  t.equal(response.headers.location, '/v1/jobs/echo/runs/echo-job-x7k2p')
  t.match(response.json(), { name: 'echo-job-x7k2p', job: 'echo', state: 'PENDING', taskCount: 2 })
  t.equal(`${api.requests[0]?.method ?? ''} ${api.requests[0]?.origin ?? ''}${api.requests[0]?.path ?? ''}`, 'POST https://europe-west1-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/p/jobs/echo-job:run')
  // jobgate's marker comes last: the run record's id (api/lifecycle/), by which a run whose answer was lost is found again.
  const marker = /\{"name":"JOBGATE_RUN","value":"echo-[a-z0-9]{10}"\}/.exec(api.requests[0]?.body ?? '')?.[0] ?? 'no marker'
  t.equal(api.requests[0]?.body, `{"overrides":{"containerOverrides":[{"name":"job","args":["a"],"env":[{"name":"A","value":"1"},${marker}]}],"taskCount":2,"timeoutSeconds":60}}`)
})

t.test('over the REST client: upstream failures as the contract\'s statuses', async t => {
  {
    const { app } = await overRestClient(t, { status: 403, body: googleError(403, 'PERMISSION_DENIED', 'Permission \'run.jobs.runWithOverrides\' denied') })
    assertError(t, await post(app, '/v1/jobs/echo/runs', { args: ['a'] }), 403, 'PERMISSION_DENIED', /run\.jobs\.runWithOverrides.*roles\/run\.jobsExecutorWithOverrides/)
  }
  {
    const { app } = await overRestClient(t, { status: 429, body: googleError(429, 'RESOURCE_EXHAUSTED', 'quota'), headers: { 'retry-after': '30' } })
    const response = await post(app, '/v1/jobs/echo/runs', {})
    assertError(t, response, 429, 'RESOURCE_EXHAUSTED', /rate limiting/)
    t.equal(response.headers['retry-after'], '30')
  }
  {
    const { app, api } = await overRestClient(t, { error: new undiciErrors.HeadersTimeoutError() })
    const error = assertError(t, await post(app, '/v1/jobs/echo/runs', {}), 504, 'DEADLINE_EXCEEDED', /unknown whether a run started/)
    t.equal(error.runMayHaveStarted, true)
    t.equal(api.requests.length, 1, 'not retried')
  }
  {
    const { app } = await overRestClient(t, { error: new undiciErrors.SocketError('other side closed') })
    t.equal(assertError(t, await post(app, '/v1/jobs/echo/runs', {}), 502, 'UNAVAILABLE').runMayHaveStarted, true)
  }
  {
    const unavailable = { status: 503, body: googleError(503, 'UNAVAILABLE', 'down') }
    const { app, api } = await overRestClient(t, unavailable, unavailable, unavailable)
    t.equal(assertError(t, await post(app, '/v1/jobs/echo/runs', {}), 502, 'UNAVAILABLE').runMayHaveStarted, false)
    t.equal(api.requests.length, 3)
  }
  {
    const { app } = await overRestClient(t, { status: 404, body: googleError(404, 'NOT_FOUND', 'no such job') })
    assertError(t, await post(app, '/v1/jobs/echo/runs', {}), 404, 'NOT_FOUND', 'Cloud Run job "echo-job" does not exist in project "p", region "europe-west1".')
  }
  {
    const { app } = await overRestClient(t, { status: 200, body: fakeExecution('other-1', 'other-job') })
    assertError(t, await app.inject('/v1/jobs/echo/runs/other-1'), 404, 'NOT_FOUND', 'run "other-1" of job "echo" not found.')
  }
  {
    const { app } = await overRestClient(t, { status: 404, body: googleError(404, 'NOT_FOUND', 'gone') })
    assertError(t, await app.inject('/v1/jobs/echo/runs/echo-job-gone'), 404, 'NOT_FOUND', 'run "echo-job-gone" of job "echo" not found.')
  }
})
