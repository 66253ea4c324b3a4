import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/**
 * A real local HTTP server that fails the way networks do:
 * `hang` never answers, `slow-body` sends headers then stalls, `reset` drops the connection once the request arrived.
 */
export type Misbehaviour = 'hang' | 'slow-body' | 'reset'

export interface MisbehavingServer {
  url: string
  /** Requests that reached the server. */
  requests: Array<{ method: string, url: string }>
  close: () => Promise<void>
}

export async function startMisbehavingServer (behaviour: Misbehaviour): Promise<MisbehavingServer> {
  const requests: MisbehavingServer['requests'] = []
  const sockets = new Set<Socket>()
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push({ method: request.method ?? '', url: request.url ?? '' })
    request.resume()
    request.on('end', () => {
      if (behaviour === 'reset') request.socket.destroy()
      else if (behaviour === 'slow-body') {
        response.writeHead(200, { 'content-type': 'application/json' })
        response.write('{"metadata":')
      }
    })
  })
  server.on('connection', socket => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

/** A loopback port nothing listens on: a server bound it, then let it go. */
export async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}
