import t from 'tap'
import { hashApiKey } from '../../api/auth/index.js'
import { localStack, readEvents, startRun, type LocalStack, type SseEvent } from './helpers.js'

let stack: LocalStack
t.before(async () => { stack = await localStack(t, { JOBGATE_MAX_WAITS: '1000' }) })

const events = (run: string, headers: Record<string, string> = {}, query = ''): Promise<Response> =>
  fetch(`${stack.url}/v1/jobs/echo/runs/${run}/events${query}`, { headers })
const logs = (list: SseEvent[]): SseEvent[] => list.filter(event => event.event === 'log')

t.test('a finished run: run, each log entry once with a cursor, end; then the stream closes', async t => {
  const run = await startRun(stack, 0)
  await stack.emulator.waitForExecution(run)
  const response = await events(run)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/event-stream/)
  t.equal(response.headers.get('cache-control'), 'no-cache, no-transform')
  t.ok(response.headers.get('x-request-id'), 'a request id, like every answer')
  const { events: all } = await readEvents(response)
  t.equal(all[0]?.event, 'run')
  t.match(all[0]?.data, { name: run, job: 'echo', state: 'SUCCEEDED', links: { self: `/v1/jobs/echo/runs/${run}` } })
  t.equal(all.at(-1)?.event, 'end')
  t.match(all.at(-1)?.data, { name: run, state: 'SUCCEEDED' })
  const lines = logs(all)
  const page = await (await fetch(`${stack.url}/v1/jobs/echo/runs/${run}/logs?pageSize=1000`)).json() as { entries: unknown[] }
  t.same(lines.map(line => line.data), page.entries, 'the same entries, in the same order, as GET …/logs')
  t.same(lines.map(line => line.id?.split('.')[0]), lines.map((_, i) => String(i + 1)), 'cursors count up from 1')
  t.equal(new Set(lines.map(line => line.data.insertId)).size, lines.length, 'no entry twice')

  // Resuming after the second entry gives the rest, without repeats.
  const resumed = await readEvents(await events(run, { 'last-event-id': lines[1]?.id ?? '' }))
  t.same(logs(resumed.events).map(line => line.id), lines.slice(2).map(line => line.id))
  t.equal(resumed.events.at(-1)?.event, 'end')
})

t.test('a live run, cut in the middle and resumed with Last-Event-ID: every line once', async t => {
  const run = await startRun(stack, 1500)
  const cut = new AbortController()
  const first: SseEvent[] = []
  const response = await fetch(`${stack.url}/v1/jobs/echo/runs/${run}/events`, { signal: cut.signal })
  await readEvents(response, event => { first.push(event); if (event.event === 'log') cut.abort() }).catch(() => {})
  const seen = logs(first)
  t.ok(seen.length >= 1, `cut after the first chunk of log events (${seen.length})`)
  t.equal(first[0]?.data.state === 'PENDING' || first[0]?.data.state === 'RUNNING', true, 'the run was not over yet')
  const rest = await readEvents(await events(run, { 'last-event-id': seen.at(-1)?.id ?? '' }))
  const all = [...seen, ...logs(rest.events)]
  const messages = all.map(line => line.data.message)
  t.equal(new Set(all.map(line => line.data.insertId)).size, all.length, 'none repeated')
  for (const expected of ['args', 'env', 'sleeping']) t.ok(messages.includes(expected), `"${expected}" arrived`)
  t.same(rest.events.filter(event => event.event === 'run').at(0)?.event, 'run', 'a resumed stream starts with the run as it is')
  t.match(rest.events.at(-1), { event: 'end', data: { state: 'SUCCEEDED' } })
  const page = await (await fetch(`${stack.url}/v1/jobs/echo/runs/${run}/logs?pageSize=1000`)).json() as { entries: Array<{ insertId: string }> }
  t.same(all.map(line => line.data.insertId), page.entries.map(entry => entry.insertId), 'no line lost')
})

