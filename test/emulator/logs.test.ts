import t from 'tap'
import { holds, parseFilter } from '../../emulator/filter.js'
import { LogStore, parseEntriesListRequest, type LogEntry } from '../../emulator/logs.js'
import { client, executionFilter, fetchToken, listAllEntries, runPath, startTestEmulator } from './helpers.js'

const source = { project: 'p', region: 'us-central1', job: 'echo-job', execution: 'echo-job-x7k2p', taskIndex: 0, taskAttempt: 0 }

t.test('the filter jobgate sends parses into its five comparisons', async t => {
  const filter = executionFilter('echo-job', 'us-central1', 'echo-job-x7k2p', new Date('2026-11-23T10:00:00.000Z'))
  t.equal(filter, 'resource.type="cloud_run_job" AND resource.labels.job_name="echo-job" AND resource.labels.location="us-central1" AND labels."run.googleapis.com/execution_name"="echo-job-x7k2p" AND timestamp>="2026-11-23T09:59:00Z"')
  t.same(parseFilter(filter), [
    { path: ['resource', 'type'], operator: '=', value: 'cloud_run_job' },
    { path: ['resource', 'labels', 'job_name'], operator: '=', value: 'echo-job' },
    { path: ['resource', 'labels', 'location'], operator: '=', value: 'us-central1' },
    { path: ['labels', 'run.googleapis.com/execution_name'], operator: '=', value: 'echo-job-x7k2p' },
    { path: ['timestamp'], operator: '>=', value: '2026-11-23T09:59:00Z' }
  ])
})

t.test('filter syntax: operators, bare values, escapes, implicit AND, empty', async t => {
  t.same(parseFilter(''), [])
  t.same(parseFilter('   '), [])
  t.same(parseFilter('severity>=WARNING\nlogName!="x"'), [
    { path: ['severity'], operator: '>=', value: 'WARNING' },
    { path: ['logName'], operator: '!=', value: 'x' }
  ])
  t.same(parseFilter('jsonPayload.message="say \\"hi\\""'), [{ path: ['jsonPayload', 'message'], operator: '=', value: 'say "hi"' }])
  t.same(parseFilter('timestamp<"2026-01-01T00:00:00Z" AND timestamp>2025-01-01 AND receiveTimestamp<="2030-01-01T00:00:00.123456Z"').map(c => c.operator), ['<', '>', '<='])
  t.same(parseFilter('labels.ANDROID="x" AND labels.ORBIT="y" AND labels.NOTE="z"').map(c => c.path[1]), ['ANDROID', 'ORBIT', 'NOTE'], 'names starting with AND/OR/NOT are names')
})

t.test('unsupported syntax is a 400 INVALID_ARGUMENT, never ignored', async t => {
  for (const [filter, message] of [
    ['severity=ERROR OR severity=INFO', /"OR" is not supported/],
    ['NOT severity=ERROR', /"NOT" is not supported/],
    ['-severity=ERROR', /"-" is not supported/],
    ['(severity=ERROR)', /"\(" is not supported/],
    ['textPayload:"foo"', /operator ":" is not supported/],
    ['textPayload=~"fo+"', /operator "=~" is not supported/],
    ['severity', /expected a comparison operator/],
    ['severity=', /expected a value/],
    ['severity="ERROR', /unterminated string/],
    ['"unterminated', /unterminated string/],
    ['=1', /expected a field name/],
    ['protoPayload.status="x"', /field "protoPayload.status" is not supported/],
    ['timestamp>="yesterday"', /timestamp needs an RFC 3339 time/],
    ['severity>=LOUD', /unknown severity "LOUD"/],
    ['severity=ERROR AND', /AND needs a term after it/],
    ['sample(insertId, 0.1)', /operator|not supported|field/]
  ] as const) {
    t.throws(() => parseFilter(filter), { status: 'INVALID_ARGUMENT', httpCode: 400, message }, filter)
  }
})

