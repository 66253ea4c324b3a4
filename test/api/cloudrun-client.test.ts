import t, { type Test } from 'tap'
import { errors as undiciErrors } from 'undici'
import { CloudRunRestClient } from '../../api/cloudrun/client.js'
import { cloudRunContext } from '../../api/cloudrun/errors.js'
import type { Execution } from '../../api/cloudrun/execution.js'
import { toRunJobRequest } from '../../api/cloudrun/mapping.js'
import { ApiError, apiErrorOf } from '../../api/errors.js'
import { GoogleHttp, UpstreamError } from '../../api/google/http.js'
import { testEntry } from '../helpers/catalog-entry.js'
import { FakeTokenSource } from '../helpers/fake-token-source.js'
import { googleError, MockGoogleApi, transportError, type Answer } from '../helpers/mock-google-api.js'

const REGIONAL = 'https://europe-west1-run.googleapis.com'
const NAMESPACE = '/apis/run.googleapis.com/v1/namespaces/p'
const entry = testEntry({ job: 'j', container: 'job' }, 'echo')

const execution = (name: string, job = 'j'): Execution => ({
  metadata: { name, creationTimestamp: '2026-11-23T10:00:00Z', labels: { 'run.googleapis.com/job': job } },
  spec: { taskCount: 1 },
  status: {}
})

function setup (t: Test, endpoint?: string): { api: MockGoogleApi, client: CloudRunRestClient, sleeps: number[] } {
  const api = new MockGoogleApi()
  const sleeps: number[] = []
  const http = new GoogleHttp({ tokens: new FakeTokenSource('tok-abc'), dispatcher: api.dispatcher, sleep: async ms => { sleeps.push(ms) } })
  t.teardown(async () => { await http.close(); await api.close() })
  return { api, client: new CloudRunRestClient(http, endpoint), sleeps }
}

/** The ApiError the edge makes of what a promise rejects with: the client's own UpstreamError, naming Cloud Run. */
async function apiFailure (t: Test, promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  t.type(err, UpstreamError)
  t.equal((err as UpstreamError).context?.service, 'Cloud Run')
  const apiError = apiErrorOf(err)
  t.type(apiError, ApiError)
  return apiError as ApiError
}

t.test('runJob: POST to the regional host with the bearer token and the overrides', async t => {
  const { api, client } = setup(t)
  api.answer(REGIONAL, { status: 200, body: execution('j-abc12') })
  const body = toRunJobRequest(entry, { args: ['a'], env: { A: '1' }, taskCount: 3, timeoutSeconds: 600 })
  const result = await client.runJob(entry, body)
  t.equal(result.metadata?.name, 'j-abc12')
  t.equal(api.requests.length, 1)
  const [sent] = api.requests
  t.equal(`${sent?.origin ?? ''}${sent?.path ?? ''}`, 'https://europe-west1-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/p/jobs/j:run')
  t.equal(sent?.method, 'POST')
  t.equal(sent?.headers.authorization, 'Bearer tok-abc')
  t.equal(sent?.headers['content-type'], 'application/json')
  t.strictSame(api.bodyOf(0), { overrides: { containerOverrides: [{ name: 'job', args: ['a'], env: [{ name: 'A', value: '1' }] }], taskCount: 3, timeoutSeconds: 600 } })
})

t.test('runJob: the endpoint replaces the regional host; the region does not matter then', async t => {
  const { api, client } = setup(t, 'http://127.0.0.1:8123')
  api.answer('http://127.0.0.1:8123', { status: 200, body: execution('j-1') })
  await client.runJob(testEntry({ job: 'j', region: 'asia-east1' }), {})
  t.equal(`${api.requests[0]?.origin ?? ''}${api.requests[0]?.path ?? ''}`, `http://127.0.0.1:8123${NAMESPACE}/jobs/j:run`)
  t.strictSame(api.bodyOf(0), {}, 'no overrides: an empty RunJobRequest')
})

