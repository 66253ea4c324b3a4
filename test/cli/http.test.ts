import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { HttpTimeout, send } from '../../cli/http.js'

/** A loopback server that reads requests and never answers. */
async function silentServer (t: Test): Promise<URL> {
  const server = createServer(request => { request.resume() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
}

t.test('no complete answer in time is an HttpTimeout (code TIMEOUT)', async t => {
  const url = await silentServer(t)
  const err = await send(url, { method: 'GET', headers: {}, timeoutMs: 100 }).then(() => undefined, (e: unknown) => e)
  t.type(err, HttpTimeout)
  t.equal((err as HttpTimeout).code, 'TIMEOUT')
})

t.test('the caller aborting is an abort, not a timeout', async t => {
  const url = await silentServer(t)
  const controller = new AbortController()
  setTimeout(() => { controller.abort() }, 50)
  const err = await send(url, { method: 'POST', headers: {}, body: '{}', signal: controller.signal, timeoutMs: 10_000 }).then(() => undefined, (e: unknown) => e)
  t.notOk(err instanceof HttpTimeout)
  t.equal((err as Error).name, 'AbortError')
})

t.test('https: URLs go over TLS (a plain-HTTP server fails the handshake)', async t => {
  const url = await silentServer(t)
  url.protocol = 'https:'
  const err = await send(url, { method: 'GET', headers: {}, timeoutMs: 2_000 }).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof Error && !(err instanceof HttpTimeout), String(err))
})
