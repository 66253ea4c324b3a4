import { connect } from 'node:net'
import t from 'tap'
import { claims, signIdToken } from '../auth/google-fixture.js'
import { KEYS, errorShapeProblem, startStack } from './stack.js'

/**
 * Issue 10's HTTP-level findings, over a real socket (Node itself drops a second Authorization
 * header before any JavaScript sees it, and only a socket can stall): a slow-loris body, repeated
 * credential headers, a token in the query string.
 */
const stack = await startStack(t, { env: { JOBGATE_REQUEST_TIMEOUT_SECONDS: '1' } })
await stack.app.listen({ port: 0, host: '127.0.0.1' })
const address = stack.app.server.address()
const port = typeof address === 'object' && address !== null ? address.port : 0

interface Exchange { statusCode: number, body: string, closedByServer: boolean }

/** Writes `chunks` (then keeps the socket open), and reads until the server answers and closes, or `capMs` passes. */
async function exchange (chunks: string[], capMs: number): Promise<Exchange> {
  return await new Promise((resolve, reject) => {
    let received = ''
    let closedByServer = true
    const socket = connect(port, '127.0.0.1', () => { for (const chunk of chunks) socket.write(chunk) })
    const cap = setTimeout(() => { closedByServer = false; socket.destroy() }, capMs)
    socket.on('data', chunk => {
      received += chunk.toString('latin1')
      const head = received.indexOf('\r\n\r\n')
      const length = /content-length: (\d+)/i.exec(received.slice(0, head))?.[1]
      // A complete answer to a request that was itself complete: done, close our side.
      if (head !== -1 && length !== undefined && received.length >= head + 4 + Number(length) && !received.startsWith('HTTP/1.1 408')) socket.end()
    })
    socket.on('close', () => {
      clearTimeout(cap)
      const statusCode = Number(/^HTTP\/1\.[01] (\d{3})/.exec(received)?.[1] ?? 0)
      resolve({ statusCode, body: received.slice(received.indexOf('\r\n\r\n') + 4), closedByServer })
    })
    socket.on('error', reject)
  })
}

t.test('a body that stalls after its headers is cut off with 408 in the contract shape, and nothing starts', async t => {
  const runsBefore = stack.runCalls().length
  const head = `POST /v1/jobs/echo/runs HTTP/1.1\r\nHost: x\r\nx-api-key: ${KEYS.ci}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`
  // The cap is far past the 1 s deadline: only a server that never times the request out reaches it.
  const answer = await exchange([head, '{"args":['], 20_000)
  t.ok(answer.closedByServer, 'the server closed the connection itself')
  t.equal(answer.statusCode, 408, answer.body.slice(0, 200))
  t.equal(errorShapeProblem(answer), undefined)
  t.equal(stack.runCalls().length, runsBefore, 'no run started')
})

t.test('a repeated Authorization or X-API-Key header is 401, even when the first one is valid', async t => {
  const token = signIdToken(stack.googleKey, claims())
  const get = (headers: string): string => `GET /v1/jobs HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`
  const single = await exchange([get(`Authorization: Bearer ${token}\r\n`)], 10_000)
  t.equal(single.statusCode, 200, 'one valid ID token: 200')
  const cases: Array<[string, string]> = [
    ['a valid ID token, then junk', `Authorization: Bearer ${token}\r\nAuthorization: Bearer junk\r\n`],
    ['a valid ID token twice', `Authorization: Bearer ${token}\r\nauthorization: Bearer ${token}\r\n`],
    ['a valid API key twice', `X-API-Key: ${KEYS.ci}\r\nx-api-key: ${KEYS.ci}\r\n`],
    ['two valid API keys', `X-API-Key: ${KEYS.ci}\r\nX-API-Key: ${KEYS.ops}\r\n`]
  ]
  for (const [what, headers] of cases) {
    const answer = await exchange([get(headers)], 10_000)
    t.equal(answer.statusCode, 401, `${what}: ${answer.body.slice(0, 160)}`)
    t.equal(errorShapeProblem(answer), undefined)
    t.match(JSON.parse(answer.body).error.message, /send exactly one (authorization|x-api-key) header/)
  }
})

t.test('a token in the query string is never logged', async t => {
  const secret = `ya29.query-secret-${Math.random().toString(36).slice(2)}`
  const answer = await exchange([`GET /v1/jobs?access_token=${secret}&wait=5 HTTP/1.1\r\nHost: x\r\nx-api-key: ${KEYS.ci}\r\nConnection: close\r\n\r\n`], 10_000)
  t.equal(answer.statusCode, 400, 'an unknown query parameter is refused')
  t.notOk(stack.logText().includes(secret), 'the value is in no log line')
  const logged = stack.logLines().filter(line => JSON.stringify(line).includes('access_token'))
  t.ok(logged.length > 0, 'the request itself is still logged')
  t.match(JSON.stringify(logged), /access_token=\[REDACTED\]&wait=5/, 'with the parameter named, its value redacted, plain parameters kept')
})