t.test('getExecution: GET the execution; a run of another job is a 404', async t => {
  const { api, client } = setup(t)
  api.answer(REGIONAL,
    { status: 200, body: execution('j-1') },
    { status: 200, body: execution('other-1', 'other-job') },
    { status: 200, body: { metadata: { name: 'nolabels-1' } } })
  t.equal((await client.getExecution(entry, 'j-1')).metadata?.name, 'j-1')
  t.equal(api.requests[0]?.method, 'GET')
  t.equal(api.requests[0]?.path, `${NAMESPACE}/executions/j-1`)
  t.equal(api.requests[0]?.body, undefined)

  const other = await apiFailure(t, client.getExecution(entry, 'other-1'))
  t.match(other, { status: 'NOT_FOUND', httpCode: 404, message: 'run "other-1" of job "echo" not found.' })
  const unlabelled = await apiFailure(t, client.getExecution(entry, 'nolabels-1'))
  t.equal(unlabelled.status, 'NOT_FOUND')
})

t.test('listExecutions: the job\'s label selector, page size and continue token', async t => {
  const { api, client } = setup(t)
  api.answer(REGIONAL,
    { status: 200, body: { items: [execution('j-2'), execution('j-1')], metadata: { continue: 'tok/next=' } } },
    { status: 200, body: { metadata: { continue: '' } } },
    { status: 200, body: {} })
  const first = await client.listExecutions(entry, { pageSize: 20 })
  t.same(first.executions.map(e => e.metadata?.name), ['j-2', 'j-1'])
  t.equal(first.nextPageToken, 'tok/next=')
  const query = new URLSearchParams(api.requests[0]?.path.split('?')[1])
  t.equal(api.requests[0]?.path.split('?')[0], `${NAMESPACE}/executions`)
  t.equal(query.get('labelSelector'), 'run.googleapis.com/job=j')
  t.equal(query.get('limit'), '20')
  t.equal(query.has('continue'), false)
  t.equal(api.requests[0]?.path, `${NAMESPACE}/executions?labelSelector=run.googleapis.com%2Fjob%3Dj&limit=20`)

  const second = await client.listExecutions(entry, { pageSize: 5, pageToken: 'tok/next=' })
  t.same(second, { executions: [] }, 'an empty continue is the last page')
  t.equal(new URLSearchParams(api.requests[1]?.path.split('?')[1]).get('continue'), 'tok/next=')
  t.equal(new URLSearchParams(api.requests[1]?.path.split('?')[1]).get('limit'), '5')
  t.same(await client.listExecutions(entry, { pageSize: 5 }), { executions: [] }, 'no items at all')
})

t.test('cancelExecution: checks the run belongs to the job, then POSTs :cancel', async t => {
  const { api, client } = setup(t)
  api.answer(REGIONAL, { status: 200, body: execution('j-1') }, { status: 200, body: { ...execution('j-1'), status: { cancelledCount: 1 } } })
  const cancelled = await client.cancelExecution(entry, 'j-1')
  t.equal(cancelled.status?.cancelledCount, 1)
  t.same(api.requests.map(r => `${r.method} ${r.path}`), [`GET ${NAMESPACE}/executions/j-1`, `POST ${NAMESPACE}/executions/j-1:cancel`])
  t.equal(api.requests[1]?.body, '{}')

  const { api: api2, client: client2 } = setup(t)
  api2.answer(REGIONAL, { status: 200, body: execution('x-1', 'other-job') })
  const err = await apiFailure(t, client2.cancelExecution(entry, 'x-1'))
  t.equal(err.httpCode, 404)
  t.equal(api2.requests.length, 1, 'a run of another job is never cancelled')
})

