import t, { type Test } from 'tap'
import { errors as undiciErrors } from 'undici'
import { ApiError } from '../../api/errors.js'
import { DEFAULT_RETRY, GoogleHttp, parseRetryAfter, UpstreamError, type GoogleHttpOptions } from '../../api/google/http.js'
import { FakeTokenSource } from '../helpers/fake-token-source.js'
import { closedPort, startMisbehavingServer } from '../helpers/misbehaving-server.js'
import { googleError, MockGoogleApi, transportError, type Answer } from '../helpers/mock-google-api.js'

const ORIGIN = 'https://europe-west1-run.googleapis.com'
const URL_RUN = `${ORIGIN}/apis/run.googleapis.com/v1/namespaces/p/jobs/j:run`
const URL_GET = `${ORIGIN}/apis/run.googleapis.com/v1/namespaces/p/executions/e-1`
const UNAVAILABLE_503 = { status: 503, body: googleError(503, 'UNAVAILABLE', 'The service is currently unavailable.') }

/** A GoogleHttp over a fresh MockGoogleApi, recording its sleeps instead of sleeping. */
function setup (
  t: Test,
  options: Partial<GoogleHttpOptions> = {}
): { api: MockGoogleApi, http: GoogleHttp, sleeps: number[], tokens: FakeTokenSource } {
  const api = new MockGoogleApi()
  const tokens = new FakeTokenSource()
  const sleeps: number[] = []
  const http = new GoogleHttp({
    tokens,
    dispatcher: api.dispatcher,
    sleep: async ms => {
      sleeps.push(ms)
    },
    ...options
  })
  t.teardown(async () => {
    await http.close()
    await api.close()
  })
  return { api, http, sleeps, tokens }
}

/** The rejection of `promise`, asserted to be an UpstreamError. */
async function upstreamFailure (t: Test, promise: Promise<unknown>): Promise<UpstreamError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  t.type(err, UpstreamError)
  return err as UpstreamError
}

t.test('a POST carries the bearer token, JSON headers and the body; the JSON answer is returned', async t => {
  const { api, http, tokens } = setup(t, { userAgent: 'jobgate/test' })
  api.answer(ORIGIN, { status: 200, body: { metadata: { name: 'e-1' } } })
  const result = await http.call({ method: 'POST', url: URL_RUN, body: { overrides: { taskCount: 2 } }, retry: 'unsafe' })
  t.same(result, { metadata: { name: 'e-1' } })
  t.equal(api.requests.length, 1)
  const [sent] = api.requests
  t.equal(sent?.origin, ORIGIN)
  t.equal(sent?.method, 'POST')
  t.equal(sent?.path, '/apis/run.googleapis.com/v1/namespaces/p/jobs/j:run')
  t.strictSame(sent?.headers, { authorization: 'Bearer ya29.test-token', 'user-agent': 'jobgate/test', accept: 'application/json', 'content-type': 'application/json' })
  t.equal(sent?.body, '{"overrides":{"taskCount":2}}')
  t.equal(tokens.calls, 1)
})

t.test('a GET sends no body and no content-type; an empty 2xx body is {}', async t => {
  const { api, http } = setup(t)
  api.answer(ORIGIN, { status: 200 })
  t.same(await http.call({ method: 'GET', url: `${URL_GET}?a=1&b=2`, retry: 'safe' }), {})
  t.equal(api.requests[0]?.path, '/apis/run.googleapis.com/v1/namespaces/p/executions/e-1?a=1&b=2', 'the query string is kept')
  t.equal(api.requests[0]?.body, undefined)
  t.notOk('content-type' in (api.requests[0]?.headers ?? {}))
  t.equal(api.requests[0]?.headers['user-agent'], 'jobgate', 'default user agent')
})

t.test('a 2xx body that is not JSON is an upstream failure', async t => {
  const { api, http } = setup(t)
  api.answer(ORIGIN, { status: 200, body: '<html>proxy login</html>' })
  const err = await upstreamFailure(t, http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }))
  t.equal(err.kind, 'http')
  t.equal(err.httpStatus, 200)
  t.match(err.message, /not JSON/)
  t.equal(api.requests.length, 1)
})

