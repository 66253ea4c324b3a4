import t from 'tap'

// The console's browser modules are plain JavaScript: their pure parts are checked here, in Node.
const load = async (name: string): Promise<any> => await import(new URL(`../../api/console/public/${name}`, import.meta.url).href)
const { readRunForm, fieldOf } = await load('form.js')
const { sseParser, readEvents } = await load('sse.js')
const { describePayload, duration, when } = await load('format.js')
const { ApiProblem, authHeaders, newIdempotencyKey, problemOf, retryAfterSeconds, send, signIn, signOut } = await load('api.js')

const LIMITS = { maxTaskCount: 10, maxTimeoutSeconds: 600, args: { allow: true, maxItems: 2 }, env: { allow: ['DATE', 'REPORT_*'], tenantKey: 'TENANT_ID' } }
const form = (values: Record<string, string>): any => readRunForm({ args: '', env: '', taskCount: '', timeoutSeconds: '', ...values }, LIMITS)

t.test('the start form becomes a run request, blank lines skipped, values kept as typed', async t => {
  t.same(form({}), { request: {}, errors: {} }, 'an empty form asks for no overrides')
  t.same(form({ args: 'a b\n\n  \nc=d\n', env: 'TENANT_ID=acme\nREPORT_X= spaced = value\n', taskCount: '3', timeoutSeconds: '60' }), {
    request: { args: ['a b', 'c=d'], env: { TENANT_ID: 'acme', REPORT_X: ' spaced = value' }, taskCount: 3, timeoutSeconds: 60 },
    errors: {}
  })
})

t.test('the start form is checked against the job\'s limits, each message led by its field path', async t => {
  t.same(form({ args: 'a\nb\nc' }).errors, { args: 'args: 3 lines; this job accepts at most 2' })
  t.same(readRunForm({ args: 'a', env: '', taskCount: '', timeoutSeconds: '' }, { ...LIMITS, args: { allow: false, maxItems: 0 } }).errors, { args: 'args: this job does not accept args' })
  t.same(form({ env: 'DATE' }).errors, { env: 'env: line 1: write NAME=value' })
  t.same(form({ env: '1X=y' }).errors, { env: 'env.1X: not a valid variable name' })
  t.same(form({ env: 'DATE=1\nDATE=2' }).errors, { env: 'env.DATE: given twice' })
  t.same(form({ env: 'HOME=/' }).errors, { env: 'env.HOME: not allowed for this job (allowed: DATE, REPORT_*)' })
  t.same(readRunForm({ args: '', env: 'X=1', taskCount: '', timeoutSeconds: '' }, { ...LIMITS, env: { allow: [] } }).errors, { env: 'env.X: not allowed for this job (allowed: none)' })
  t.same(form({ taskCount: '11', timeoutSeconds: '0' }).errors, { taskCount: 'taskCount: 11 is over this job\'s limit of 10', timeoutSeconds: 'timeoutSeconds: must be a whole number of at least 1' })
  t.same(form({ taskCount: '1.5' }).errors, { taskCount: 'taskCount: must be a whole number of at least 1' })
})

t.test('an API message is routed to the field its path names', async t => {
  t.equal(fieldOf('env.LD_PRELOAD: protected; it cannot be overridden'), 'env')
  t.equal(fieldOf('args[2]: contains a NUL character'), 'args')
  t.equal(fieldOf('clearArgs: cannot be combined with non-empty args'), 'args')
  t.equal(fieldOf('taskCount: must be >= 1'), 'taskCount')
  t.equal(fieldOf('timeoutSeconds: 9 exceeds'), 'timeoutSeconds')
  t.equal(fieldOf('body: not valid JSON'), undefined)
  t.equal(fieldOf('job "x" is tenant-scoped and ci is bound to no tenant'), undefined)
})

