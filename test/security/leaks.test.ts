import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { claims, signIdToken } from '../auth/google-fixture.js'
import { startOutside } from '../helpers/outside-run.js'
import { KEYS, apiKey, json, startStack } from './stack.js'

/**
 * The whole flow, successes and failures (jobgate's own refusals, and Cloud Run answering 401,
 * 403 and 500 with bodies that quote jobgate's token), with pino at debug: neither the service's
 * access token, nor an API key, nor a caller's ID token, nor a secret env value appears in any
 * response body or header, or in any log line.
 */
const stack = await startStack(t)
const { app, emulator } = stack
const SECRET_VALUE = `s3cr3t-${Math.random().toString(36).slice(2)}`
const idToken = signIdToken(stack.googleKey, claims())
const responses: LightMyRequestResponse[] = []

async function call (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: unknown): Promise<LightMyRequestResponse> {
  const response = await app.inject({
    method,
    url,
    headers: payload === undefined ? headers : { ...json, ...headers },
    ...(payload !== undefined && { payload: JSON.stringify(payload) })
  })
  responses.push(response)
  return response
}

/** The access tokens the emulator's metadata server handed to jobgate, as they arrived on the Run API. */
const serviceTokens = (): string[] => [...new Set(emulator.requests
  .map(request => /^Bearer (\S+)$/.exec(String(request.headers.authorization ?? ''))?.[1])
  .filter((token): token is string => token !== undefined))]