t.test('Google\'s error body becomes message + status; other bodies get a plain message', async t => {
  const { api, http } = setup(t)
  api.answer(ORIGIN,
    { status: 403, body: googleError(403, 'PERMISSION_DENIED', 'Permission \'run.jobs.run\' denied') },
    { status: 404, body: '<html>Not Found</html>' },
    { status: 400, body: { error: { code: 400, status: 7, message: ['not a string'] } } },
    { status: 429, body: googleError(429, 'RESOURCE_EXHAUSTED', 'quota'), headers: { 'retry-after': '120' } })
  const call = async (): Promise<UpstreamError> => await upstreamFailure(t, http.call({ method: 'GET', url: URL_GET, retry: 'unsafe' }))

  const denied = await call()
  t.match(denied, { kind: 'http', httpStatus: 403, googleStatus: 'PERMISSION_DENIED', message: 'Permission \'run.jobs.run\' denied', retryAfterSeconds: undefined })
  t.equal(denied.provenUnprocessed, false)
  t.equal(denied.transient, false)

  const html = await call()
  t.match(html, { kind: 'http', httpStatus: 404, googleStatus: undefined, message: 'answered HTTP 404 without a Google error body' })

  const odd = await call()
  t.match(odd, { httpStatus: 400, googleStatus: undefined, message: 'answered HTTP 400 without a Google error body' })

  const limited = await call()
  t.match(limited, { httpStatus: 429, googleStatus: 'RESOURCE_EXHAUSTED', retryAfterSeconds: 120 })
  t.equal(limited.provenUnprocessed, true)
  t.equal(api.requests.length, 4, 'none of these was retried')
})

t.test('unsafe (jobs.run): a 503 UNAVAILABLE is retried at most twice, with bounded jitter', async t => {
  const { api, http, sleeps } = setup(t, { random: () => 0.999 })
  api.always(ORIGIN, UNAVAILABLE_503)
  const err = await upstreamFailure(t, http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }))
  t.match(err, { httpStatus: 503, googleStatus: 'UNAVAILABLE' })
  t.equal(api.requests.length, 3, 'one attempt and two retries')
  t.equal(sleeps.length, 2)
  t.ok(sleeps[0]! > 0 && sleeps[0]! <= DEFAULT_RETRY.baseDelayMs, `first pause ${sleeps[0]} within the base delay`)
  t.ok(sleeps[1]! > sleeps[0]! && sleeps[1]! <= DEFAULT_RETRY.baseDelayMs * 2, `second pause ${sleeps[1]} within twice the base delay`)
  t.same(new Set(api.requests.map(r => r.body)), new Set(['{}']), 'the same request each time')
})

t.test('unsafe: a 503 UNAVAILABLE then success starts exactly one run', async t => {
  const { api, http } = setup(t, { random: () => 0 })
  api.answer(ORIGIN, UNAVAILABLE_503, { status: 200, body: { metadata: { name: 'e-2' } } })
  t.same(await http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }), { metadata: { name: 'e-2' } })
  t.equal(api.requests.length, 2)
})

t.test('unsafe: failures that may have been processed are never retried', async t => {
  const cases: Array<[string, Answer, string]> = [
    ['a 503 without Google\'s UNAVAILABLE body', { status: 503, body: 'Service Unavailable' }, 'http'],
    ['a 503 with another status', { status: 503, body: googleError(503, 'INTERNAL', 'x') }, 'http'],
    ['a 500', { status: 500, body: googleError(500, 'INTERNAL', 'boom') }, 'http'],
    ['a 502', { status: 502, body: 'Bad Gateway' }, 'http'],
    ['a 504', { status: 504, body: googleError(504, 'DEADLINE_EXCEEDED', 'late') }, 'http'],
    ['a reset connection', { error: new undiciErrors.SocketError('other side closed') }, 'connection'],
    ['a headers timeout', { error: new undiciErrors.HeadersTimeoutError() }, 'timeout'],
    ['a body timeout', { error: new undiciErrors.BodyTimeoutError() }, 'timeout'],
    ['an error without a code', { error: new Error('something odd') }, 'connection']
  ]
  for (const [label, answer, kind] of cases) {
    const { api, http, sleeps } = setup(t)
    api.always(ORIGIN, answer)
    const err = await upstreamFailure(t, http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }))
    t.equal(err.kind, kind, `${label}: ${kind}`)
    t.equal(err.provenUnprocessed, false, `${label}: not proven unprocessed`)
    t.equal(err.transient, true, `${label}: but transient`)
    t.equal(api.requests.length, 1, `${label}: exactly one upstream request`)
    t.same(sleeps, [])
  }
})

t.test('unsafe: failures before sending are retried (connection refused, DNS, connect timeout)', async t => {
  for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']) {
    const { api, http } = setup(t)
    api.always(ORIGIN, { error: transportError(code) })
    const err = await upstreamFailure(t, http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }))
    t.equal(err.kind, 'refused', code)
    t.equal(err.message, `could not connect (${code})`)
    t.equal(api.requests.length, 3, `${code}: retried twice`)
  }
  const { api, http } = setup(t)
  api.answer(ORIGIN, { error: transportError('ECONNREFUSED') }, { status: 200, body: { metadata: { name: 'e-3' } } })
  t.same(await http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }), { metadata: { name: 'e-3' } })
  t.equal(api.requests.length, 2)
})

