import t from 'tap'
import { changeKey, describeRun, elapsedMs, plainRenderer, progressBar, progressRenderer, ttyFrame, ttyRenderer } from '../../cli/progress.js'
import { clearLine, Terminal } from '../../cli/terminal.js'
import type { Run } from '../../cli/types.js'
import { startFakeApi } from './fake-api.js'
import { memorySink, runCli } from './helpers.js'

const run = (patch: Partial<Run> = {}): Run => ({
  name: 'echo-x',
  job: 'echo',
  state: 'RUNNING',
  taskCount: 10,
  succeededCount: 6,
  failedCount: 1,
  runningCount: 3,
  cancelledCount: 0,
  retriedCount: 0,
  links: { self: '/v1/jobs/echo/runs/echo-x', logs: '/v1/jobs/echo/runs/echo-x/logs' },
  ...patch
})
/** A Run as a partial or older server may send it: the CLI reads the wire defensively. */
const wire = (partial: Record<string, unknown>): Run => partial as unknown as Run

t.test('progress bar text', async t => {
  t.equal(progressBar(7, 10, 14), '[##########----] 7/10')
  t.equal(progressBar(0, 10), '[--------------------] 0/10')
  t.equal(progressBar(10, 10), '[####################] 10/10')
  t.equal(progressBar(12, 10, 4), '[####] 12/10', 'never overflows the bar')
  t.equal(progressBar(0, undefined, 4), '[----] 0/?')
  t.equal(progressBar(0, 0, 4), '[----] 0/?')
})

t.test('a run in one line: state, bar of succeeded+failed, counts, elapsed', async t => {
  t.equal(describeRun(run(), 65_000), 'echo-x  RUNNING    [##############------] 7/10  succeeded 6  failed 1  running 3  1m05s')
  t.match(describeRun(run({ state: 'CANCELLED', cancelledCount: 3, runningCount: 0 }), 0), 'cancelled 3  0s')
  t.equal(describeRun(wire({ name: 'n', job: 'j', state: 'PENDING' }), 3_723_000), 'n  PENDING    [--------------------] 0/?  succeeded 0  failed 0  running 0  1h02m03s')
})

t.test('change key ignores time, sees state and every count', async t => {
  t.equal(changeKey(run()), changeKey(run()))
  t.not(changeKey(run()), changeKey(run({ state: 'SUCCEEDED' })))
  t.not(changeKey(run()), changeKey(run({ runningCount: 2 })))
  t.not(changeKey(run()), changeKey(run({ succeededCount: 7 })))
})

t.test('elapsed counts from createTime until completionTime, else from when watching began', async t => {
  const created = Date.parse('2026-01-01T00:00:00Z')
  t.equal(elapsedMs(run({ createTime: '2026-01-01T00:00:00Z' }), created + 5000, 0), 5000)
  t.equal(elapsedMs(run({ createTime: '2026-01-01T00:00:00Z', completionTime: '2026-01-01T00:00:09Z' }), created + 99_000, 0), 9000)
  t.equal(elapsedMs(run({ createTime: 'not a date' }), 1500, 1000), 500)
  t.equal(elapsedMs(run({ createTime: '2026-01-01T00:00:10Z' }), created, 0), 0, 'clock skew never gives negative time')
})

t.test('tty frame: carriage return, erase line, text cut to the terminal width', async t => {
  t.equal(ttyFrame('hello'), '\r\x1b[2Khello')
  t.equal(ttyFrame('hello world', 8), '\r\x1b[2Khello …')
  t.equal(ttyFrame('hi', 80), '\r\x1b[2Khi')
})

