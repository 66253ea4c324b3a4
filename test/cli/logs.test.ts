import t from 'tap'
import { ApiClient } from '../../cli/api-client.js'
import { entryKey, formatLogEntry, LogFollower } from '../../cli/logs.js'
import type { LogEntry } from '../../cli/types.js'
import { startFakeApi, type FakeApi } from './fake-api.js'
import { runCli } from './helpers.js'

let api: FakeApi
t.before(async () => { api = await startFakeApi({ logPageSize: 2 }) })
t.teardown(() => api.close())

const client = (): ApiClient => new ApiClient({ baseUrl: new URL(api.url), credentials: { kind: 'none', headers: async () => ({}) }, userAgent: 'test' })
/** An entry as a partial or older server may send it: the CLI reads the wire defensively. */
const wire = (entry: Record<string, unknown>): LogEntry => entry as unknown as LogEntry
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

t.test('entry format: task, severity, message, then the payload fields that say something new', async t => {
  t.equal(formatLogEntry(wire({ taskIndex: 0, severity: 'INFO', message: 'env', payload: { message: 'env', severity: 'INFO', env: { A: '1' }, 'logging.googleapis.com/trace': 'x' } })), '[task 0] INFO env env={"A":"1"}')
  t.equal(formatLogEntry(wire({ taskIndex: null, message: 'container started' })), '[run] DEFAULT container started')
  t.equal(formatLogEntry(wire({ taskIndex: 2, severity: 'WARNING', message: '', payload: { rows: 3, table: 'users' } })), '[task 2] WARNING rows=3 table=users')
  const long = formatLogEntry(wire({ taskIndex: 0, severity: 'INFO', message: 'big', payload: { blob: 'x'.repeat(5000) } }))
  t.ok(long.length < 2100 && long.endsWith('…'), 'huge payloads are cut')
})

t.test('--timestamps: each line starts with its time in UTC (nanoseconds and offsets read, an odd one kept as sent)', async t => {
  const entry = { taskIndex: 1, severity: 'INFO', message: 'done' }
  t.equal(formatLogEntry(wire({ ...entry, timestamp: '2026-11-23T10:00:01.123456789Z' }), { timestamps: true }), '2026-11-23T10:00:01.123Z [task 1] INFO done')
  t.equal(formatLogEntry(wire({ ...entry, timestamp: '2026-11-23T12:00:01+02:00' }), { timestamps: true }), '2026-11-23T10:00:01.000Z [task 1] INFO done')
  t.equal(formatLogEntry(wire({ ...entry, timestamp: 'soon' }), { timestamps: true }), 'soon [task 1] INFO done')
  const started = await runCli(['run', 'echo', '--wait', '--logs', '--timestamps'], api.url)
  t.equal(started.code, 0)
  const lines = started.stdout.trimEnd().split('\n')
  t.ok(lines.length >= 3)
  for (const line of lines) t.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[task 0\] INFO /)
  const name = /Started run (\S+) /.exec(started.stderr)?.[1] ?? ''
  const again = await runCli(['logs', 'echo', name, '--timestamps'], api.url)
  t.same(again.stdout, started.stdout, 'logs --timestamps prints the same lines')
  t.notMatch((await runCli(['logs', 'echo', name], api.url)).stdout, /^\d{4}-/m, 'without the flag, no times')
})

t.test('entry identity: insertId when present, else the whole entry', async t => {
  t.equal(entryKey(wire({ insertId: 'abc', message: 'x' })), 'abc')
  t.equal(entryKey(wire({ timestamp: 't', taskIndex: 0, message: 'x' })), entryKey(wire({ timestamp: 't', taskIndex: 0, message: 'x' })))
  t.not(entryKey(wire({ timestamp: 't', taskIndex: 0, message: 'x' })), entryKey(wire({ timestamp: 't', taskIndex: 1, message: 'x' })))
})

