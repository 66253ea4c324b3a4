import t, { type Test } from 'tap'
import { errors as undiciErrors } from 'undici'
import { CloudRunRestClient } from '../../api/cloudrun/client.js'
import { apiErrorOf } from '../../api/errors.js'
import { GoogleHttp, logRetries, UpstreamError } from '../../api/google/http.js'
import { testEntry } from '../helpers/catalog-entry.js'
import { FakeTokenSource } from '../helpers/fake-token-source.js'
import { googleError, MockGoogleApi, type Answer } from '../helpers/mock-google-api.js'

const REGIONAL = 'https://europe-west1-run.googleapis.com'
const entry = testEntry({ job: 'j' }, 'echo')
const TOKEN = 'ya29.secret-token-value'

/** Google's error body with an ErrorInfo detail, as Cloud Run sends it. */
const withReason = (code: number, status: string, message: string, reason: string): unknown => ({
  error: {
    ...googleError(code, status, message).error,
    details: [
      { '@type': 'type.googleapis.com/google.rpc.Help', links: [] },
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'run.googleapis.com', metadata: {} }
    ]
  }
})

interface Line { level: 'warn', fields: Record<string, unknown>, message: string }

/** A Cloud Run client whose upstream answers `answers` in order; every retry line its http layer writes lands in `lines`. */
function setup (t: Test, ...answers: Answer[]): { client: CloudRunRestClient, api: MockGoogleApi, lines: Line[], sleeps: number[] } {
  const api = new MockGoogleApi()
  api.answer(REGIONAL, ...answers)
  const lines: Line[] = []
  const sleeps: number[] = []
  const http = new GoogleHttp({
    tokens: new FakeTokenSource(TOKEN),
    dispatcher: api.dispatcher,
    sleep: async ms => { sleeps.push(ms) },
    random: () => 0.5,
    onRetryAttempt: logRetries({ warn: (fields, message) => { lines.push({ level: 'warn', fields: fields as Record<string, unknown>, message }) } })
  })
  t.teardown(async () => { await http.close(); await api.close() })
  return { client: new CloudRunRestClient(http), api, lines, sleeps }
}

t.test('a 503 then a success: exactly one retry line, with attempt 1, the reason and the delay; no token, no query', async t => {
  const { client, api, lines, sleeps } = setup(t,
    { status: 503, body: googleError(503, 'UNAVAILABLE', 'try again') },
    { status: 200, body: { items: [] } })
  await client.listExecutions(entry, { pageSize: 5, pageToken: 'page-secret' })
  t.equal(api.requests.length, 2)
  t.same(sleeps, [100], 'half of the 200 ms base (random 0.5)')
  t.equal(lines.length, 1, 'one line per retry')
  t.same(lines[0]?.fields, { attempt: 1, reason: 'http 503', delayMs: 100, service: 'Cloud Run', operation: 'executions.list', method: 'GET' })
  t.equal(lines[0]?.message, 'Cloud Run executions.list: attempt 1 failed (http 503); retrying in 100 ms')
  const written = JSON.stringify(lines)
  t.notMatch(written, /secret/, 'neither the token nor the page token (the URL\'s query)')
})

t.test('the ErrorInfo reason and transport codes name the retry; attempts count up', async t => {
  const { client, lines } = setup(t,
    { status: 503, body: withReason(503, 'UNAVAILABLE', 'busy', 'BACKEND_BUSY') },
    { error: new undiciErrors.SocketError('other side closed') },
    { status: 200, body: { metadata: { name: 'j-1', labels: { 'run.googleapis.com/job': 'j' } } } })
  await client.getExecution(entry, 'j-1')
  t.same(lines.map(line => [line.fields.attempt, line.fields.reason, line.fields.operation]), [
    [1, 'http 503 BACKEND_BUSY', 'executions.get'],
    [2, 'connection UND_ERR_SOCKET', 'executions.get']
  ])
})

