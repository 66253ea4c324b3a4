import { pino } from 'pino'
import t from 'tap'
import { loadConfig } from '../../api/config.js'
import { ApiError } from '../../api/errors.js'
import { loggerOptions, traceFields } from '../../api/plugins/request-log.js'
import { createServices } from '../../api/services.js'
import { FakeCloudRun } from '../helpers/fake-cloud-run.js'
import { build, CapturedLog, noLogs, UNIT_ENV } from '../helper.js'

const TRACE = '105445aa7843bc8bf206b12000100000'
const W3C_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'

t.test('traceFields: the trace from X-Cloud-Trace-Context, nothing else (no span, no sampled flag)', async t => {
  const trace = { 'logging.googleapis.com/trace': `projects/my-project/traces/${TRACE}` }
  t.strictSame(traceFields({ 'x-cloud-trace-context': `${TRACE}/1;o=1` }, 'my-project'), trace)
  t.strictSame(traceFields({ 'x-cloud-trace-context': `${TRACE}/18446744073709551615;o=0` }, 'my-project'), trace)
  t.strictSame(traceFields({ 'x-cloud-trace-context': TRACE.toUpperCase() }, 'my-project'), trace, 'trace id only, lowercased')
})

t.test('traceFields: the trace from W3C traceparent', async t => {
  const trace = { 'logging.googleapis.com/trace': `projects/p/traces/${W3C_TRACE}` }
  t.strictSame(traceFields({ traceparent: `00-${W3C_TRACE}-00f067aa0ba902b7-01` }, 'p'), trace)
  t.strictSame(traceFields({ traceparent: `00-${W3C_TRACE}-00f067aa0ba902b7-00` }, 'p'), trace, 'sampled or not')
})

t.test('traceFields: X-Cloud-Trace-Context wins; nothing without a project or a usable header', async t => {
  t.equal(traceFields({ 'x-cloud-trace-context': `${TRACE}/5`, traceparent: `00-${W3C_TRACE}-00f067aa0ba902b7-01` }, 'p')['logging.googleapis.com/trace'], `projects/p/traces/${TRACE}`)
  t.strictSame(traceFields({ 'x-cloud-trace-context': `${TRACE}/1;o=1` }, undefined), {})
  t.strictSame(traceFields({}, 'p'), {})
  t.strictSame(traceFields({ 'x-cloud-trace-context': 'not-a-trace' }, 'p'), {})
  t.strictSame(traceFields({ traceparent: '00-short-00f067aa0ba902b7-01' }, 'p'), {})
  t.strictSame(traceFields({ traceparent: `00-${W3C_TRACE}-00f067aa0ba902b7-01-extra` }, 'p'), {})
})

t.test('loggerOptions: Cloud Logging fields for every level, credentials redacted', async t => {
  const log = new CapturedLog()
  const logger = pino(loggerOptions('trace'), log.stream)
  logger.trace('a'); logger.debug('b'); logger.info('c'); logger.warn('d'); logger.error('e'); logger.fatal('f')
  t.same(log.entries.map(e => [e.severity, e.message]), [['DEBUG', 'a'], ['DEBUG', 'b'], ['INFO', 'c'], ['WARNING', 'd'], ['ERROR', 'e'], ['CRITICAL', 'f']])
  for (const entry of log.entries) {
    t.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    t.notOk('level' in entry || 'msg' in entry || 'pid' in entry || 'hostname' in entry, 'only Cloud Logging\'s names')
  }
  const custom = new CapturedLog()
  const withNotice = pino({ ...loggerOptions('info'), customLevels: { notice: 35 } }, custom.stream) as unknown as { notice: (message: string) => void }
  withNotice.notice('n')
  t.equal(custom.entries[0]?.severity, 'DEFAULT', 'an unknown level is DEFAULT')

  const secrets = new CapturedLog()
  pino(loggerOptions('info'), secrets.stream).info({
    req: { headers: { authorization: 'Bearer s1', 'x-api-key': 's2', cookie: 's3', 'proxy-authorization': 's4', accept: 'json' } },
    headers: { authorization: 'Bearer s5', 'x-api-key': 's6' },
    token: 's7',
    accessToken: 's8',
    access_token: 's9',
    apiKey: 's10'
  }, 'with secrets')
  t.notMatch(secrets.text, /"s\d+"|Bearer s/, 'no secret value written')
  t.equal((secrets.entries[0]?.req as { headers: Record<string, string> }).headers.accept, 'json', 'other fields stay')
  t.equal(secrets.text.match(/\[REDACTED\]/g)?.length, 10, 'each of the ten credentials replaced')

  const nested = new CapturedLog()
  pino(loggerOptions('info'), nested.stream).error({
    err: { message: 'x', headers: { authorization: 'Bearer n1', 'x-api-key': 'n2' }, config: { headers: { Authorization: 'Bearer n3' } } },
    response: { headers: { authorization: 'Bearer n4' } }
  }, 'a library error that carries its request')
  t.notMatch(nested.text, /n[1-4]"/, 'credential headers nested one level down are redacted too')
})

t.test('the app\'s request logs: severity, message, request id, trace; never a credential', async t => {
  const { app, log, fake } = await build(t, {
    logLevel: 'trace',
    authenticate: async headers => {
      if (headers.authorization === 'Bearer secret-token-123' || headers['x-api-key'] === 'key-xyz') return { name: 'tester', tenantFree: true }
      throw new ApiError('UNAUTHENTICATED', 'no credentials')
    }
  })
  const headers = {
    authorization: 'Bearer secret-token-123',
    'x-api-key': 'key-xyz',
    'x-cloud-trace-context': `${TRACE}/1;o=1`,
    'x-request-id': 'req-1'
  }
  t.equal((await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: { env: { A: '1' } }, headers })).statusCode, 202)
  t.equal((await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: { env: { PATH: '/x' } }, headers })).statusCode, 400)
  // An error that carries the request it failed on, as some HTTP libraries' errors do.
  fake.fail('runJob', Object.assign(new Error('upstream exploded'), { headers: { authorization: 'Bearer secret-token-123' } }))
  t.equal((await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: {}, headers })).statusCode, 500)
  t.equal((await app.inject({ url: '/v1/jobs', headers: { authorization: 'Bearer wrong-secret-456' } })).statusCode, 401)
  t.equal((await app.inject({ url: '/v1/jobs/echo/runs/%zz', headers })).statusCode, 400)

  t.notMatch(log.text, /secret-token-123/, 'the bearer token never reaches the log')
  t.notMatch(log.text, /key-xyz/, 'the API key never reaches the log')
  t.notMatch(log.text, /wrong-secret-456/, 'not even a rejected one')

  const entries = log.entries
  t.ok(entries.length >= 10, `request logs were written (${entries.length})`)
  for (const entry of entries) {
    t.type(entry.severity, 'string')
    t.type(entry.message, 'string')
  }
  const incoming = entries.find(e => e.message === 'incoming request' && e.requestId === 'req-1')
  t.ok(incoming, 'an incoming-request line with the caller\'s request id')
  t.equal(incoming?.severity, 'INFO')
  t.equal(incoming?.['logging.googleapis.com/trace'], `projects/p/traces/${TRACE}`)
  t.strictSame(Object.keys(incoming ?? {}).filter(key => key.startsWith('logging.googleapis.com/')), ['logging.googleapis.com/trace'], 'the trace only')
  const refused = entries.find(e => e.message === 'env.PATH: protected; it cannot be overridden')
  t.match(refused, { severity: 'DEBUG', status: 'INVALID_ARGUMENT', code: 400, requestId: 'req-1' }, 'client errors are logged at DEBUG (the answer and the audit line carry them)')
  const failed = entries.find(e => e.severity === 'ERROR')
  t.match(failed, { status: 'INTERNAL', message: 'internal error; see the service logs', err: { message: 'upstream exploded' } }, 'server errors at ERROR with the cause')
})