t.test('cancelExecution: a lost answer is retried (cancelling twice is harmless)', async t => {
  const { api, client } = setup(t)
  api.answer(REGIONAL, { status: 200, body: execution('j-1') }, { error: new undiciErrors.SocketError('other side closed') }, { status: 200, body: execution('j-1') })
  await client.cancelExecution(entry, 'j-1')
  t.equal(api.requests.length, 3)
})

/** Runs one call against a fresh client whose upstream answers `answers`, and returns the ApiError. */
async function failureOf (
  t: Test,
  call: (client: CloudRunRestClient) => Promise<unknown>,
  ...answers: Answer[]
): Promise<{ err: ApiError, requests: number }> {
  const { api, client } = setup(t)
  if (answers.length === 1 && answers[0] !== undefined) api.always(REGIONAL, answers[0])
  else api.answer(REGIONAL, ...answers)
  const err = await apiFailure(t, call(client))
  return { err, requests: api.requests.length }
}

const runWithOverrides = async (client: CloudRunRestClient): Promise<unknown> => await client.runJob(entry, toRunJobRequest(entry, { args: ['x'] }))
const runPlain = async (client: CloudRunRestClient): Promise<unknown> => await client.runJob(entry, {})
const get = async (client: CloudRunRestClient): Promise<unknown> => await client.getExecution(entry, 'j-1')
const list = async (client: CloudRunRestClient): Promise<unknown> => await client.listExecutions(entry, { pageSize: 1 })

t.test('errors: 400 → INVALID_ARGUMENT with Cloud Run\'s words', async t => {
  const { err, requests } = await failureOf(t, runWithOverrides, { status: 400, body: googleError(400, 'INVALID_ARGUMENT', 'taskCount too large') })
  t.match(err, { status: 'INVALID_ARGUMENT', httpCode: 400, message: 'Cloud Run rejected the request: taskCount too large' })
  t.same(err.toBody(), { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'Cloud Run rejected the request: taskCount too large' } })
  t.equal(requests, 1)
})

t.test('errors: 400 FAILED_PRECONDITION keeps its status, in the operation\'s words or Cloud Run\'s', async t => {
  const { err } = await failureOf(t, runPlain, { status: 400, body: googleError(400, 'FAILED_PRECONDITION', 'job is being deleted') })
  t.same(err.toBody(), { error: { code: 400, status: 'FAILED_PRECONDITION', message: 'Cloud Run refused the request in its current state: job is being deleted' } })
})

t.test('errors: 401 → 502: jobgate\'s own credentials, and no run started', async t => {
  const { err } = await failureOf(t, runWithOverrides, { status: 401, body: googleError(401, 'UNAUTHENTICATED', 'bad token') })
  t.match(err, { status: 'UNAVAILABLE', httpCode: 502, runMayHaveStarted: false, message: /own credentials: bad token/ })
  const read = await failureOf(t, get, { status: 401, body: googleError(401, 'UNAUTHENTICATED', 'bad token') })
  t.equal(read.err.httpCode, 502)
  t.notOk('runMayHaveStarted' in read.err.toBody().error, 'a read says nothing about runs')
})

t.test('errors: 403 names the missing permission and the role that grants it', async t => {
  const denied = googleError(403, 'PERMISSION_DENIED', 'Permission denied on resource')
  const withOverrides = (await failureOf(t, runWithOverrides, { status: 403, body: denied })).err
  t.match(withOverrides, { status: 'PERMISSION_DENIED', httpCode: 403 })
  t.match(withOverrides.message, /lacks run\.jobs\.runWithOverrides on Cloud Run job "j" \(project "p", region "europe-west1"\): grant roles\/run\.jobsExecutorWithOverrides on that job/)
  t.match(withOverrides.message, /Cloud Run said: Permission denied on resource/)
  t.equal(withOverrides.runMayHaveStarted, undefined, 'a 403 started nothing: no flag needed')

  const plain = (await failureOf(t, runPlain, { status: 403, body: denied })).err
  t.match(plain.message, /lacks run\.jobs\.run on .*grant roles\/run\.jobsExecutor on/)
  t.notMatch(plain.message, /WithOverrides/)

  t.match((await failureOf(t, get, { status: 403, body: denied })).err.message, /lacks run\.executions\.get .*roles\/run\.viewer/)
  t.match((await failureOf(t, list, { status: 403, body: denied })).err.message, /lacks run\.executions\.list .*roles\/run\.viewer/)
  const cancel = await failureOf(t, async client => await client.cancelExecution(entry, 'j-1'), { status: 200, body: execution('j-1') }, { status: 403, body: denied })
  t.match(cancel.err.message, /lacks run\.executions\.cancel .*roles\/run\.jobsExecutorWithOverrides/)
})

