import { pino } from 'pino'
import t from 'tap'
import { CENSOR, redactCredentials } from '../../api/plugins/log-redaction.js'
import { loggerOptions } from '../../api/plugins/request-log.js'
import { CapturedLog } from '../helper.js'

t.test('nothing to censor: the very same object, no copy (every audit line)', async t => {
  const line = { trigger: 'api', envNames: ['TENANT_ID'], execution: 'echo-1', 'logging.googleapis.com/labels': { jobgate_job: 'echo' }, headers: { accept: 'json' } }
  t.equal(redactCredentials(line), line)
})

t.test('secret fields, credential headers in any case, one level down, and config.headers', async t => {
  const fields = {
    apiKey: 'k1',
    headers: { Authorization: 'Bearer k2', accept: 'json' },
    response: { status: 403, headers: { 'X-Api-Key': 'k3', Cookie: 'k4' } },
    upstream: { config: { url: '/x', headers: { 'Proxy-Authorization': 'k5' } } }
  }
  const before = JSON.stringify(fields)
  const safe = redactCredentials(fields)
  t.strictSame(safe, {
    apiKey: CENSOR,
    headers: { Authorization: CENSOR, accept: 'json' },
    response: { status: 403, headers: { 'X-Api-Key': CENSOR, Cookie: CENSOR } },
    upstream: { config: { url: '/x', headers: { 'Proxy-Authorization': CENSOR } } }
  })
  t.equal(JSON.stringify(fields), before, 'the caller\'s object is left as it was')
})

t.test('an Error carrying its request stays an Error: message, stack and class survive for pino\'s err serializer', async t => {
  class GaxiosLikeError extends Error {}
  const err = Object.assign(new GaxiosLikeError('forbidden'), { code: 403, config: { headers: { Authorization: 'Bearer e1' } } })
  const log = new CapturedLog()
  pino(loggerOptions('info'), log.stream).error({ err }, 'upstream failed')
  type Logged = { type: string, message: string, stack: string, code: number, config: { headers: Record<string, string> } }
  const logged = log.entries[0]?.err as Logged
  t.equal(logged.type, 'GaxiosLikeError')
  t.equal(logged.message, 'forbidden')
  t.match(logged.stack, /forbidden/)
  t.equal(logged.code, 403)
  t.strictSame(logged.config.headers, { Authorization: CENSOR })
  t.notMatch(log.text, /e1/)
  t.equal(err.config.headers.Authorization, 'Bearer e1', 'the thrown error itself is not changed')
})

t.test('a line written through a child logger (a request\'s) is censored like any other', async t => {
  const log = new CapturedLog()
  pino(loggerOptions('info'), log.stream).child({ requestId: 'r-1' }).warn({ token: 'b1', upstream: { headers: { authorization: 'b2' } } }, 'hello')
  t.equal(log.entries[0]?.token, CENSOR)
  t.equal(log.entries[0]?.requestId, 'r-1')
  t.notMatch(log.text, /b1|b2/)
})