t.test('?logs=false: run events and the end only, and no Cloud Logging read', async t => {
  const run = await startRun(stack, 300)
  const before = stack.emulator.requests.filter(request => request.path.endsWith('entries:list')).length
  const { events: all } = await readEvents(await events(run, {}, '?logs=false'))
  t.same(all.map(event => event.event).filter(name => name !== 'run'), ['end'])
  t.equal(all.at(-1)?.data.state, 'SUCCEEDED')
  t.equal(stack.emulator.requests.filter(request => request.path.endsWith('entries:list')).length, before)
})

t.test('bad input gets the contract\'s errors before any event', async t => {
  const run = await startRun(stack, 0)
  for (const [headers, query, code] of [
    [{ 'last-event-id': 'not-a-cursor' }, '', 400],
    [{}, '?logs=maybe', 400],
    [{}, '?tail=1', 400]
  ] as const) {
    const response = await events(run, headers, query)
    t.equal(response.status, code)
    t.match(response.headers.get('content-type'), /^application\/json/)
    t.match(await response.json(), { error: { code, status: 'INVALID_ARGUMENT', message: String } })
  }
  const missing = await events('echo-zzzzz')
  t.equal(missing.status, 404)
  t.match(await missing.json(), { error: { code: 404, status: 'NOT_FOUND' } })
  const unknownJob = await fetch(`${stack.url}/v1/jobs/nope/runs/${run}/events`)
  t.equal(unknownJob.status, 404)
})

t.test('each open stream holds one of the caller\'s held-request slots (JOBGATE_MAX_WAITS)', async t => {
  const limited = await localStack(t, { JOBGATE_MAX_WAITS: '2' })
  const start = await fetch(`${limited.url}/v1/jobs/echo/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ env: { ECHO_SLEEP_MS: '60000' } }) })
  const { name } = await start.json() as { name: string }
  t.teardown(async () => { await fetch(`${limited.url}/v1/jobs/echo/runs/${name}/cancel`, { method: 'POST' }) })
  const open = async (): Promise<{ response: Response, leave: AbortController }> => {
    const leave = new AbortController()
    return { response: await fetch(`${limited.url}/v1/jobs/echo/runs/${name}/events`, { signal: leave.signal }), leave }
  }
  const first = await open()
  const second = await open()
  const third = await open()
  t.same([first.response.status, second.response.status, third.response.status], [200, 200, 429])
  t.match(await third.response.json(), { error: { status: 'RESOURCE_EXHAUSTED' } })
  first.leave.abort()
  let again = await open()
  for (const deadline = Date.now() + 30_000; again.response.status === 429 && Date.now() < deadline;) {
    await new Promise(resolve => setTimeout(resolve, 20))
    again = await open()
  }
  t.equal(again.response.status, 200, 'a closed stream gives its slot back')
  second.leave.abort()
  again.leave.abort()
})

t.test('the stream is in the OpenAPI document, as text/event-stream', async t => {
  const doc = await (await fetch(`${stack.url}/openapi.json`)).json() as { paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, unknown> }> } }> }
  const route = doc.paths['/v1/jobs/{job}/runs/{run}/events']?.get
  t.ok(route, 'documented')
  t.ok(route?.responses['200']?.content?.['text/event-stream'], '200 is an event stream')
  t.ok(route?.responses['400'] && route.responses['404'], 'and its errors')
})

t.test('the same authentication as every route', async t => {
  const secured = await localStack(t, { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: JSON.stringify({ keys: [{ sha256: hashApiKey('jg_live_key_for_tests_0000000000'), principal: 'ci' }] }), JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { principals: ['ci'] } } }) })
  const start = await fetch(`${secured.url}/v1/jobs/echo/runs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'jg_live_key_for_tests_0000000000' }, body: '{}' })
  const { name } = await start.json() as { name: string }
  const anonymous = await fetch(`${secured.url}/v1/jobs/echo/runs/${name}/events`)
  t.equal(anonymous.status, 401)
  t.match(await anonymous.json(), { error: { status: 'UNAUTHENTICATED' } })
  const withKey = await fetch(`${secured.url}/v1/jobs/echo/runs/${name}/events?logs=false`, { headers: { 'x-api-key': 'jg_live_key_for_tests_0000000000' } })
  t.equal(withKey.status, 200)
  t.equal((await readEvents(withKey)).events.at(-1)?.event, 'end')
})