t.test('429: a short Retry-After is waited out; a long one goes back to the caller', async t => {
  {
    const { api, http, sleeps } = setup(t, { random: () => 0.5 })
    api.answer(ORIGIN,
      { status: 429, body: googleError(429, 'RESOURCE_EXHAUSTED', 'slow down'), headers: { 'retry-after': '2' } },
      { status: 200, body: { metadata: { name: 'e-4' } } })
    t.same(await http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }), { metadata: { name: 'e-4' } })
    t.equal(api.requests.length, 2)
    t.same(sleeps, [2000], 'never sooner than the server asked')
  }
  {
    const { api, http, sleeps } = setup(t)
    api.always(ORIGIN, { status: 429, body: googleError(429, 'RESOURCE_EXHAUSTED', 'quota'), headers: { 'retry-after': String(DEFAULT_RETRY.maxRetryAfterSeconds + 1) } })
    const err = await upstreamFailure(t, http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }))
    t.equal(err.retryAfterSeconds, DEFAULT_RETRY.maxRetryAfterSeconds + 1)
    t.equal(api.requests.length, 1, 'a long pause is the caller\'s to take')
    t.same(sleeps, [])
  }
  {
    const { api, http, sleeps } = setup(t, { random: () => 0.999 })
    api.always(ORIGIN, { status: 429, body: googleError(429, 'RESOURCE_EXHAUSTED', 'quota') })
    await upstreamFailure(t, http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }))
    t.equal(api.requests.length, 3, 'a 429 without Retry-After is retried with backoff')
    t.equal(sleeps.length, 2)
    t.ok(sleeps.every(ms => ms > 0 && ms <= DEFAULT_RETRY.baseDelayMs * 2))
  }
  {
    const { api, http, sleeps } = setup(t)
    api.always(ORIGIN, { status: 429, headers: { 'retry-after': String(DEFAULT_RETRY.maxRetryAfterSeconds) } })
    await upstreamFailure(t, http.call({ method: 'GET', url: URL_GET, retry: 'safe' }))
    t.equal(api.requests.length, 4, 'exactly the limit is still waited out')
    t.same(sleeps, [5000, 5000, 5000])
  }
})

t.test('safe (reads): 5xx, timeouts and resets are retried up to 3 times; 4xx are not', async t => {
  const answers: Answer[] = [
    { status: 500, body: googleError(500, 'INTERNAL', 'x') },
    { status: 502, body: 'bad gateway' },
    { status: 503, body: 'unavailable' },
    { status: 504, body: 'late' },
    { error: new undiciErrors.HeadersTimeoutError() },
    { error: new undiciErrors.SocketError('other side closed') }
  ]
  for (const answer of answers) {
    const { api, http, sleeps } = setup(t, { random: () => 1 })
    api.always(ORIGIN, answer)
    await upstreamFailure(t, http.call({ method: 'GET', url: URL_GET, retry: 'safe' }))
    t.equal(api.requests.length, 4, `${JSON.stringify('error' in answer ? answer.error.name : answer.status)}: 1 + 3 retries`)
    t.same(sleeps, [200, 400, 800], 'exponential backoff, jitter at its ceiling')
  }
  for (const status of [400, 401, 403, 404, 409, 501]) {
    const { api, http } = setup(t)
    api.always(ORIGIN, { status, body: googleError(status, 'X', 'no') })
    await upstreamFailure(t, http.call({ method: 'GET', url: URL_GET, retry: 'safe' }))
    t.equal(api.requests.length, 1, `${status}: not retried`)
  }
  const { api, http } = setup(t)
  api.answer(ORIGIN, { status: 500, body: 'x' }, { error: new undiciErrors.HeadersTimeoutError() }, { status: 200, body: { ok: true } })
  t.same(await http.call({ method: 'GET', url: URL_GET, retry: 'safe' }), { ok: true })
  t.equal(api.requests.length, 3)
})

t.test('backoff is capped by maxDelayMs and the policy can be tuned', async t => {
  const { api, http, sleeps } = setup(t, { random: () => 1, retry: { safe: 5, baseDelayMs: 1000, maxDelayMs: 2500 } })
  api.always(ORIGIN, { status: 500 })
  await upstreamFailure(t, http.call({ method: 'GET', url: URL_GET, retry: 'safe' }))
  t.same(sleeps, [1000, 2000, 2500, 2500, 2500])
  t.equal(api.requests.length, 6)
})

