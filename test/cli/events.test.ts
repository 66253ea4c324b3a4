/** `jobgate events` against local mode: run events as lines or CloudEvents, one job, resuming after a cursor and a dropped connection. */
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { build } from '../helper.js'
import { EventFollower } from '../lifecycle/helpers.js'
import { runCli } from './helpers.js'

t.setTimeout(120_000)

const stack = await build(t, {
  env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { env: { allow: ['ECHO_*'] } }, other: { env: { allow: ['ECHO_*'] } } } }) },
  listen: true
})
const watcher = await EventFollower.open(stack.url)
t.teardown(() => { watcher.close() })

async function runToEnd (job: string, env: Record<string, string> = {}): Promise<string> {
  const started = await runCli(['run', job, '--wait', '--json', ...Object.entries(env).flatMap(([name, value]) => ['--env', `${name}=${value}`])], stack.url)
  const { name } = JSON.parse(started.stdout) as { name: string }
  await watcher.waitFor(events => events.some(event => event.event === 'jobgate.run.finished' && event.data.subject.endsWith(`/${name}`)), `${name} finished`)
  return name
}

const first = await runToEnd('echo')
const failed = await runToEnd('echo', { ECHO_EXIT_CODE: '3' })
const elsewhere = await runToEnd('other')
const cursorOf = (run: string, type: string): string => {
  const id = watcher.events.find(event => event.event === type && event.data.subject.endsWith(`/${run}`))?.id
  if (id === undefined) throw new Error(`no ${type} event of ${run}`)
  return id
}

t.test('a line per event for people: time, what happened, job/run, state, tasks; --count stops with exit 0', async t => {
  const seen = await runCli(['events', '--after', cursorOf(first, 'jobgate.run.started'), '--count', '3'], stack.url)
  t.equal(seen.code, 0, seen.stderr)
  const lines = seen.stdout.trimEnd().split('\n')
  t.equal(lines.length, 3)
  t.match(lines[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  finished  echo/${first}  SUCCEEDED  tasks 1/1$`))
  t.match(lines[1], new RegExp(`  started   echo/${failed}  `))
  t.match(lines[2], new RegExp(`  finished  echo/${failed}  FAILED  tasks 0/1 \\(1 failed\\)$`))
  t.match(seen.stderr, 'Following run events (Ctrl-C to stop).')
})

t.test('--job keeps one job; --json prints one CloudEvent per line with its cursor', async t => {
  const seen = await runCli(['events', '--job', 'other', '--after', cursorOf(first, 'jobgate.run.started'), '--count', '2', '--json'], stack.url)
  t.equal(seen.code, 0, seen.stderr)
  const events = seen.stdout.trimEnd().split('\n').map(line => JSON.parse(line) as Record<string, unknown>)
  t.same(events.map(event => [event.type, event.subject]), [
    ['jobgate.run.started', `jobs/other/runs/${elsewhere}`], ['jobgate.run.finished', `jobs/other/runs/${elsewhere}`]
  ])
  t.match(events[1], { specversion: '1.0', source: String, data: { name: elsewhere, state: 'SUCCEEDED' } })
  t.equal(events[1]?.jobgatecursor, cursorOf(elsewhere, 'jobgate.run.finished'), 'the cursor --after takes')
  t.equal(seen.stderr, '', 'nothing for people with --json')
})

t.test('a dropped connection resumes after the last event printed: none twice, none missed', async t => {
  const lastEventIds: Array<string | undefined> = []
  const upstream = new URL(stack.url)
  const proxy = createServer((req, res) => {
    const first = lastEventIds.length === 0
    lastEventIds.push(req.headers['last-event-id'] as string | undefined)
    const target = { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }
    const forward = httpRequest(target, answer => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      // The first connection passes exactly one run event, whatever the chunks, then ends.
      let inEvent = false
      let cut = false
      answer.on('data', (chunk: Buffer) => {
        if (cut) return
        let text = String(chunk)
        if (first) {
          const at = inEvent ? 0 : text.indexOf('event: jobgate.run.')
          inEvent ||= at >= 0
          const end = inEvent ? text.indexOf('\n\n', at) : -1
          if (end >= 0) {
            text = text.slice(0, end + 2)
            cut = true
          }
        }
        res.write(text)
        if (cut) {
          res.end()
          answer.destroy()
        }
      })
      answer.on('end', () => { if (!cut) res.end() })
    })
    req.pipe(forward)
  })
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { proxy.closeAllConnections(); proxy.close() })
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  const start = cursorOf(first, 'jobgate.run.started')
  const seen = await runCli(['events', '--job', 'echo', '--after', start, '--count', '3', '--json'], url)
  t.equal(seen.code, 0, seen.stderr)
  const subjects = seen.stdout.trimEnd().split('\n').map(line => (JSON.parse(line) as { type: string, subject: string }))
  t.same(subjects.map(event => `${event.type} ${event.subject}`), [
    `jobgate.run.finished jobs/echo/runs/${first}`, `jobgate.run.started jobs/echo/runs/${failed}`, `jobgate.run.finished jobs/echo/runs/${failed}`
  ])
  t.same(lastEventIds, [start, cursorOf(first, 'jobgate.run.finished')], 'the second connection resumed after the event printed')
})

t.test('a bad cursor is the server\'s 400, not retried: exit 5', async t => {
  const seen = await runCli(['events', '--after', 'nonsense'], stack.url)
  t.equal(seen.code, 5)
  t.match(seen.stderr, 'Last-Event-ID: not a cursor from this stream')
})
