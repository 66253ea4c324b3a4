import t from 'tap'
import { call } from '../helpers/call.js'
import { build } from '../helper.js'

// The console's run follower, run in Node against the real API in local mode.
const { watchRun } = (await import(new URL('../../api/console/public/run-watch.js', import.meta.url).href)) as {
  watchRun: (
    job: string,
    run: string,
    handlers: { onRun: (run: any) => void, onLog: (entry: any) => void },
    signal: AbortSignal,
    lateReadsMs?: number[]
  ) => Promise<void>
}

/** An older jobgate, without the events route: what the watcher must still follow, by polling. */
const noEventsRoute = (path: string): Response => new Response(JSON.stringify({ error: { code: 404, status: 'NOT_FOUND', message: `no route GET ${path}` } }), { status: 404, headers: { 'content-type': 'application/json' } })

/** The browser resolves `/v1/...` against the page; Node needs the origin. Returns the paths asked for. */
function onOrigin (t: { teardown: (fn: () => void) => void }, origin: string, { withoutEvents = false } = {}): string[] {
  const original = globalThis.fetch
  const asked: string[] = []
  globalThis.fetch = async (input, init) => {
    if (typeof input !== 'string' || !input.startsWith('/')) return await original(input, init)
    asked.push(input)
    if (withoutEvents && input.endsWith('/events')) return noEventsRoute(input)
    return await original(`${origin}${input}`, init)
  }
  t.teardown(() => { globalThis.fetch = original })
  return asked
}

for (const withoutEvents of [false, true]) {
  t.test(`follows a run to its end and hands over each log line once, in order (${withoutEvents ? 'polling a server without the event stream' : 'this server'})`, async t => {
    const stack = await build(t, { env: { JOBGATE_MODE: 'local' }, listen: true })
    const asked = onOrigin(t, stack.url, { withoutEvents })
    const started = await call(`${stack.url}/v1/jobs/echo/runs`, { body: { args: ['hi'], env: { TENANT_ID: 'acme' }, taskCount: 2 } })
    const states: string[] = []
    const lines: any[] = []
    await watchRun('echo', started.body.name, { onRun: run => states.push(run.state), onLog: entry => lines.push(entry) }, new AbortController().signal, [0])
    t.equal(states.at(-1), 'SUCCEEDED', 'ends on the final state')
    // Each task echoes args, env and its context, then says done.
    t.equal(lines.length, 8, 'every line once')
    t.same(lines.map(line => line.timestamp), lines.map(line => line.timestamp).sort(), 'oldest first')
    t.same(lines.filter(line => line.message === 'env').map(line => line.payload.env.TENANT_ID), ['acme', 'acme'])
    t.same(new Set(lines.map(line => line.taskIndex)), new Set([0, 1]))
    t.equal(asked[0], `/v1/jobs/echo/runs/${started.body.name}/events`, 'the event stream is asked first')
    if (withoutEvents) t.ok(asked.some(path => path.includes('?wait=')) && asked.some(path => path.includes('/logs?')), 'then ?wait= and /logs')
  })
}

t.test('a run that does not exist is the API\'s 404, not a silent stop', async t => {
  const stack = await build(t, { env: { JOBGATE_MODE: 'local' }, listen: true })
  onOrigin(t, stack.url)
  const error = await watchRun('echo', 'echo-nope1', { onRun: () => {}, onLog: () => {} }, new AbortController().signal).catch((e: unknown) => e)
  t.match(error, { status: 404, code: 'NOT_FOUND' })
})

t.test('leaving the page stops following a running run', async t => {
  const stack = await build(t, { env: { JOBGATE_MODE: 'local' }, listen: true })
  onOrigin(t, stack.url)
  const started = await call(`${stack.url}/v1/jobs/echo/runs`, { body: { env: { ECHO_SLEEP_MS: '600000' } } })
  const leave = new AbortController()
  const states: string[] = []
  const watching = watchRun('echo', started.body.name, { onRun: run => { states.push(run.state); if (run.state === 'RUNNING') leave.abort() }, onLog: () => {} }, leave.signal)
  const outcome = await watching.then(() => 'returned', (error: Error) => error.name)
  t.ok(outcome === 'returned' || outcome === 'AbortError', `stopped (${outcome})`)
  t.equal(states.at(-1), 'RUNNING')
  await call(`${stack.url}/v1/jobs/echo/runs/${started.body.name}/cancel`, { method: 'POST' })
})

t.test('a stream that drops is resumed after the last log line (Last-Event-ID), without repeats', async t => {
  const original = globalThis.fetch
  t.teardown(() => { globalThis.fetch = original })
  const resumedFrom: Array<string | undefined> = []
  const event = (name: string, data: unknown, id?: string): string => `event: ${name}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`
  globalThis.fetch = async (_input, init) => {
    const cursor = (init?.headers as Record<string, string>)['last-event-id']
    resumedFrom.push(cursor)
    // The first connection breaks after one log line; the second carries on from it.
    const body = cursor === undefined
      ? event('run', { state: 'RUNNING' }) + event('log', { message: 'one' }, 'c1') + ': heartbeat\n\n'
      : event('log', { message: 'two' }, 'c2') + event('run', { state: 'SUCCEEDED' }) + event('end', { state: 'SUCCEEDED' })
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
  }
  const states: string[] = []
  const lines: string[] = []
  await watchRun('echo', 'echo-abcde', { onRun: run => states.push(run.state), onLog: entry => lines.push(entry.message) }, new AbortController().signal)
  t.same(resumedFrom, [undefined, 'c1'], 'reconnected once, from the last line seen')
  t.same(lines, ['one', 'two'])
  t.same(states, ['RUNNING', 'SUCCEEDED', 'SUCCEEDED'])
})
