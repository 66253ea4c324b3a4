import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GoogleAuth } from 'google-auth-library'
import nock from 'nock'
import t from 'tap'
import { ApiError, apiErrorOf } from '../../api/errors.js'
import { CachedTokenSource, googleAuthFetcher, metadataServerFetcher, type AccessToken } from '../../api/google/token.js'
import { UpstreamError } from '../../api/google/upstream-error.js'

// google-auth-library finds the metadata server through GCE_METADATA_HOST; nock plays it.
const METADATA = 'http://127.0.0.1:8931'
process.env.GCE_METADATA_HOST = '127.0.0.1:8931'
// The project from the environment, so the library never shells out to gcloud for it.
process.env.GOOGLE_CLOUD_PROJECT = 'my-project'
// No application default credentials from this machine: only the metadata server may answer.
delete process.env.GOOGLE_APPLICATION_CREDENTIALS
process.env.CLOUDSDK_CONFIG = mkdtempSync(join(tmpdir(), 'jobgate-no-adc-'))
t.teardown(() => { rmSync(process.env.CLOUDSDK_CONFIG ?? '', { recursive: true, force: true }) })
delete process.env.METADATA_SERVER_DETECTION

const TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token'
const FLAVOR = { 'Metadata-Flavor': 'Google' }

nock.disableNetConnect()
t.teardown(() => { nock.cleanAll(); nock.enableNetConnect() })

/** Answers gcp-metadata's detection probe (GET /computeMetadata/v1/instance) for as long as the test runs. */
function answerDetection (): void {
  nock(METADATA, { reqheaders: { 'metadata-flavor': 'Google' } }).get('/computeMetadata/v1/instance').reply(200, '{}', FLAVOR).persist()
}
answerDetection()

interface TokenEndpoint { requests: Array<{ scopes: string | undefined }> }

/** Serves tokens `tok-1`, `tok-2`, … from the metadata token endpoint, each valid `expiresIn` seconds. */
function tokenEndpoint (expiresIn: number): TokenEndpoint {
  const endpoint: TokenEndpoint = { requests: [] }
  nock(METADATA, { reqheaders: { 'metadata-flavor': 'Google' } })
    .get(TOKEN_PATH).query(true)
    .reply(request => {
      endpoint.requests.push({ scopes: new URL(request.url).searchParams.get('scopes') ?? undefined })
      return [200, { access_token: `tok-${endpoint.requests.length}`, expires_in: expiresIn, token_type: 'Bearer' }, FLAVOR]
    })
    .persist()
  return endpoint
}

const freshAuth = (): GoogleAuth => new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] })

t.test('metadata server: 100 concurrent getToken() on a cold start make one token request', async t => {
  const endpoint = tokenEndpoint(3600)
  t.teardown(() => { nock.cleanAll(); answerDetection() })
  const source = new CachedTokenSource(googleAuthFetcher(freshAuth()))
  const tokens = await Promise.all(Array.from({ length: 100 }, async () => await source.getToken()))
  t.same(new Set(tokens), new Set(['tok-1']))
  t.equal(endpoint.requests.length, 1, 'exactly one request to the token endpoint')
  t.equal(endpoint.requests[0]?.scopes, 'https://www.googleapis.com/auth/cloud-platform')
  t.equal(await source.getToken(), 'tok-1', 'served from the cache afterwards')
  t.equal(endpoint.requests.length, 1)
})

t.test('metadata server: a token near its expiry is refreshed', async t => {
  const endpoint = tokenEndpoint(120)
  t.teardown(() => { nock.cleanAll(); answerDetection() })
  let offset = 0
  const source = new CachedTokenSource(googleAuthFetcher(freshAuth()), () => Date.now() + offset)
  t.equal(await source.getToken(), 'tok-1')
  offset = 50_000
  t.equal(await source.getToken(), 'tok-1', 'still fresh half-way through its short life')
  t.equal(endpoint.requests.length, 1)
  offset = 61_000
  const again = await Promise.all([source.getToken(), source.getToken(), source.getToken()])
  t.same(again, ['tok-2', 'tok-2', 'tok-2'], 'refreshed once for all waiting callers')
  t.equal(endpoint.requests.length, 2)
})