t.test('the SSE parser follows the event-stream format across arbitrary chunk boundaries', async t => {
  const stream = ': heartbeat\n\nevent: run\ndata: {"state":"RUNNING"}\n\nevent: log\r\nid: c1\r\ndata: {"message":\r\ndata: "args"}\r\n\r\ndata:plain\nretry: 5\nunknown\n\nevent: end\ndata: {}\n\n'
  const expected = [
    { event: 'run', data: '{"state":"RUNNING"}', id: '' },
    { event: 'log', data: '{"message":\n"args"}', id: 'c1' },
    { event: 'message', data: 'plain', id: 'c1' },
    { event: 'end', data: '{}', id: 'c1' }
  ]
  for (const size of [1, 2, 3, 7, stream.length]) {
    const events: unknown[] = []
    const push = sseParser((event: unknown) => events.push(event))
    for (let i = 0; i < stream.length; i += size) push(stream.slice(i, i + size))
    t.same(events, expected, `chunks of ${size}`)
  }
  const events: unknown[] = []
  await readEvents(new Response('event: end\ndata: {"a":1}\n\n'), (event: unknown) => events.push(event))
  t.same(events, [{ event: 'end', data: '{"a":1}', id: '' }], 'from a fetch() Response body')
})

t.test('times, durations and log payloads read as a person expects', async t => {
  t.equal(when(undefined), '—')
  t.match(when('2026-11-29T09:40:12Z'), /^2026-11-\d\d \d\d:\d\d:12$/)
  t.equal(duration({}), '—')
  t.equal(duration({ startTime: '2026-11-29T09:00:00Z', completionTime: '2026-11-29T09:00:42Z' }), '42 s')
  t.equal(duration({ createTime: '2026-11-29T09:00:00Z', completionTime: '2026-11-29T09:03:05Z' }), '3 min 5 s')
  t.equal(duration({ startTime: '2026-11-29T09:00:00Z' }, Date.parse('2026-11-29T11:01:00Z')), '2 h 1 min', 'a running run: so far')
  t.equal(describePayload({ env: { TENANT_ID: 'acme', A: 'b c' } }), 'TENANT_ID=acme A=b c')
  t.equal(describePayload({ args: ['x'], taskIndex: 0, job: 'echo' }), 'args=["x"] taskIndex=0 job=echo')
  t.equal(describePayload(undefined), '')
})

t.test('API calls carry the pasted credential and turn every failure into one problem type', async t => {
  const store = new Map<string, string>()
  const globals = globalThis as any
  globals.sessionStorage = {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => store.set(k, v),
    removeItem: (k: string) => store.delete(k),
    clear: () => { store.clear() }
  }
  t.teardown(() => { delete globals.sessionStorage })
  t.same(authHeaders(), {}, 'signed out: no credential')
  signIn('apikey', 'k1')
  t.same(authHeaders(), { 'x-api-key': 'k1' })
  signIn('idtoken', 'eyJ')
  t.same(authHeaders(), { authorization: 'Bearer eyJ' })
  store.set('jobgate.credential', '{broken')
  t.same(authHeaders(), {}, 'a damaged entry counts as signed out')
  store.set('jobgate.sent.echo.echo-abcde', '{"env":{"API_TOKEN":"typed secret"}}')
  signOut()
  t.equal(store.size, 0, 'signing out forgets the credential and what the tab sent')

  t.equal(retryAfterSeconds('7'), 7)
  t.equal(retryAfterSeconds(new Date(Date.parse('2026-01-01T00:00:30Z')).toUTCString(), Date.parse('2026-01-01T00:00:00Z')), 30)
  t.equal(retryAfterSeconds('soon'), undefined)
  t.equal(retryAfterSeconds(null), undefined)
  const limited = await problemOf(new Response('{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"rate limit"}}', { status: 429, headers: { 'retry-after': '12' } }))
  t.match(limited, { status: 429, code: 'RESOURCE_EXHAUSTED', message: 'rate limit', retryAfterSeconds: 12 })
  t.match(await problemOf(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' })), { status: 502, code: 'HTTP 502', message: 'Bad Gateway' })
  const down = await send('http://127.0.0.1:1/v1/jobs').catch((error: unknown) => error)
  t.ok(down instanceof ApiProblem)
  t.match(down, { status: 0, code: 'NETWORK' })
  const aborted = await send('http://127.0.0.1:1/v1/jobs', { signal: AbortSignal.abort() }).catch((error: Error) => error)
  t.equal(aborted.name, 'AbortError', 'leaving the page is not a network failure')
  const keys = new Set(Array.from({ length: 100 }, () => newIdempotencyKey()))
  t.equal(keys.size, 100)
  for (const key of keys) t.match(key, /^[0-9a-f]{32}$/)
})