t.test('comparisons: strings, times as instants, severities by rank, numbers, missing fields', async t => {
  const entry = { severity: 'WARNING', timestamp: '2026-11-23T10:00:00.500Z', labels: { a: 'x' }, jsonPayload: { n: 10, nested: { b: 'y' } } }
  const check = (filter: string) => parseFilter(filter).every(c => holds(entry, c))
  t.ok(check('severity>=WARNING AND severity<error AND severity>INFO AND severity<=warning'))
  t.notOk(check('severity>=ERROR'))
  t.ok(check('timestamp>="2026-11-23T10:00:00Z" AND timestamp<"2026-11-23T10:31:00+00:30" AND timestamp>"2026-11-23T10:29:00+00:30"'), 'offsets are instants')
  t.notOk(check('timestamp>"2026-11-23T10:00:00.600Z"'))
  t.ok(check('jsonPayload.n>9 AND jsonPayload.n<=10 AND jsonPayload.n=10 AND jsonPayload.nested.b="y"'))
  t.notOk(check('jsonPayload.n>10'))
  t.ok(check('labels.a="x" AND labels.a!="z" AND labels.a<"y" AND labels.a>="x"'))
  t.ok(check('labels.missing!="x"'), '!= holds for a missing field')
  t.notOk(check('labels.missing="x"'))
  t.notOk(check('jsonPayload.nested="y"'), 'an object never equals a value')
  t.notOk(check('labels.a.deeper="x"'))
  t.ok(check('jsonPayload.n="10"'), 'a quoted number still compares as a number')
  t.notOk(check('jsonPayload.nested.b>"z"'))
})

t.test('lines become entries the way Cloud Run stores them', async t => {
  const store = new LogStore()
  t.equal(store.add(source, 'stdout', '   '), undefined, 'blank lines are dropped')
  const json = store.add(source, 'stdout', JSON.stringify({
    severity: 'warning',
    message: 'hello',
    time: '2026-11-23T10:00:00.250Z',
    'logging.googleapis.com/labels': { tenant: 'acme', n: 1 },
    'logging.googleapis.com/trace': 'projects/p/traces/abc',
    'logging.googleapis.com/spanId': '123',
    'logging.googleapis.com/insertId': 'my-id',
    extra: { deep: true }
  })) as LogEntry
  t.match(json, {
    severity: 'WARNING',
    timestamp: '2026-11-23T10:00:00.250Z',
    labels: { tenant: 'acme', 'run.googleapis.com/execution_name': 'echo-job-x7k2p', 'run.googleapis.com/task_index': '0', 'run.googleapis.com/task_attempt': '0' },
    trace: 'projects/p/traces/abc',
    spanId: '123',
    insertId: 'my-id',
    jsonPayload: { message: 'hello', extra: { deep: true } }
  })
  t.same(Object.keys(json.jsonPayload ?? {}).sort(), ['extra', 'message'])
  t.notOk('n' in json.labels, 'non-string labels are dropped')
  t.match(store.add(source, 'stdout', '{"timestamp":{"seconds":1700000000,"nanos":5000000},"message":"t"}'), { timestamp: '2023-11-14T22:13:20.005Z', jsonPayload: { message: 't' } })
  t.match(store.add(source, 'stdout', '{"timestamp":{"seconds":1700000000}}'), { timestamp: '2023-11-14T22:13:20.000Z' })
  t.match(store.add(source, 'stderr', '{"message":"no severity"}'), { severity: 'ERROR', jsonPayload: { message: 'no severity' } })
  t.match(store.add(source, 'stdout', '{"time":"not a time","message":"m"}'), { jsonPayload: { time: 'not a time' } })
  t.match(store.add(source, 'stdout', '{not json'), { textPayload: '{not json', severity: 'DEFAULT' })
  t.match(store.add(source, 'stdout', '[1,2]'), { textPayload: '[1,2]' })
  t.match(store.add(source, 'stdout', '{"severity":3}'), { severity: 'DEFAULT', jsonPayload: { severity: 3 } })
})

t.test('entries:list request validation', async t => {
  const idOf = (ns: string) => (ns === '42' ? 'p' : ns)
  t.match(parseEntriesListRequest({ resourceNames: ['projects/42'] }, idOf), { projects: ['p'], filter: '', descending: false, pageSize: 50 })
  t.match(parseEntriesListRequest({ projectIds: ['q'], orderBy: 'timestamp   DESC', pageSize: 5000, pageToken: 'x' }, idOf), { projects: ['q'], descending: true, pageSize: 1000, pageToken: 'x' })
  t.match(parseEntriesListRequest({ resourceNames: ['projects/p'], orderBy: 'timestamp', pageSize: -3 }, idOf), { descending: false, pageSize: 50 })
  for (const [body, message] of [
    [{}, /resource_names: Required/],
    [undefined, /resource_names: Required/],
    [{ resourceNames: [] }, /resource_names: Required/],
    [{ resourceNames: ['organizations/1'] }, /not supported/],
    [{ resourceNames: [7] }, /not supported/],
    [{ resourceNames: ['projects/p'], orderBy: 'severity asc' }, /order_by/],
    [{ resourceNames: ['projects/p'], pageSize: 'ten' }, /page_size/],
    [{ resourceNames: ['projects/p'], filter: 3 }, /filter/],
    [{ resourceNames: ['projects/p'], limit: 3 }, /Unknown name "limit"/]
  ] as const) {
    t.throws(() => parseEntriesListRequest(body, idOf), { status: 'INVALID_ARGUMENT', message }, JSON.stringify(body))
  }
})