t.test('metadata server: a failure is UNAVAILABLE, says nothing secret, and the next call recovers', async t => {
  t.teardown(() => { nock.cleanAll(); answerDetection() })
  nock(METADATA).get(TOKEN_PATH).query(true).times(10).reply(403, 'scope missing; internal detail x-secret-123', FLAVOR)
  const source = new CachedTokenSource(googleAuthFetcher(freshAuth()))
  const err = await source.getToken().then(() => undefined, (e: unknown) => e)
  t.type(err, UpstreamError)
  t.equal((err as UpstreamError).kind, 'token', 'the Google layer\'s own error; the edge maps it')
  const apiError = apiErrorOf(err) as ApiError
  t.type(apiError, ApiError)
  t.equal(apiError.status, 'UNAVAILABLE')
  t.equal(apiError.httpCode, 502)
  t.equal(apiError.runMayHaveStarted, false, 'no run can have started without a token')
  t.equal(apiError.message, 'jobgate could not get an access token for Google APIs; see the service logs.')
  t.match((apiError.cause as Error).message, /x-secret-123/, 'the detail stays in the cause, for the service log')
  t.notMatch(JSON.stringify(apiError.toBody()), /x-secret-123/, 'the metadata server\'s body is not passed to the client')

  nock.cleanAll()
  answerDetection()
  tokenEndpoint(3600)
  t.equal(await source.getToken(), 'tok-1', 'a later call tries again and succeeds')
})

t.test('googleAuthFetcher: an empty token is a failure, a missing expiry means an hour', async t => {
  const empty = googleAuthFetcher({ getClient: async () => ({ getAccessToken: async () => ({ token: '' }), credentials: {} }) } as unknown as GoogleAuth)
  await t.rejects(empty(false), { name: 'UpstreamError', kind: 'token', cause: { message: /empty access token/ } })
  t.equal(apiErrorOf(await empty(false).catch((e: unknown) => e))?.status, 'UNAVAILABLE')
  const nullToken = googleAuthFetcher({
    getClient: async () => ({ getAccessToken: async () => ({ token: null }), credentials: {} })
  } as unknown as GoogleAuth)
  await t.rejects(nullToken(false), { name: 'UpstreamError', kind: 'token' })
  const noExpiry = googleAuthFetcher({ getClient: async () => ({ getAccessToken: async () => ({ token: 't' }), credentials: {} }) } as unknown as GoogleAuth)
  const before = Date.now()
  const token = await noExpiry(false)
  t.equal(token.token, 't')
  t.ok(token.expiresAt >= before + 3_600_000 && token.expiresAt <= Date.now() + 3_600_000)
  t.type(metadataServerFetcher(), 'function')
})

t.test('googleAuthFetcher(force): the library\'s own cached copy is marked expired first', async t => {
  const client = { getAccessToken: async () => ({ token: 't' }), credentials: { access_token: 't', expiry_date: Date.now() + 3_600_000 } }
  const fetcher = googleAuthFetcher({ getClient: async () => client } as unknown as GoogleAuth)
  await fetcher(false)
  t.not(client.credentials.expiry_date, 1, 'a normal fetch leaves the library\'s cache alone')
  await fetcher(true)
  t.equal(client.credentials.expiry_date, 1, 'a forced fetch makes the library ask its source again')
})

t.test('CachedTokenSource.invalidate: the next call fetches, with force', async t => {
  const calls: boolean[] = []
  const source = new CachedTokenSource(async force => { calls.push(force); return { token: `t${calls.length}`, expiresAt: Date.now() + 3_600_000 } })
  t.equal(await source.getToken(), 't1')
  t.equal(await source.getToken(), 't1')
  source.invalidate()
  t.equal(await source.getToken(), 't2')
  t.same(calls, [false, true])
})

