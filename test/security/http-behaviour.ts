import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Socket } from 'node:net'
import { clientErrorHandler } from '../../api/plugins/strict-input/client-error.js'
import { withoutCredentials } from '../../api/google/http.js'
import { KEYS, apiKey, assertClientError, type Stack } from './stack.js'

/** Media types, HEAD/OPTIONS, public routes, request ids, the client-error handler, upstream text scrubbing. */
export function httpBehaviourTests (t: Test, stack: Stack): void {
  const { app } = stack
  const CI = apiKey(KEYS.ci)

  t.test('JSON in UTF-8 is accepted however the media type is written', async t => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset="utf-8"',
      'Application/JSON', 'application/json; charset=utf8', 'application/json ; charset=utf-8']) {
      const response = await app.inject({ method: 'POST', url: '/v1/jobs/burst/runs', headers: { ...CI, 'content-type': type }, payload: '{"taskCount":1}' })
      t.equal(response.statusCode, 202, `${type}: ${response.body.slice(0, 100)}`)
    }
    const empty = await app.inject({ method: 'POST', url: '/v1/jobs/burst/runs', headers: { ...CI, 'content-type': 'application/json' } })
    assertClientError(t, empty, 'an empty JSON body', 400)
    t.match(JSON.parse(empty.body).error.message, /empty/)
    const nowhere = await app.inject({ method: 'POST', url: '/v1/nowhere', headers: { ...CI, 'content-type': 'application/json' } })
    assertClientError(t, nowhere, 'an empty JSON body to no route', 404)
  })

  t.test('HEAD and OPTIONS', async t => {
    const readsBefore = stack.emulator.requests.filter(r => r.method === 'GET' && !r.path.startsWith('/computeMetadata')).length
    const head = await app.inject({ method: 'HEAD', url: '/v1/jobs', headers: CI })
    t.equal(head.statusCode, 200)
    t.equal(head.body, '', 'HEAD has no body')
    t.match(head.headers['content-type'], /^application\/json/)
    t.equal((await app.inject({ method: 'HEAD', url: '/v1/jobs' })).statusCode, 401, 'HEAD needs credentials like GET')
    t.equal((await app.inject({ method: 'HEAD', url: '/v1/jobs/echo/runs/x-', headers: CI })).statusCode, 400)
    t.equal((await app.inject({ method: 'HEAD', url: '/v1/nowhere', headers: CI })).statusCode, 404)
    t.equal((await app.inject({ method: 'HEAD', url: '/healthz' })).statusCode, 200)
    for (const url of ['/v1/jobs', '/v1/jobs/echo/runs', '/v1/jobs/echo/runs/echo-job-abcde']) {
      assertClientError(t, await app.inject({ method: 'OPTIONS', url, headers: CI }), `OPTIONS ${url}: no CORS, no route`, 404)
    }
    assertClientError(t, await app.inject({ method: 'OPTIONS', url: '/v1/jobs' }), 'OPTIONS without credentials', 401)
    t.same(stack.emulator.requests.filter(r => r.method === 'GET' && !r.path.startsWith('/computeMetadata')).slice(readsBefore).map(r => r.url),
      [], 'none of these read from Cloud Run')
  })

  t.test('health and docs are public; everything else needs credentials', async t => {
    for (const url of ['/healthz', '/readyz', '/openapi.json', '/docs', '/docs/json']) {
      const response = await app.inject({ method: 'GET', url })
      t.equal(response.statusCode, 200, url)
    }
    const spec = JSON.parse((await app.inject({ method: 'GET', url: '/openapi.json' })).body) as { paths: Record<string, unknown> }
    t.ok('/v1/jobs/{job}/runs' in spec.paths, 'the document describes the run route')
    assertClientError(t, await app.inject({ method: 'GET', url: '/v1/jobs' }), 'the catalog', 401)
  })

  t.test('X-Request-Id is echoed only when it is a sane token', async t => {
    const sane = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123.def:4' } })
    t.equal(sane.headers['x-request-id'], 'abc-123.def:4')
    const hostile = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': '../<script>' } })
    t.match(hostile.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'replaced by a fresh id')
  })

  t.test('clientErrorHandler answers in the contract shape, or not at all when the socket is gone', async t => {
    const socket = (state: { writable?: boolean }) => {
      const written: string[] = []
      const fake = {
        destroyed: false,
        writable: state.writable ?? true,
        write: (text: string) => {
          written.push(text)
          return true
        },
        destroy: () => {
          fake.destroyed = true
        }
      }
      return { fake, written }
    }
    const self = app as FastifyInstance
    const cases: Array<[string | undefined, number]> = [['HPE_HEADER_OVERFLOW', 431], ['ERR_HTTP_REQUEST_TIMEOUT', 408], ['HPE_INVALID_METHOD', 400], [undefined, 400]]
    for (const [code, status] of cases) {
      const { fake, written } = socket({})
      clientErrorHandler.call(self, Object.assign(new Error('parse'), code === undefined ? {} : { code }), fake as unknown as Socket)
      const [head = '', body = ''] = (written[0] ?? '').split('\r\n\r\n')
      t.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), `${String(code)} → ${status}`)
      t.equal(JSON.parse(body).error.code, status)
      t.ok(fake.destroyed, 'then the connection is closed')
    }
    const reset = socket({})
    clientErrorHandler.call(self, Object.assign(new Error('reset'), { code: 'ECONNRESET' }), reset.fake as unknown as Socket)
    t.same(reset.written, [], 'a reset connection is left alone')
    const closed = socket({ writable: false })
    clientErrorHandler.call(self, new Error('x'), closed.fake as unknown as Socket)
    t.same(closed.written, [], 'nothing is written to a socket that cannot take it')
  })

  t.test('upstream error text loses anything credential-shaped before it is passed on', async t => {
    const token = 'opaque-token-value-123'
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'
    const scrubbed = withoutCredentials(`token ${token}; other ya29.a0Af-xyz_12.3; id ${jwt}; Authorization: Bearer abc.def, fine`, token)
    t.equal(scrubbed, 'token [REDACTED]; other [REDACTED]; id [REDACTED]; Authorization: Bearer [REDACTED], fine')
    t.equal(withoutCredentials('nothing secret here', ''), 'nothing secret here')
    const long = withoutCredentials('x'.repeat(5000), token)
    t.equal(long.length, 1001, 'capped at 1000 characters and an ellipsis')
  })
}