t.test('the follower pages through everything, prints each entry once across passes, and keeps genuine repeats', async t => {
  const run = await client().startRun('slow', {}, 'k-follower')
  await sleep(100)
  for (const n of [1, 2, 3, 4]) api.addLog(run.name, { severity: 'INFO', taskIndex: 0, message: `line ${n}` })
  const printed: LogEntry[] = []
  const follower = new LogFollower(client(), 'slow', run.name, entry => printed.push(entry))
  t.equal(await follower.drain(), 5, 'working + 4 lines over 3 pages')
  t.equal(await follower.drain(), 0, 'nothing new, nothing printed')
  // Two identical entries (same time, task, text): a job really printed that line twice.
  api.addLog(run.name, { severity: 'INFO', taskIndex: 0, message: 'same' }, 5000)
  api.addLog(run.name, { severity: 'INFO', taskIndex: 0, message: 'same' }, 5000)
  await sleep(10)
  t.equal(await follower.drain(), 0, 'not visible yet (their time has not come)')
  // They show up late, sorted before entries already printed (Cloud Logging ingests late too).
  api.runs.get(run.name)?.logs.forEach(line => { if (line.atMs === 5000) line.atMs = 1 })
  t.equal(await follower.drain(), 2, 'both repeats print')
  t.equal(await follower.drain(), 0, 'and only once each')
  t.same(printed.map(e => e.message), ['working', 'line 1', 'line 2', 'line 3', 'line 4', 'same', 'same'])
  const logCalls = api.requests.filter(r => r.path.endsWith(`${run.name}/logs`))
  t.same(logCalls.slice(0, 3).map(r => r.query.pageToken), [undefined, '2', '4'], 'pages follow nextPageToken')
})

t.test('after the first pass, the follower asks only for what is new (30 s overlap for late lines)', async t => {
  const calls: Array<string | undefined> = []
  const pages = [
    [{ insertId: 'a', timestamp: '2026-11-23T10:00:00.000Z', message: 'one' }, { insertId: 'b', timestamp: '2026-11-23T10:01:00.000Z', message: 'two' }],
    [{ insertId: 'b', timestamp: '2026-11-23T10:01:00.000Z', message: 'two' }, { insertId: 'c', timestamp: '2026-11-23T10:00:45.000Z', message: 'late' }]
  ]
  const stub = {
    listLogs: async (_job: string, _run: string, _token: string | undefined, _signal: unknown, since: string | undefined) => {
      calls.push(since)
      return { entries: pages[calls.length - 1] ?? [] }
    }
  }
  const printed: string[] = []
  const follower = new LogFollower(stub as unknown as ApiClient, 'j', 'r', entry => printed.push(entry.message ?? ''))
  t.equal(await follower.drain(), 2)
  t.equal(await follower.drain(), 1, 'only the late line is new')
  t.same(calls, [undefined, '2026-11-23T10:00:30.000Z'], 'the newest timestamp seen, less LATE_ARRIVAL_MS')
  t.same(printed, ['one', 'two', 'late'])
})

t.test('a server that repeats its page token cannot loop the follower forever', async t => {
  const calls: Array<string | undefined> = []
  const looping = { listLogs: async (_job: string, _run: string, token: string | undefined) => { calls.push(token); return { entries: [{ message: `m${calls.length}` }], nextPageToken: 'same' } } }
  const follower = new LogFollower(looping as unknown as ApiClient, 'j', 'r', () => {})
  t.equal(await follower.drain(), 2)
  t.same(calls, [undefined, 'same'])
})

t.test('jobgate logs: every entry of a finished run once, plain or as JSON lines', async t => {
  const done = await runCli(['run', 'echo', '--tasks', '2', '--wait'], api.url)
  t.equal(done.code, 0)
  const name = [...api.runs.keys()].at(-1) ?? ''
  const plain = await runCli(['logs', 'echo', name], api.url)
  t.equal(plain.code, 0)
  t.equal(plain.stdout.trim().split('\n').length, 6)
  t.match(plain.stdout, '[task 1] INFO env env={}')
  const json = await runCli(['logs', 'echo', name, '--json'], api.url)
  const entries = json.stdout.trim().split('\n').map(line => JSON.parse(line))
  t.equal(entries.length, 6)
  t.match(entries[0], { severity: 'INFO', taskIndex: 0, message: 'args', timestamp: /^\d{4}-/ })
})

t.test('jobgate logs --follow: new lines as they appear, none twice, until the run ends (exit code of the run)', async t => {
  const started = await runCli(['run', 'slow'], api.url)
  const name = started.stdout.trim()
  const following = runCli(['logs', 'slow', name, '--follow'], api.url)
  await sleep(300)
  api.addLog(name, { severity: 'INFO', taskIndex: 0, message: 'step 1' })
  await sleep(2300) // one more poll cycle of the follower
  api.addLog(name, { severity: 'INFO', taskIndex: 0, message: 'step 2' })
  await sleep(100)
  t.equal((await runCli(['cancel', 'slow', name], api.url)).code, 0)
  const { code, stdout } = await following
  t.equal(code, 3, 'the run was cancelled')
  t.equal(stdout, '[task 0] INFO working\n[task 0] INFO step 1\n[task 0] INFO step 2\n', 'in order, each once')
  const passes = api.requests.filter(r => r.path.endsWith(`${name}/logs`) && r.query.pageToken === undefined).length
  t.ok(passes >= 3, `several passes over the logs (${passes}) printed nothing twice`)
})
