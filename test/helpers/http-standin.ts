import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import { listenOnLoopback } from '../../bench/lib/loopback.js'

/** One request as a stand-in received it. */
export interface ReceivedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

export interface StandIn {
  /** `http://127.0.0.1:<port>` */
  url: string
  /** `127.0.0.1:<port>` */
  host: string
  received: ReceivedRequest[]
  close: () => Promise<void>
}

export type StandInHandler = (request: ReceivedRequest, response: ServerResponse) => void

/** A real loopback HTTP server that records every request (with its full body) before `handle` answers it. */
export async function startStandIn (handle: StandInHandler): Promise<StandIn> {
  const received: ReceivedRequest[] = []
  const server = createServer((incoming: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const request = { method: incoming.method ?? '', url: incoming.url ?? '', headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8') }
      received.push(request)
      handle(request, response)
    })
  })
  server.keepAliveTimeout = 1000
  return { ...await listenOnLoopback(server), received }
}

export function sendJson (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  response.end(text)
}