t.test('a token failure is not an upstream failure: passed on as is, never retried', async t => {
  const api = new MockGoogleApi()
  t.teardown(async () => { await api.close() })
  let calls = 0
  const failure = new ApiError('UNAVAILABLE', 'no token')
  const http = new GoogleHttp({
    tokens: {
      getToken: async () => {
        calls++
        throw failure
      }
    },
    dispatcher: api.dispatcher,
    sleep: async () => {}
  })
  await t.rejects(http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' }), failure)
  t.equal(calls, 1)
  t.equal(api.requests.length, 0)
})

t.test('the default sleep really waits', async t => {
  const { api, http } = setup(t, { sleep: undefined, random: () => 1, retry: { baseDelayMs: 30 } })
  api.answer(ORIGIN, UNAVAILABLE_503, { status: 200, body: {} })
  const started = Date.now()
  await http.call({ method: 'POST', url: URL_RUN, body: {}, retry: 'unsafe' })
  t.ok(Date.now() - started >= 25, 'waited about baseDelayMs')
})

t.test('over real sockets, with its own Agent and short timeouts', async t => {
  const tokens = new FakeTokenSource()
  const timeouts = { connectMs: 500, headersMs: 150, bodyMs: 150 }
  // undici's header/body timers tick about once a second: run these side by side.
  t.jobs = 5

  t.test('a run that gets no answer in time is not retried', async t => {
    const server = await startMisbehavingServer('hang')
    const http = new GoogleHttp({ tokens, timeouts, sleep: async () => {} })
    t.teardown(async () => { await http.close(); await server.close() })
    const err = await upstreamFailure(t, http.call({ method: 'POST', url: `${server.url}/apis/run.googleapis.com/v1/namespaces/p/jobs/j:run`, body: {}, retry: 'unsafe' }))
    t.equal(err.kind, 'timeout')
    t.match(err.message, /UND_ERR_HEADERS_TIMEOUT/)
    t.equal(server.requests.length, 1, 'exactly one request reached the server')
  })

  t.test('a body that stalls is a timeout', async t => {
    const server = await startMisbehavingServer('slow-body')
    const http = new GoogleHttp({ tokens, timeouts, sleep: async () => {} })
    t.teardown(async () => { await http.close(); await server.close() })
    const err = await upstreamFailure(t, http.call({ method: 'POST', url: `${server.url}/run`, body: {}, retry: 'unsafe' }))
    t.equal(err.kind, 'timeout')
    t.match(err.message, /UND_ERR_BODY_TIMEOUT/)
    t.equal(server.requests.length, 1)
  })

  t.test('a connection reset after sending is not retried for a run', async t => {
    const server = await startMisbehavingServer('reset')
    const http = new GoogleHttp({ tokens, timeouts, sleep: async () => {} })
    t.teardown(async () => { await http.close(); await server.close() })
    const err = await upstreamFailure(t, http.call({ method: 'POST', url: `${server.url}/run`, body: {}, retry: 'unsafe' }))
    t.equal(err.kind, 'connection')
    t.equal(server.requests.length, 1)
  })

  t.test('connection refused is retried: the request never left', async t => {
    const port = await closedPort()
    const sleeps: number[] = []
    const http = new GoogleHttp({ tokens, timeouts, sleep: async ms => { sleeps.push(ms) } })
    t.teardown(async () => { await http.close() })
    const err = await upstreamFailure(t, http.call({ method: 'POST', url: `http://127.0.0.1:${port}/run`, body: {}, retry: 'unsafe' }))
    t.equal(err.kind, 'refused')
    t.equal(err.provenUnprocessed, true)
    t.equal(sleeps.length, 2, 'retried twice')
  })
})

t.test('parseRetryAfter', async t => {
  const now = Date.parse('2026-11-23T10:00:00Z')
  t.equal(parseRetryAfter('5', now), 5)
  t.equal(parseRetryAfter(' 7 ', now), 7)
  t.equal(parseRetryAfter('0', now), 0)
  t.equal(parseRetryAfter(['3', '9'], now), 3, 'the first of repeated headers')
  t.equal(parseRetryAfter('Mon, 23 Nov 2026 10:00:30 GMT', now), 30, 'an HTTP date')
  t.equal(parseRetryAfter('Mon, 23 Nov 2026 10:00:00 GMT', now - 1500), 2, 'rounded up')
  t.equal(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', now), 0, 'a date in the past: now')
  t.equal(parseRetryAfter('soon', now), undefined)
  t.equal(parseRetryAfter('', now), undefined)
  t.equal(parseRetryAfter('   ', now), undefined)
  t.equal(parseRetryAfter(undefined, now), undefined)
  t.equal(parseRetryAfter([], now), undefined)
  t.ok((parseRetryAfter(new Date(Date.now() + 10_000).toUTCString()) ?? 0) >= 9, 'defaults to the current time')
})