t.test('errors: 404 → the job does not exist there, or the run is not found', async t => {
  const missing = googleError(404, 'NOT_FOUND', 'Resource \'j\' of kind \'JOB\' in region \'europe-west1\' in project \'p\' does not exist.')
  const run = (await failureOf(t, runWithOverrides, { status: 404, body: missing })).err
  t.match(run, { status: 'NOT_FOUND', httpCode: 404, message: 'Cloud Run job "j" does not exist in project "p", region "europe-west1".' })
  t.match((await failureOf(t, list, { status: 404, body: missing })).err.message, /job "j" does not exist/)
  t.match((await failureOf(t, get, { status: 404, body: missing })).err, { httpCode: 404, message: 'run "j-1" of job "echo" not found.' })
})

t.test('errors: 409 keeps ALREADY_EXISTS / ABORTED', async t => {
  t.match((await failureOf(t, runWithOverrides, { status: 409, body: googleError(409, 'ALREADY_EXISTS', 'exists') })).err, { status: 'ALREADY_EXISTS', httpCode: 409, message: 'Cloud Run reported a conflict: exists' })
  t.match((await failureOf(t, runWithOverrides, { status: 409, body: googleError(409, 'ABORTED', 'busy') })).err, { status: 'ABORTED', httpCode: 409 })
  t.match((await failureOf(t, runWithOverrides, { status: 409, body: 'conflict' })).err, { status: 'ABORTED', httpCode: 409 })
  t.match((await failureOf(t, runWithOverrides, { status: 409, body: googleError(409, 'FAILED_PRECONDITION', 'x') })).err, { status: 'ABORTED', httpCode: 409 })
})

t.test('errors: 429 → RESOURCE_EXHAUSTED with Retry-After kept', async t => {
  const limited = await failureOf(t, runWithOverrides, { status: 429, body: googleError(429, 'RESOURCE_EXHAUSTED', 'quota exceeded'), headers: { 'retry-after': '30' } })
  t.match(limited.err, { status: 'RESOURCE_EXHAUSTED', httpCode: 429, retryAfterSeconds: 30, message: 'Cloud Run is rate limiting jobgate: quota exceeded' })
  t.equal(limited.requests, 1, 'a long Retry-After is not waited out here')
  const noHeader = await failureOf(t, runWithOverrides, { status: 429, body: googleError(429, 'RESOURCE_EXHAUSTED', 'quota') })
  t.equal(noHeader.err.retryAfterSeconds, 10, 'a default Retry-After when Cloud Run gave none')
  t.equal(noHeader.requests, 3, 'retried twice first')
})