t.test('the request id: the caller\'s X-Request-Id, else the trace id (carried once, in the trace field), else a fresh one', async t => {
  const { app, log } = await build(t, { logLevel: 'debug' })
  const idOf = async (headers: Record<string, string>) => {
    const before = log.lines.length
    const response = await app.inject({ url: '/v1/jobs', headers })
    return { id: response.headers['x-request-id'], line: log.entries.slice(before).find(e => e.message === 'incoming request') }
  }
  const caller = await idOf({ 'x-request-id': 'req-7', 'x-cloud-trace-context': `${TRACE}/1;o=1` })
  t.match(caller, { id: 'req-7', line: { requestId: 'req-7', 'logging.googleapis.com/trace': `projects/p/traces/${TRACE}` } })
  const traced = await idOf({ traceparent: `00-${W3C_TRACE}-00f067aa0ba902b7-01` })
  t.equal(traced.id, W3C_TRACE)
  t.equal(traced.line?.['logging.googleapis.com/trace'], `projects/p/traces/${W3C_TRACE}`)
  t.notOk(traced.line !== undefined && 'requestId' in traced.line, 'not repeated as requestId')
  const fresh = await idOf({})
  t.match(fresh, { id: /^[0-9a-f-]{36}$/, line: { requestId: fresh.id } })
})

t.test('without a logger, createServices makes its own at LOG_LEVEL', async t => {
  const services = await createServices(loadConfig({ ...UNIT_ENV, JOBGATE_JOBS: '{"jobs":{"echo":{}}}', LOG_LEVEL: 'silent' }), { cloudRun: new FakeCloudRun(), logs: noLogs })
  t.teardown(services.close)
  t.equal(services.logger.level, 'silent')
})

t.test('at the default level a run request writes exactly one line, its audit line', async t => {
  const { app, log } = await build(t)
  const payload = { args: ['a'], env: { TENANT_ID: 'acme' }, taskCount: 2, timeoutSeconds: 60 }
  for (const [body, status] of [[payload, 202], [{ env: { PATH: '/x' } }, 400]] as const) {
    const before = log.lines.length
    t.equal((await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: body, headers: { 'x-cloud-trace-context': `${TRACE}/1;o=1` } })).statusCode, status)
    const written = log.lines.slice(before)
    t.equal(written.length, 1, `one line for a ${status} run request (no access lines: Cloud Run writes those)`)
    t.match(JSON.parse(written[0] ?? '{}'), { 'logging.googleapis.com/labels': { jobgate_audit: 'run' } }, 'and it is the audit line')
    t.comment(`${status}: ${Buffer.byteLength(written[0] ?? '')} bytes (test/security/audit.ts holds a typical one to 600)`)
  }
})

t.test('loggerOptions: the time field follows the clock (formatted once per millisecond, never stuck)', async t => {
  const log = new CapturedLog()
  const logger = pino(loggerOptions('info'), log.stream)
  logger.info('first')
  logger.info('same millisecond or the next')
  await new Promise(resolve => setTimeout(resolve, 5))
  logger.info('later')
  const times = log.entries.map(entry => Date.parse(String(entry.time)))
  t.ok(times.every(time => Math.abs(time - Date.now()) < 60_000), 'each is now')
  t.ok((times[2] ?? 0) > (times[0] ?? 0), 'a line written later carries a later time')
})
