import t from 'tap'
import { call } from '../helpers/call.js'
import { build } from '../helper.js'

// The console's run follower, run in Node against the real API in local mode.
const { watchRun } = await import(new URL('../../api/console/public/run-watch.js', import.meta.url).href) as {
  watchRun: (job: string, run: string, handlers: { onRun: (run: any) => void, onLog: (entry: any) => void }, signal: AbortSignal, lateReadsMs?: number[]) => Promise<void>
}

/** The browser resolves `/v1/...` against the page; Node needs the origin. */
function onOrigin (t: { teardown: (fn: () => void) => void }, origin: string): void {
  const original = globalThis.fetch
  globalThis.fetch = async (input, init) => await original(typeof input === 'string' && input.startsWith('/') ? `${origin}${input}` : input, init)
  t.teardown(() => { globalThis.fetch = original })
}

t.test('follows a run to its end and hands over each log line once, in order', async t => {
  const stack = await build(t, { env: { JOBGATE_MODE: 'local' }, listen: true })
  onOrigin(t, stack.url)
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
})

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