t.test('the whole flow, with upstream failures that quote the token', async t => {
  const ci = apiKey(KEYS.ci)
  const started = await call('POST', '/v1/jobs/echo/runs', ci, { args: ['leak-test'], env: { API_TOKEN: SECRET_VALUE, DB_PASSWORD: SECRET_VALUE } })
  t.equal(started.statusCode, 202, started.body.slice(0, 200))
  const run = JSON.parse(started.body).name as string
  t.equal(JSON.parse((await call('GET', `/v1/jobs/echo/runs/${run}?wait=30`, ci)).body).state, 'SUCCEEDED')
  t.equal((await call('GET', '/v1/jobs/echo/runs', ci)).statusCode, 200)
  const logs = await call('GET', `/v1/jobs/echo/runs/${run}/logs`, ci)
  t.match(logs.body, /"message":"env"/, 'the job printed its env (redacting secret-looking values)')
  await call('POST', `/v1/jobs/echo/runs/${run}/cancel`, ci)
  const byIdToken = await call('POST', '/v1/jobs/echo/runs', { authorization: `Bearer ${idToken}` }, {})
  t.equal(byIdToken.statusCode, 202, 'by ID token')
  // A run nobody has read yet, started outside jobgate: no reconciler follows it, so reading it reads Cloud Run.
  const unread = await startOutside(emulator, 'echo-job')

  const [token] = serviceTokens()
  t.match(token, /^ya29\.emulator-/, 'jobgate used a token from the metadata server')
  const quoting = (status: number, googleStatus: string) => ({
    status,
    body: { error: { code: status, status: googleStatus, message: `request with token ${token ?? ''} (Authorization: Bearer ${token ?? ''}) refused` } }
  })
  const runPath = /:run$/
  emulator.failNext({ method: 'POST', pathPattern: runPath }, quoting(403, 'PERMISSION_DENIED'))
  const denied = await call('POST', '/v1/jobs/echo/runs', ci, { env: { API_TOKEN: SECRET_VALUE } })
  t.equal(denied.statusCode, 403)
  t.match(JSON.parse(denied.body).error.message, /run\.jobs\.runWithOverrides.*\[REDACTED\]/, 'names the permission; the quoted token is gone')
  // A rejected token is replaced once; rejected twice, it is jobgate's own credentials that are wrong.
  emulator.failNext({ method: 'POST', pathPattern: runPath }, { ...quoting(401, 'UNAUTHENTICATED'), count: 2 })
  t.equal((await call('POST', '/v1/jobs/echo/runs', ci, {})).statusCode, 502, 'upstream 401 twice: jobgate\'s own credentials, a 502')
  emulator.failNext({ method: 'POST', pathPattern: runPath }, quoting(500, 'INTERNAL'))
  const failed = await call('POST', '/v1/jobs/echo/runs', ci, { args: ['x'] })
  t.equal(failed.statusCode, 502)
  t.equal(JSON.parse(failed.body).error.runMayHaveStarted, true, 'a 500 on run: the outcome is unknown, and the body says so')
  emulator.failNext({ method: 'GET', pathPattern: /\/executions\// }, { ...quoting(500, 'INTERNAL'), count: 4 })
  t.equal((await call('GET', `/v1/jobs/echo/runs/${unread}`, ci)).statusCode, 502, 'reads are retried, then 502')
  emulator.failNext({ method: 'POST', pathPattern: /entries:list/ }, quoting(403, 'PERMISSION_DENIED'))
  t.equal((await call('GET', `/v1/jobs/echo/runs/${unread}/logs`, ci)).statusCode, 403)

  // jobgate's own refusals, with credentials that are almost right.
  await call('POST', '/v1/jobs/echo/runs', apiKey(`${KEYS.ci}x`), {})
  await call('POST', '/v1/jobs/echo/runs', apiKey(KEYS.outsider), {})
  await call('POST', '/v1/jobs/echo/runs', { authorization: `Bearer ${KEYS.ops}` }, {})
  await call('POST', '/v1/jobs/echo/runs', { authorization: `Bearer ${idToken.slice(0, -4)}AAAA` }, {})
  await call('POST', '/v1/jobs/echo/runs', { authorization: `Bearer ${signIdToken(stack.googleKey, claims({ aud: 'https://elsewhere' }))}` }, {})
  await call('POST', '/v1/jobs/tenant-echo/runs', apiKey(KEYS.acme), { env: { TENANT_ID: 'globex', API_TOKEN: SECRET_VALUE } })
  await call('POST', '/v1/jobs/echo/runs', ci, { env: { LD_PRELOAD: SECRET_VALUE } })

  // Last: every token jobgate holds stops working; Cloud Run answers 401 on its own.
  // jobgate fetches a fresh one and goes on: a second token now exists to look for, too.
  emulator.expireTokens()
  t.equal((await call('POST', '/v1/jobs/echo/runs', ci, {})).statusCode, 202)
  t.ok(serviceTokens().length >= 2, 'a new token was fetched after the 401')

  const secrets = [...serviceTokens(), ...Object.values(KEYS), idToken, SECRET_VALUE]
  t.ok(serviceTokens().length >= 1 && secrets.length >= 8, `${secrets.length} secrets to look for`)
  const logText = stack.logText()
  t.ok(/"jobgate_audit":"run"/.test(logText) && /"severity":"ERROR".*"stack"/.test(logText) && /incoming request/.test(logText),
    `the capture holds request, audit and error lines with their stacks (${logText.length} characters)`)
  t.match(logText, /ya29\.emulator|\[REDACTED\]/, 'the log did see the upstream messages, redacted')
  for (const secret of secrets) {
    const pieces = [secret, ...secret.split('.').filter(piece => piece.length >= 16)]
    const label = secret.startsWith('ya29') ? 'the service token' : secret === SECRET_VALUE ? 'the secret env value' : secret === idToken ? 'the ID token' : 'an API key'
    t.notOk(pieces.some(piece => logText.includes(piece)), `${label} is in no log line`)
    const inResponse = responses.find(response =>
      pieces.some(piece => response.body.includes(piece) || JSON.stringify(response.headers).includes(piece))
    )
    t.equal(inResponse, undefined, `${label} is in no response body or header`)
  }
  t.equal(responses.length, 19, 'every step answered')
})