t.test('errors: 5xx → 502 UNAVAILABLE, saying whether a run may have started', async t => {
  const internal = await failureOf(t, runWithOverrides, { status: 500, body: googleError(500, 'INTERNAL', 'boom') })
  t.match(internal.err, { status: 'UNAVAILABLE', httpCode: 502, runMayHaveStarted: true })
  t.match(internal.err.message, /^Cloud Run failed \(HTTP 500\): boom\. It is unknown whether a run started: check GET \/v1\/jobs\/echo\/runs before retrying/)
  t.equal(internal.requests, 1, 'a 500 on run is never retried')
  t.same(internal.err.toBody().error.runMayHaveStarted, true)

  const unavailable = await failureOf(t, runWithOverrides, { status: 503, body: googleError(503, 'UNAVAILABLE', 'try again'), headers: { 'retry-after': '1' } })
  t.match(unavailable.err, { status: 'UNAVAILABLE', httpCode: 502, runMayHaveStarted: false, retryAfterSeconds: 1 })
  t.notMatch(unavailable.err.message, /unknown whether/)
  t.equal(unavailable.requests, 3, 'retried twice, then given up')

  const read = await failureOf(t, get, { status: 500, body: 'oops' })
  t.match(read.err, { httpCode: 502, runMayHaveStarted: undefined, message: 'Cloud Run failed (HTTP 500): answered HTTP 500 without a Google error body.' })
  t.equal(read.requests, 4, 'reads are retried three times')
})

t.test('errors: a run that timed out → 504, may have started, sent once', async t => {
  const { err, requests } = await failureOf(t, runWithOverrides, { error: new undiciErrors.HeadersTimeoutError() })
  t.match(err, { status: 'DEADLINE_EXCEEDED', httpCode: 504, runMayHaveStarted: true })
  t.match(err.message, /^Cloud Run did not answer in time\. It is unknown whether a run started/)
  t.same(err.toBody().error, { code: 504, status: 'DEADLINE_EXCEEDED', message: err.message, runMayHaveStarted: true })
  t.equal(requests, 1)
  const read = await failureOf(t, get, { error: new undiciErrors.BodyTimeoutError() })
  t.match(read.err, { httpCode: 504, message: 'Cloud Run did not answer in time.' })
  t.equal(read.requests, 4)
})

t.test('errors: a reset run → 502, may have started, sent once; refused → 502, not started, retried', async t => {
  const reset = await failureOf(t, runWithOverrides, { error: new undiciErrors.SocketError('other side closed') })
  t.match(reset.err, { status: 'UNAVAILABLE', httpCode: 502, runMayHaveStarted: true, message: /^Cloud Run could not be reached: the connection failed \(UND_ERR_SOCKET\)\. It is unknown whether/ })
  t.equal(reset.requests, 1)
  const refused = await failureOf(t, runWithOverrides, { error: transportError('ECONNREFUSED') })
  t.match(refused.err, { status: 'UNAVAILABLE', httpCode: 502, runMayHaveStarted: false, message: 'Cloud Run could not be reached: could not connect (ECONNREFUSED).' })
  t.equal(refused.requests, 3)
})

t.test('errors: a run answered with a body that is not JSON → 502, may have started', async t => {
  const { err, requests } = await failureOf(t, runWithOverrides, { status: 200, body: 'not json' })
  t.match(err, { httpCode: 502, runMayHaveStarted: true, message: /HTTP 200.*not JSON/ })
  t.equal(requests, 1)
  const errorPage = await failureOf(t, runWithOverrides, { status: 502, body: '<html>Bad Gateway</html>' })
  t.match(errorPage.err, { httpCode: 502, runMayHaveStarted: true, message: /HTTP 502/ })
})

t.test('apiErrorOf: ApiErrors pass through, a bug is not an API error, odd statuses are 502', async t => {
  const apiError = new ApiError('UNAVAILABLE', 'no token')
  t.equal(apiErrorOf(apiError), apiError)
  t.equal(apiErrorOf(new TypeError('a bug')), undefined)
  const odd = apiErrorOf(new UpstreamError('http', 'teapot', { httpStatus: 418, context: cloudRunContext({ op: 'get', entry }) }))
  t.match(odd, { httpCode: 502, message: 'Cloud Run failed (HTTP 418): teapot.' })
  const unknownStatus = apiErrorOf(new UpstreamError('http', 'x', { context: cloudRunContext({ op: 'list', entry }) }))
  t.match(unknownStatus?.message, /HTTP \?/)
})
