import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { call } from '../helpers/call.js'
import { localStack, type LocalStack } from '../live/helpers.js'
import { quickRetries, runCli } from './helpers.js'

interface Seen { method: string, url: string, headers: IncomingHttpHeaders }

/**
 * A proxy in front of jobgate that records every request and, while `cutNext` is set, cuts the
 * next event stream right after it has passed on the first log event: a dropped connection mid-run.
 */
async function startCuttingProxy (t: Test, target: string): Promise<{ url: string, seen: Seen[], cutNext: () => void }> {
  const seen: Seen[] = []
  let cut = false
  const upstream = new URL(target)
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    const cutThis = cut && (req.url ?? '').includes('/events')
    if (cutThis) cut = false
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      answer => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        let cutting = false
        answer.on('data', (chunk: Buffer) => {
          if (cutting) return
          res.write(chunk)
          // Let what was written reach the client, then drop both connections.
          if (cutThis && String(chunk).includes('event: log')) {
            cutting = true
            setTimeout(() => {
              answer.destroy()
              res.destroy()
            }, 100)
          }
        })
        answer.on('end', () => res.end())
      }
    )
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, cutNext: () => { cut = true } }
}

let stack: LocalStack
t.before(async () => { stack = await localStack(t) })

const entriesOf = async (run: string): Promise<Array<{ message: string, taskIndex?: number }>> =>
  (await call(`${stack.url}/v1/jobs/echo/runs/${run}/logs?pageSize=1000`)).body.entries

t.test('run --wait --logs: one event stream, every line once, nothing polled', async t => {
  const proxy = await startCuttingProxy(t, stack.url)
  const result = await runCli(['run', 'echo', '--tasks', '2', '--env', 'ECHO_SLEEP_MS=300', '--wait', '--logs'], proxy.url)
  t.equal(result.code, 0, result.stderr)
  const run = /Started run (\S+) /.exec(result.stderr)?.[1] ?? ''
  const entries = await entriesOf(run)
  const lines = result.stdout.trim().split('\n')
  t.equal(lines.length, entries.length, `${entries.length} lines, each once`)
  t.equal(lines.filter(line => / INFO done$/.test(line)).length, 2, 'both tasks\' last line')
  const fromCli = proxy.seen.filter(request => !request.url.startsWith('/v1/jobs/echo/runs?') && request.method === 'GET')
  t.same(fromCli.map(request => request.url.replace(run, 'RUN')), ['/v1/jobs/echo/runs/RUN/events'], 'one connection: no ?wait polls, no logs reads')
})

t.test('a stream cut in the middle of the run: the CLI resumes with Last-Event-ID, no line lost, none repeated', async t => {
  const proxy = await startCuttingProxy(t, stack.url)
  proxy.cutNext()
  const result = await runCli(['run', 'echo', '--tasks', '2', '--env', 'ECHO_SLEEP_MS=1500', '--wait', '--logs'], proxy.url, { retryPolicy: quickRetries })
  t.equal(result.code, 0, result.stderr)
  t.match(result.stderr, /event stream: .*reconnecting/, 'says it reconnects')
  const run = /Started run (\S+) /.exec(result.stderr)?.[1] ?? ''
  const streams = proxy.seen.filter(request => request.url.includes('/events'))
  t.equal(streams.length, 2, 'cut once, resumed once')
  t.equal(streams[0]?.headers['last-event-id'], undefined)
  t.match(streams[1]?.headers['last-event-id'], /^\d+(\.[\w-]+)?$/, 'the resume names the last log event printed')
  const lines = result.stdout.trim().split('\n')
  const entries = await entriesOf(run)
  t.equal(lines.length, entries.length, `${lines.length} lines printed, ${entries.length} in the log`)
  for (const entry of entries) {
    const printed = lines.filter(line => line.startsWith(`[task ${entry.taskIndex ?? ''}] `) && line.includes(` ${entry.message}`))
    t.ok(printed.length >= 1, `printed: task ${entry.taskIndex ?? '?'} ${entry.message}`)
  }
  t.equal(lines.filter(line => / INFO done$/.test(line)).length, 2, '"done" of each task, once')
  t.equal(lines.filter(line => / INFO sleeping/.test(line)).length, 2, '"sleeping" of each task, once')
})

t.test('status --wait (no --logs) asks for run events only; logs --follow streams the lines', async t => {
  const proxy = await startCuttingProxy(t, stack.url)
  const started = await call(`${stack.url}/v1/jobs/echo/runs`, { body: { env: { ECHO_SLEEP_MS: '200' } } })
  const run = started.body.name as string
  const status = await runCli(['status', 'echo', run, '--wait'], proxy.url)
  t.equal(status.code, 0, status.stderr)
  t.ok(proxy.seen.some(request => request.url === `/v1/jobs/echo/runs/${run}/events?logs=false`))
  const follow = await runCli(['logs', 'echo', run, '--follow'], proxy.url)
  t.equal(follow.code, 0, follow.stderr)
  t.equal(follow.stdout.trim().split('\n').length, (await entriesOf(run)).length)
  t.notOk(proxy.seen.some(request => request.url.includes('/logs')), 'no logs route polling')
})
