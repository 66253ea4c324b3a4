import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { claims, newSigningKey, signIdToken } from '../auth/google-fixture.js'
import { EMAIL, KEYS, apiKey, assertClientError, json, type Stack } from './stack.js'

/** Every authentication path through the routes: 401, 404, 202. Needs a stack nothing has used yet. */
export function authenticationTests (t: Test, stack: Stack): void {
  const { app } = stack
  const now = (): number => Math.floor(Date.now() / 1000)
  const idToken = (overrides: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string =>
    signIdToken(stack.googleKey, claims(overrides), header)
  const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
  const startEcho = async (headers: Record<string, string>, job = 'echo') =>
    await app.inject({ method: 'POST', url: `/v1/jobs/${job}/runs`, headers: { ...json, ...headers }, payload: { args: ['auth-test'] } })

  const forger = newSigningKey('google-test-key') // same kid as Google's, another key
  const unpublished = newSigningKey('rotated-away')

  /** Every way to fail authentication, through the route that starts runs. */
  const unauthenticated: Array<[what: string, headers: () => Record<string, string>, message: RegExp]> = [
    ['no credentials at all', () => ({}), /missing credentials/],
    ['an empty X-API-Key', () => ({ 'x-api-key': '' }), /empty/],
    ['an unknown API key', () => apiKey('jg_not-a-key-anyone-was-given'), /not valid/],
    ['a real key with one character changed', () => apiKey(KEYS.ci.slice(0, -1) + (KEYS.ci.endsWith('A') ? 'B' : 'A')), /not valid/],
    ['a real key with trailing space', () => apiKey(`${KEYS.ci} `), /not valid/],
    ['a real key in upper case', () => apiKey(KEYS.ci.toUpperCase()), /not valid/],
    ['a 10 KiB key', () => apiKey('k'.repeat(10_240)), /not valid/],
    ['an API key as a Bearer token', () => bearer(KEYS.ci), /malformed ID token/],
    ['Basic credentials', () => ({ authorization: `Basic ${Buffer.from('ci:pw').toString('base64')}` }), /Bearer/],
    ['Bearer without a token', () => ({ authorization: 'Bearer' }), /Bearer|malformed/],
    ['a malformed JWT', () => bearer('not.a.jwt'), /malformed ID token/],
    ['a JWT with two parts', () => bearer(idToken().split('.').slice(0, 2).join('.')), /malformed/],
    ['alg none', () => bearer(idToken({}, { alg: 'none' })), /RS256/],
    ['HS256', () => bearer(idToken({}, { alg: 'HS256' })), /RS256/],
    ['no kid', () => bearer(idToken({}, { kid: undefined })), /kid/],
    ['an expired token', () => bearer(idToken({ iat: now() - 7200, exp: now() - 3600 })), /expired/],
    ['a token for another audience', () => bearer(idToken({ aud: 'https://someone-else.a.run.app' })), /audience/],
    ['a token from another issuer', () => bearer(idToken({ iss: 'https://evil.example' })), /issuer/],
    ['the scheme-less issuer', () => bearer(idToken({ iss: 'accounts.google.com' })), /issuer/],
    ['an unverified email', () => bearer(idToken({ email_verified: false })), /not verified/],
    ['a token without email', () => bearer(idToken({ email: undefined })), /no email/],
    ['a bad signature (forged with the published kid)', () => bearer(signIdToken(forger, claims())), /signature/],
    ['a payload swapped after signing', () => {
      const [header, , signature] = idToken().split('.')
      return bearer(`${header ?? ''}.${Buffer.from(JSON.stringify(claims({ email: 'admin@ci-project.iam.gserviceaccount.com' }))).toString('base64url')}.${signature ?? ''}`)
    }, /signature/],
    ['an unknown key id', () => bearer(signIdToken(unpublished, claims())), /unknown key/],
    ['kid "constructor"', () => bearer(signIdToken(unpublished, claims(), { kid: 'constructor' })), /rejected|unknown key|signature/],
    ['kid "__proto__"', () => bearer(signIdToken(unpublished, claims(), { kid: '__proto__' })), /rejected|unknown key|signature/]
  ]

  t.test('every authentication failure is a 401 in the contract shape, and nothing reaches Cloud Run', async t => {
    for (const [what, headers, message] of unauthenticated) {
      const response = await startEcho(headers())
      assertClientError(t, response, what, 401)
      t.match(JSON.parse(response.body).error, { status: 'UNAUTHENTICATED', message }, `${what}: says why`)
    }
    for (const [method, url] of [['GET', '/v1/jobs'], ['GET', '/v1/jobs/echo/runs'], ['GET', '/v1/jobs/echo/runs/echo-job-abcde'],
      ['POST', '/v1/jobs/echo/runs/echo-job-abcde/cancel'], ['GET', '/v1/jobs/echo/runs/echo-job-abcde/logs'], ['GET', '/v1/jobs/nope/runs']] as const) {
      assertClientError(t, await app.inject({ method, url }), `${method} ${url} without credentials`, 401)
    }
    t.same(stack.emulator.requests, [], 'the emulator (Run API and metadata server) received nothing')
  })

  t.test('a known principal that is not on the job gets the 404 of a job outside the catalog, before any upstream call', async t => {
    const denied: Array<[what: string, headers: Record<string, string>, job: string]> = [
      ['API key principal not listed', apiKey(KEYS.outsider), 'echo'],
      ['tenant-bound principal not listed', apiKey(KEYS.acme), 'echo'],
      ['a job that lists no principals (secure default)', apiKey(KEYS.ops), 'locked'],
      ['a verified Google identity of another project', { authorization: `Bearer ${idToken({ email: 'deploy@other-project.iam.gserviceaccount.com' })}` }, 'echo'],
      ['a look-alike domain', { authorization: `Bearer ${idToken({ email: 'deploy@ci-project.iam.gserviceaccount.com.evil.example' })}` }, 'echo'],
      ['a Google identity on a job for API keys only', { authorization: `Bearer ${idToken()}` }, 'burst']
    ]
    // Issue 23: "may not use" (403) and "not in the catalog" (404) told any caller which ids the catalog holds.
    const answers = async (headers: Record<string, string>, job: string): Promise<LightMyRequestResponse[]> => [
      await startEcho(headers, job),
      ...await Promise.all([`/v1/jobs/${job}/runs`, `/v1/jobs/${job}/runs/${job}-abcde`, `/v1/jobs/${job}/runs/${job}-abcde/logs`].map(async url => await app.inject({ method: 'GET', url, headers }))),
      await app.inject({ method: 'POST', url: `/v1/jobs/${job}/runs/${job}-abcde/cancel`, headers })
    ]
    for (const [what, headers, job] of denied) {
      const unknown = await answers(headers, 'not-in-catalog')
      for (const [i, response] of (await answers(headers, job)).entries()) {
        assertClientError(t, response, `${what} (${i})`, 404)
        t.equal(response.body.replaceAll(job, 'JOB'), unknown[i]?.body.replaceAll('not-in-catalog', 'JOB'), `${what} (${i}): the same answer as a job outside the catalog`)
      }
    }
    t.match(JSON.parse((await startEcho(apiKey(KEYS.outsider), 'echo')).body).error.message, /^job "echo" is not in jobgate's catalog, or not open to you$/)
    t.same(stack.emulator.requests, [], 'the emulator received nothing')
  })

  t.test('GET /v1/jobs lists only the jobs the caller may run', async t => {
    const ids = async (headers: Record<string, string>): Promise<string[]> => {
      const response = await app.inject({ method: 'GET', url: '/v1/jobs', headers })
      t.equal(response.statusCode, 200)
      return (JSON.parse(response.body) as { jobs: Array<{ id: string }> }).jobs.map(job => job.id).sort()
    }
    t.same(await ids(apiKey(KEYS.ci)), ['burst', 'echo', 'tenant-echo'])
    t.same(await ids(apiKey(KEYS.acme)), ['restricted', 'tenant-echo'])
    t.same(await ids(apiKey(KEYS.outsider)), [], 'a principal on no job sees none')
    t.same(await ids({ authorization: `Bearer ${idToken()}` }), ['echo'], 'the Google identity matches *@ci-project…')
    t.notOk((await ids(apiKey(KEYS.ops))).includes('locked'), 'nobody sees a job without principals')
  })

  t.test('allowed callers get 202, by API key and by Google ID token, and the run really starts', async t => {
    const byKey = await startEcho(apiKey(KEYS.ci))
    t.equal(byKey.statusCode, 202, byKey.body.slice(0, 200))
    const byToken = await startEcho({ authorization: `Bearer ${idToken()}` })
    t.equal(byToken.statusCode, 202, byToken.body.slice(0, 200))
    t.equal(JSON.parse(byToken.body).job, 'echo')
    t.match(byToken.headers.location, /^\/v1\/jobs\/echo\/runs\/echo-job-[a-z0-9]+$/)
    const both = await startEcho({ ...apiKey(KEYS.ci), authorization: 'Bearer garbage' })
    t.equal(both.statusCode, 202, 'with both headers the API key decides')
    t.equal(stack.runCalls().length, 3, 'one jobs.run call per accepted request')
    for (const call of stack.runCalls()) {
      t.match(call.path, /\/namespaces\/sec-project\/jobs\/echo-job:run$/)
      t.match(call.headers.authorization, /^Bearer ya29\.emulator-/, 'jobgate called with its own token, not the caller\'s')
    }
    t.equal(stack.certs.hits, 1, 'Google\'s certificates were fetched once and cached')
    t.match(EMAIL, /@ci-project\.iam\.gserviceaccount\.com$/)
  })
}
