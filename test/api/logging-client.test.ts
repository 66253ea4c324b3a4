import t, { type Test } from 'tap'
import { ApiError, apiErrorOf } from '../../api/errors.js'
import { GoogleHttp } from '../../api/google/http.js'
import { CloudLoggingClient, runLogFilter, toRunLogEntry } from '../../api/logging/client.js'
import { testEntry } from '../helpers/catalog-entry.js'
import { FakeTokenSource } from '../helpers/fake-token-source.js'
import { googleError, MockGoogleApi } from '../helpers/mock-google-api.js'

const LOGGING = 'https://logging.googleapis.com'
const entry = testEntry({ job: 'echo-job' }, 'echo')
const run = { name: 'echo-job-x7k2p', createTime: '2026-11-23T10:00:00Z' }

function setup (t: Test): { api: MockGoogleApi, client: CloudLoggingClient } {
  const api = new MockGoogleApi()
  const http = new GoogleHttp({ tokens: new FakeTokenSource('tok-log'), dispatcher: api.dispatcher, sleep: async () => {} })
  t.teardown(async () => { await http.close(); await api.close() })
  return { api, client: new CloudLoggingClient(http, LOGGING) }
}

t.test('entries:list: the project, the exact filter, oldest first, paging passed through', async t => {
  const { api, client } = setup(t)
  api.answer(LOGGING, { status: 200, body: { entries: [], nextPageToken: 'next-1' } })
  const page = await client.runEntries(entry, run, { pageSize: 5000, pageToken: 'tok-0' })
  t.same(page, { entries: [], nextPageToken: 'next-1' })
  const request = api.requests[0]
  t.equal(request?.method, 'POST')
  t.equal(request?.path, '/v2/entries:list')
  t.equal(request?.headers.authorization, 'Bearer tok-log')
  t.same(api.bodyOf(0), {
    resourceNames: ['projects/p'],
    filter: 'resource.type="cloud_run_job" AND resource.labels.job_name="echo-job" AND resource.labels.location="europe-west1" AND ' +
      'labels."run.googleapis.com/execution_name"="echo-job-x7k2p" AND timestamp>="2026-11-23T09:59:00.000Z"',
    orderBy: 'timestamp asc',
    pageSize: 1000,
    pageToken: 'tok-0'
  }, 'pageSize is capped at 1000; the lower bound is the run\'s creation minus a minute')
})

t.test('since narrows the window, but never before the run\'s own', async t => {
  t.match(runLogFilter(entry, run.name, run.createTime, '2026-11-23T10:05:30.123456789Z'), /timestamp>="2026-11-23T10:05:30\.123Z"$/)
  t.match(runLogFilter(entry, run.name, run.createTime, '2020-01-01T00:00:00Z'), /timestamp>="2026-11-23T09:59:00\.000Z"$/, 'an earlier since cannot widen it')
  t.match(runLogFilter(entry, run.name, undefined), /timestamp>="\d{4}-/, 'no creation time: still an explicit bound')
  t.match(runLogFilter({ ...entry, job: 'a"b\\c' }, 'r', run.createTime), /job_name="a\\"b\\\\c"/, 'values are quoted Cloud Logging\'s way')
})

t.test('log entries in the contract\'s shape', async t => {
  t.same(toRunLogEntry({
    insertId: 'i1',
    timestamp: '2026-11-23T10:00:01Z',
    severity: 'INFO',
    labels: { 'run.googleapis.com/task_index': '2' },
    jsonPayload: { message: 'env', env: { TENANT_ID: 'acme' } }
  }), { timestamp: '2026-11-23T10:00:01Z', severity: 'INFO', taskIndex: 2, message: 'env', payload: { env: { TENANT_ID: 'acme' } }, insertId: 'i1' })
  t.same(toRunLogEntry({ timestamp: 't', textPayload: 'plain line' }), { timestamp: 't', severity: 'DEFAULT', message: 'plain line' })
  t.same(toRunLogEntry({ jsonPayload: { message: { nested: true } } }), { timestamp: '', severity: 'DEFAULT', message: '{"nested":true}' })
  t.notOk('taskIndex' in toRunLogEntry({ labels: { 'run.googleapis.com/task_index': 'x' } }), 'a task index that is not a number is left out')
})

t.test('a 403 names roles/logging.viewer; other failures keep the contract\'s statuses', async t => {
  const { api, client } = setup(t)
  api.answer(LOGGING, { status: 403, body: googleError(403, 'PERMISSION_DENIED', 'denied') })
  const denied = apiErrorOf(await client.runEntries(entry, run, { pageSize: 10 }).then(() => undefined, (e: unknown) => e))
  t.type(denied, ApiError)
  t.match(denied, { status: 'PERMISSION_DENIED', message: /roles\/logging\.viewer/ })
  api.answer(LOGGING, { status: 429, body: googleError(429, 'RESOURCE_EXHAUSTED', 'quota'), headers: { 'retry-after': '30' } })
  t.match(apiErrorOf(await client.runEntries(entry, run, { pageSize: 10 }).then(() => undefined, (e: unknown) => e)), { status: 'RESOURCE_EXHAUSTED', retryAfterSeconds: 30 })
})