t.test('tty renderer redraws one line in place and ends with a newline', async t => {
  const stderr = memorySink()
  const stdout = memorySink()
  let now = 0
  const terminal = new Terminal(stdout, stderr, true)
  const renderer = progressRenderer({ terminal, now: () => now })
  renderer.update(run({ state: 'PENDING', succeededCount: 0, failedCount: 0, runningCount: 0 }))
  now = 2000
  renderer.tick()
  renderer.update(run())
  terminal.out('[task 0] INFO hello')
  renderer.update(run({ state: 'SUCCEEDED', succeededCount: 10, failedCount: 0, runningCount: 0 }))
  renderer.finish()
  t.equal(stderr.text(), [
    '\r\x1b[2Kecho-x  PENDING    [--------------------] 0/10  succeeded 0  failed 0  running 0  0s',
    '\r\x1b[2Kecho-x  PENDING    [--------------------] 0/10  succeeded 0  failed 0  running 0  2s',
    '\r\x1b[2Kecho-x  RUNNING    [##############------] 7/10  succeeded 6  failed 1  running 3  2s',
    '\r\x1b[2K', // lifted for the log line on stdout…
    '\r\x1b[2Kecho-x  RUNNING    [##############------] 7/10  succeeded 6  failed 1  running 3  2s', // …and put back
    '\r\x1b[2Kecho-x  SUCCEEDED  [####################] 10/10  succeeded 10  failed 0  running 0  2s',
    '\n'
  ].join(''))
  t.equal(stdout.text(), '[task 0] INFO hello\n')
})

t.test('plain renderer: one line per change, nothing when nothing changed', async t => {
  const stderr = memorySink()
  let now = 0
  const renderer = plainRenderer({ terminal: new Terminal(memorySink(), stderr, false), now: () => now })
  renderer.update(run({ state: 'PENDING', succeededCount: 0, failedCount: 0, runningCount: 0 }))
  renderer.update(run({ state: 'PENDING', succeededCount: 0, failedCount: 0, runningCount: 0 }))
  now = 1000
  renderer.tick()
  renderer.update(run())
  renderer.update(run())
  now = 4000
  renderer.update(run({ state: 'SUCCEEDED', succeededCount: 10, failedCount: 0, runningCount: 0 }))
  renderer.finish()
  t.equal(stderr.text(), [
    'echo-x  PENDING    [--------------------] 0/10  succeeded 0  failed 0  running 0  0s',
    'echo-x  RUNNING    [##############------] 7/10  succeeded 6  failed 1  running 3  1s',
    'echo-x  SUCCEEDED  [####################] 10/10  succeeded 10  failed 0  running 0  4s',
    ''
  ].join('\n'))
  t.notMatch(stderr.text(), '\r')
})

t.test('terminal: clearing or committing without a status line writes nothing', async t => {
  const stderr = memorySink()
  const terminal = new Terminal(memorySink(), stderr, true)
  terminal.clearStatus()
  terminal.commitStatus()
  t.equal(stderr.text(), '')
  terminal.showStatus('x')
  terminal.prompt('Cancel? ')
  t.equal(stderr.text(), `${clearLine}x${clearLine}Cancel? `)
  t.type(ttyRenderer({ terminal }).finish, 'function')
})

t.test('end to end in-process: a forced TTY gets redraws, not lines; without one, lines per change only', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  const tty = await runCli(['run', 'progress', '--tasks', '3', '--wait'], api.url, { isTTY: true, columns: 200 })
  t.equal(tty.code, 0)
  const frames = tty.stderr.split(clearLine).slice(1)
  t.ok(frames.length >= 2, 'redrawn at least twice')
  t.match(tty.stderr, `${clearLine}progress-job-00001  SUCCEEDED  [####################] 3/3  succeeded 3  failed 0  running 0`)
  t.match(frames.at(-1) ?? '', /\n.*SUCCEEDED in/, 'the last frame is kept, then the summary on its own line')

  // A run that stays RUNNING through two polls (2 s + the 1 s left): one line for PENDING, one for RUNNING, none for the repeat.
  const plain = await runCli(['run', 'slow', '--logs', '--wait-timeout', '3'], api.url)
  t.equal(plain.code, 4)
  const progressLines = plain.stderr.split('\n').filter(line => line.startsWith('slow-job-'))
  t.same(progressLines.map(line => line.split(/\s+/)[1]), ['PENDING', 'RUNNING'])
  const polls = api.requests.filter(r => r.method === 'GET' && r.path.endsWith('slow-job-00002'))
  t.same(polls.map(r => r.query.wait), ['2', '1'], 'long polls held by the server, the last one only as long as the time left')
  t.equal(plain.stdout, '[task 0] INFO working\n', 'seen by both log passes, printed once')
})