/** A fetcher that hands out `t1`, `t2`, … valid `lifetimeMs` from the fake clock's now; `fail` makes the next fetch throw. */
function fakeFetcher (
  clock: { now: number },
  lifetimeMs: number
): { fetch: () => Promise<AccessToken>, calls: () => number, fail: (err: Error) => void } {
  let calls = 0
  let failure: Error | undefined
  return {
    fetch: async () => {
      calls++
      await new Promise(resolve => setImmediate(resolve))
      const err = failure
      failure = undefined
      if (err !== undefined) throw err
      return { token: `t${calls}`, expiresAt: clock.now + lifetimeMs }
    },
    calls: () => calls,
    fail: err => {
      failure = err
    }
  }
}

t.test('CachedTokenSource: single flight, refresh margin, failure then recovery', async t => {
  t.test('concurrent callers share one fetch', async t => {
    const clock = { now: 1_000_000 }
    let calls = 0
    let release: (token: AccessToken) => void = () => {}
    const source = new CachedTokenSource(
      async () => {
        calls++
        return await new Promise<AccessToken>(resolve => {
          release = resolve
        })
      },
      () => clock.now
    )
    const pending = Array.from({ length: 50 }, async () => await source.getToken())
    await new Promise(resolve => setImmediate(resolve))
    t.equal(calls, 1)
    release({ token: 'shared', expiresAt: clock.now + 3_600_000 })
    t.same(new Set(await Promise.all(pending)), new Set(['shared']))
    t.equal(calls, 1)
  })

  t.test('a long-lived token is refreshed five minutes before it expires', async t => {
    const clock = { now: 1_000_000 }
    const fetcher = fakeFetcher(clock, 3_600_000)
    const source = new CachedTokenSource(fetcher.fetch, () => clock.now)
    t.equal(await source.getToken(), 't1')
    clock.now += 3_600_000 - 300_000 - 1
    t.equal(await source.getToken(), 't1', 'just before the margin: cached')
    t.equal(fetcher.calls(), 1)
    clock.now += 1
    t.equal(await source.getToken(), 't2', 'at the margin: refreshed')
    t.equal(fetcher.calls(), 2)
  })

  t.test('a short-lived token is refreshed half-way', async t => {
    const clock = { now: 5_000 }
    const fetcher = fakeFetcher(clock, 60_000)
    const source = new CachedTokenSource(fetcher.fetch, () => clock.now)
    t.equal(await source.getToken(), 't1')
    clock.now += 29_999
    t.equal(await source.getToken(), 't1')
    clock.now += 1
    t.equal(await source.getToken(), 't2')
  })

  t.test('a failed fetch reaches every waiting caller, caches nothing, and the next call retries', async t => {
    const clock = { now: 0 }
    const fetcher = fakeFetcher(clock, 3_600_000)
    const source = new CachedTokenSource(fetcher.fetch, () => clock.now)
    const failure = new ApiError('UNAVAILABLE', 'metadata server down')
    fetcher.fail(failure)
    const results = await Promise.allSettled([source.getToken(), source.getToken()])
    t.same(results.map(r => r.status), ['rejected', 'rejected'])
    t.equal(fetcher.calls(), 1, 'one attempt for both callers')
    t.equal(await source.getToken(), 't2', 'recovered on the next call')
    t.equal(fetcher.calls(), 2)
  })

  t.test('an expired token is never handed out after a failed refresh', async t => {
    const clock = { now: 0 }
    const fetcher = fakeFetcher(clock, 600_000)
    const source = new CachedTokenSource(fetcher.fetch, () => clock.now)
    t.equal(await source.getToken(), 't1')
    clock.now += 600_000
    fetcher.fail(new ApiError('UNAVAILABLE', 'down'))
    await t.rejects(source.getToken(), { name: 'ApiError', status: 'UNAVAILABLE' })
    t.equal(await source.getToken(), 't3')
  })

  t.test('the default clock is Date.now', async t => {
    const source = new CachedTokenSource(async () => ({ token: 'x', expiresAt: Date.now() + 3_600_000 }))
    t.equal(await source.getToken(), 'x')
  })
})