t.test('entries:list over HTTP: projects, order, pages, tokens tied to their query', async t => {
  const emulator = await startTestEmulator(t, { projectId: 'p', projectNumber: '42', jobs: [{ project: 'p', name: 'echo-job', maxRetries: 0 }, { project: 'q', name: 'echo-job', maxRetries: 0 }] })
  const token = await fetchToken(emulator)
  const api = client(emulator, token)
  const p = (await api<{ metadata: { name: string } }>('POST', runPath('p', 'jobs/echo-job:run'), { overrides: { taskCount: 2 } })).body.metadata.name
  const q = (await api<{ metadata: { name: string } }>('POST', runPath('q', 'jobs/echo-job:run'), {})).body.metadata.name
  await emulator.waitForExecution(p)
  await emulator.waitForExecution(q)

  const all = await listAllEntries(api, 'p', '')
  t.equal(all.length, 8, '4 lines from each of 2 tasks')
  t.ok(all.every(entry => entry.resource.labels.project_id === 'p'), 'only the asked project')
  const byNumber = await api<{ entries: LogEntry[] }>('POST', '/v2/entries:list', { resourceNames: ['projects/42'], pageSize: 100 })
  t.equal(byNumber.body.entries.length, 8, 'the project number names the same project')
  const both = await api<{ entries: LogEntry[] }>('POST', '/v2/entries:list', { resourceNames: ['projects/p', 'projects/q'], pageSize: 100 })
  t.equal(both.body.entries.length, 12)

  const ascending = all.map(entry => Date.parse(entry.timestamp))
  t.same(ascending, [...ascending].sort((a, b) => a - b), 'timestamp asc')
  const descending = await api<{ entries: LogEntry[] }>('POST', '/v2/entries:list', { resourceNames: ['projects/p'], orderBy: 'timestamp desc', pageSize: 100 })
  t.same(descending.body.entries.map(entry => entry.insertId), all.map(entry => entry.insertId).reverse(), 'timestamp desc is the exact reverse')

  const paged = await listAllEntries(api, 'p', '', 3)
  t.same(paged.map(entry => entry.insertId), all.map(entry => entry.insertId), 'pages of 3 add up to the whole, in order')
  const first = await api<{ entries: LogEntry[], nextPageToken: string }>('POST', '/v2/entries:list', { resourceNames: ['projects/p'], pageSize: 3 })
  t.equal(first.body.entries.length, 3)
  const mismatch = await api('POST', '/v2/entries:list', { resourceNames: ['projects/p'], filter: 'severity>=INFO', pageSize: 3, pageToken: first.body.nextPageToken })
  t.match(mismatch, { status: 400, body: { error: { status: 'INVALID_ARGUMENT', message: /page_token/ } } })
  t.match(await api('POST', '/v2/entries:list', { resourceNames: ['projects/p'], pageToken: 'garbage' }), { status: 400 })
  t.match(await api('POST', '/v2/entries:list', { resourceNames: ['projects/p'], filter: 'severity=ERROR OR severity=INFO' }), { status: 400, body: { error: { message: /"OR" is not supported/ } } })
  t.match(await api('POST', '/v2/entries:list', 'nope'), { status: 400, body: { error: { message: /Invalid JSON payload/ } } })

  const none = await api('POST', '/v2/entries:list', { resourceNames: ['projects/p'], filter: `labels."run.googleapis.com/execution_name"="${q}"` })
  t.same(none, { status: 200, headers: none.headers, body: {} }, 'no entries: an empty object, as Google sends it')
  const taskOne = await listAllEntries(api, 'p', 'labels."run.googleapis.com/task_index"="1" AND jsonPayload.message="task"')
  t.match(taskOne, [{ jsonPayload: { taskIndex: 1 } }])
})