t.test('a 4xx is not retried and logs no retry line; its ErrorInfo reason stays on the error, out of the answer', async t => {
  const { client, api, lines } = setup(t, { status: 403, body: withReason(403, 'PERMISSION_DENIED', 'Permission denied on resource', 'IAM_PERMISSION_DENIED') })
  const err = await client.runJob(entry, {}).then(() => undefined, (e: unknown) => e)
  t.equal(api.requests.length, 1, 'sent once')
  t.equal(lines.length, 0, 'no retry line')
  t.type(err, UpstreamError)
  t.match(err, { kind: 'http', httpStatus: 403, googleStatus: 'PERMISSION_DENIED', reason: 'IAM_PERMISSION_DENIED', context: { service: 'Cloud Run', operation: 'jobs.run' } })
  t.equal((err as UpstreamError).summary, 'http 403 IAM_PERMISSION_DENIED')
  const body = apiErrorOf(err)?.toBody()
  t.match(body, { error: { code: 403, status: 'PERMISSION_DENIED', message: /grant roles\/run\.jobsExecutor on that job/ } })
  t.notMatch(JSON.stringify(body), /IAM_PERMISSION_DENIED/, 'the reason is for the log, not the answer')
})

t.test('a token failure is not retried and logs no retry line', async t => {
  const api = new MockGoogleApi()
  const lines: unknown[] = []
  let fetches = 0
  const http = new GoogleHttp({
    tokens: { getToken: async () => { fetches++; throw new UpstreamError('token', 'could not get an access token for Google APIs') } },
    dispatcher: api.dispatcher,
    sleep: async () => {},
    onRetryAttempt: retry => { lines.push(retry) }
  })
  t.teardown(async () => { await http.close(); await api.close() })
  const err = await new CloudRunRestClient(http).runJob(entry, {}).then(() => undefined, (e: unknown) => e)
  t.equal(fetches, 1)
  t.equal(api.requests.length, 0)
  t.same(lines, [])
  t.match(err, { kind: 'token', context: { service: 'Cloud Run' } }, 'the call\'s context is attached on the way out')
  t.match(apiErrorOf(err), { status: 'UNAVAILABLE', runMayHaveStarted: false, message: 'jobgate could not get an access token for Google APIs; see the service logs.' })
})

t.test('a rejected token is fetched again once: logged as a retry without a pause', async t => {
  const api = new MockGoogleApi()
  api.answer(REGIONAL, { status: 401, body: googleError(401, 'UNAUTHENTICATED', 'expired') }, { status: 200, body: { items: [] } })
  const lines: Array<Record<string, unknown>> = []
  let invalidated = 0
  const http = new GoogleHttp({
    tokens: { getToken: async () => TOKEN, invalidate: () => { invalidated++ } },
    dispatcher: api.dispatcher,
    sleep: async () => { t.fail('no pause before a fresh token') },
    onRetryAttempt: retry => { lines.push({ ...retry }) }
  })
  t.teardown(async () => { await http.close(); await api.close() })
  await new CloudRunRestClient(http).listExecutions(entry, { pageSize: 1 })
  t.equal(invalidated, 1)
  t.same(lines.map(line => [line.attempt, line.reason, line.delayMs]), [[1, 'http 401', 0]])
})

t.test('without a context, a retry line names the host and the HTTP method', async t => {
  const api = new MockGoogleApi()
  api.answer(REGIONAL, { status: 500 }, { status: 200, body: {} })
  const lines: Array<Record<string, unknown>> = []
  const http = new GoogleHttp({
    tokens: new FakeTokenSource(),
    dispatcher: api.dispatcher,
    sleep: async () => {},
    random: () => 0,
    onRetryAttempt: retry => { lines.push({ ...retry }) }
  })
  t.teardown(async () => { await http.close(); await api.close() })
  await http.call({ method: 'GET', url: `${REGIONAL}/x?token=q`, retry: 'safe' })
  t.same(lines, [{ attempt: 1, reason: 'http 500', delayMs: 0, service: 'europe-west1-run.googleapis.com', operation: 'GET', method: 'GET' }])
})

t.test('an UpstreamError of a call made without a context still maps to the contract\'s error', async t => {
  t.match(apiErrorOf(new UpstreamError('http', 'no', { httpStatus: 403 })), { status: 'PERMISSION_DENIED', message: 'jobgate\'s service account lacks a permission this call needs. A Google API said: no' })
  t.match(apiErrorOf(new UpstreamError('http', 'gone', { httpStatus: 404 })), { status: 'NOT_FOUND', message: 'not found.' })
})
