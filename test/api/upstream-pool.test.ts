// The bounded upstream pool, proven by counting sockets at a real loopback stand-in.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { CloudRunRestClient } from '../../api/cloudrun/client.js'
import { ApiError, apiErrorOf } from '../../api/errors.js'
import { ConnectionGate, GateRefusal } from '../../api/google/connection-gate.js'
import { GoogleHttp, type GoogleHttpOptions } from '../../api/google/http.js'
import { CachedTokenSource } from '../../api/google/token.js'
import { testEntry } from '../helpers/catalog-entry.js'

interface CountingServer { url: string, peakSockets: () => number, requests: () => number }

/** A server that answers each request after `delayMs` (never, when undefined), counting sockets and requests. */
async function countingServer (t: Test, delayMs: number | undefined): Promise<CountingServer> {
  let open = 0
  let peak = 0
  let requests = 0
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests++
    request.resume()
    if (delayMs === undefined) return
    setTimeout(() => { response.writeHead(200, { 'content-type': 'application/json' }).end('{"metadata":{"name":"e-1","labels":{"run.googleapis.com/job":"echo"}}}') }, delayMs)
  })
  server.on('connection', socket => {
    peak = Math.max(peak, ++open)
    socket.on('close', () => { open-- })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, peakSockets: () => peak, requests: () => requests }
}

function client (t: Test, options: Partial<GoogleHttpOptions>): { http: GoogleHttp, tokenFetches: () => number } {
  let fetches = 0
  const tokens = new CachedTokenSource(async () => {
    fetches++
    await new Promise(resolve => setTimeout(resolve, 20))
    return { token: 'ya29.pool-test', expiresAt: Date.now() + 3_600_000 }
  })
  const http = new GoogleHttp({ tokens, sleep: async () => {}, ...options })
  t.teardown(async () => { await http.close() })
  return { http, tokenFetches: () => fetches }
}

t.test('60 concurrent calls open at most JOBGATE_UPSTREAM_CONNECTIONS sockets, all are answered, and share one token fetch', async t => {
  const upstream = await countingServer(t, 30)
  const { http, tokenFetches } = client(t, { limits: { connections: 4, maxQueued: 100 } })
  const results = await Promise.all(Array.from({ length: 60 }, async () => await http.call<{ metadata: { name: string } }>({ method: 'GET', url: `${upstream.url}/x`, retry: 'safe' })))
  t.equal(results.filter(result => result.metadata.name === 'e-1').length, 60, 'every call answered')
  t.equal(upstream.requests(), 60)
  t.equal(upstream.peakSockets(), 4, 'never more than 4 sockets, and the pool used all 4')
  t.equal(tokenFetches(), 1, 'one token fetch for 60 concurrent calls')
})

t.test('the default bound is 32 sockets per origin', async t => {
  const upstream = await countingServer(t, 30)
  const { http } = client(t, {})
  await Promise.all(Array.from({ length: 100 }, async () => await http.call({ method: 'GET', url: `${upstream.url}/x`, retry: 'safe' })))
  t.equal(upstream.peakSockets(), 32)
})

t.test('pool saturated and the upstream hanging: sent runs get 504 with runMayHaveStarted, queued ones 504 without, the rest 429 at once', async t => {
  const upstream = await countingServer(t, undefined)
  const { http } = client(t, { timeouts: { headersMs: 600 }, limits: { connections: 2, maxQueued: 2, maxWaitMs: 200 } })
  const cloudRun = new CloudRunRestClient(http, upstream.url)
  const outcomes = await Promise.all(
    Array.from(
      { length: 6 },
      async () =>
        await cloudRun.runJob(testEntry(), {}).then(
          () => undefined,
          (err: unknown) => err
        )
    )
  )
  const errors = outcomes.map(err => {
    const apiError = apiErrorOf(err)
    t.type(apiError, ApiError)
    const { httpCode, runMayHaveStarted, message } = apiError as ApiError
    return { httpCode, runMayHaveStarted, message }
  })
  const count = (httpCode: number, started: boolean): number =>
    errors.filter(e => e.httpCode === httpCode && e.runMayHaveStarted === started).length
  t.equal(count(504, true), 2, 'the two sent: timed out, a run may have started')
  t.equal(count(504, false), 2, 'the two that waited for a connection: timed out, nothing was sent')
  t.equal(count(429, false), 2, 'past the queue: refused at once (429, Retry-After 1), nothing was sent')
  t.match(errors.find(e => e.httpCode === 429)?.message, /all 2 connections to .* are busy and 2 requests already wait/)
  t.equal(upstream.requests(), 2, 'only the two admitted requests reached the upstream')
  t.equal(upstream.peakSockets(), 2)
})

t.test('the gate hands a freed connection to the first waiter, and forgets an idle origin', async t => {
  const gate = new ConnectionGate({ connections: 1, maxQueued: 1, maxWaitMs: 1000 })
  const first = await gate.acquire('o')
  const order: string[] = []
  const second = gate.acquire('o').then(release => { order.push('second'); return release })
  await t.rejects(gate.acquire('o'), GateRefusal, 'queue of one is full')
  first()
  ;(await second)()
  t.same(order, ['second'])
  const again = await gate.acquire('o')
  again()
})

t.test('JOBGATE_UPSTREAM_CONNECTIONS sets the bound; default 32; 0 or a word is a configuration error', async t => {
  const { loadConfig } = await import('../../api/config.js')
  const { ConfigError } = await import('../../api/config-error.js')
  t.equal(loadConfig({ JOBGATE_MODE: 'local' }).upstreamConnections, 32)
  t.equal(loadConfig({ JOBGATE_MODE: 'local', JOBGATE_UPSTREAM_CONNECTIONS: '8' }).upstreamConnections, 8)
  for (const bad of ['0', 'many', '1001']) t.throws(() => loadConfig({ JOBGATE_MODE: 'local', JOBGATE_UPSTREAM_CONNECTIONS: bad }), ConfigError)
})
