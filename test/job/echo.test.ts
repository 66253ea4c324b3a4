import t from 'tap'
import { Writable } from 'node:stream'
import { createJobLogger, severityOf } from '../../job/log.js'
import { echoKnobs, runEcho } from '../../job/echo.js'

/** A logger whose lines land in an array, so runEcho can be driven in-process. */
function capture (level?: 'debug') {
  const lines: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  return { lines, log: createJobLogger(level ? { level, destination } : { destination }) }
}

t.test('maps every pino level to a Cloud Logging severity', async t => {
  t.same(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'bogus'].map(severityOf),
    ['DEBUG', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL', 'DEFAULT'])
  const { lines, log } = capture('debug')
  log.debug({ a: 1 }, 'hello')
  log.fatal('boom')
  t.match(lines, [{ severity: 'DEBUG', message: 'hello', a: 1 }, { severity: 'CRITICAL', message: 'boom' }])
})

t.test('knobs parse, default to 0, and reject junk', async t => {
  t.same(echoKnobs({}), { sleepMs: 0, exitCode: 0, failAttempts: 0 })
  t.same(echoKnobs({ ECHO_SLEEP_MS: '5', ECHO_EXIT_CODE: '7', ECHO_FAIL_ATTEMPTS: '2' }), { sleepMs: 5, exitCode: 7, failAttempts: 2 })
  t.throws(() => echoKnobs({ ECHO_EXIT_CODE: '256' }), /ECHO_EXIT_CODE must be an integer in \[0, 255\]/)
  t.throws(() => echoKnobs({ ECHO_FAIL_ATTEMPTS: '-1' }), /ECHO_FAIL_ATTEMPTS/)
})

t.test('runEcho sleeps through the injected sleep, then exits per the knobs', async t => {
  const slept: number[] = []
  const sleep = async (ms: number) => { slept.push(ms) }
  const ok = capture()
  t.equal(await runEcho(['a'], { ECHO_SLEEP_MS: '25' }, ok.log, sleep), 0)
  t.same(slept, [25])
  t.same(ok.lines.map(l => l.message), ['args', 'env', 'task', 'sleeping', 'done'])

  const failed = capture()
  t.equal(await runEcho([], { ECHO_EXIT_CODE: '9' }, failed.log, sleep), 9)
  const retried = capture()
  t.equal(await runEcho([], { ECHO_FAIL_ATTEMPTS: '1' }, retried.log, sleep), 1)
  t.equal(await runEcho([], { ECHO_FAIL_ATTEMPTS: '1', CLOUD_RUN_TASK_ATTEMPT: '1' }, capture().log, sleep), 0)
  const bad = capture()
  t.equal(await runEcho([], { CLOUD_RUN_TASK_COUNT: 'x' }, bad.log, sleep), 2)
  t.same(bad.lines.map(l => l.message), ['args', 'env', 'bad configuration'])
})

t.test('runEcho really sleeps by default', async t => {
  const started = Date.now()
  t.equal(await runEcho([], { ECHO_SLEEP_MS: '30' }, capture().log), 0)
  t.ok(Date.now() - started >= 25)
})
