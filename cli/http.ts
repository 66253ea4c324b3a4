import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

export interface HttpCall {
  method: string
  headers: Record<string, string>
  body?: string | undefined
  signal?: AbortSignal | undefined
  /** The whole exchange must end within this. */
  timeoutMs: number
}

/** A request that ran out of time; code TIMEOUT. */
export class HttpTimeout extends Error {
  readonly code = 'TIMEOUT'
}

/**
 * One HTTP exchange over node:http(s), whose parser is native: fetch and the undici package
 * compile a WebAssembly parser that alone lifts the CLI's peak memory by ~35 MB.
 * Idle keep-alive sockets of Node's global agents do not keep the process alive.
 */
export async function send (url: URL, call: HttpCall): Promise<HttpAnswer> {
  const timeout = AbortSignal.timeout(call.timeoutMs)
  const signal = call.signal === undefined ? timeout : AbortSignal.any([call.signal, timeout])
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest
  try {
    return await new Promise<HttpAnswer>((resolve, reject) => {
      const outgoing = request(url, { method: call.method, headers: call.headers, signal }, incoming => {
        const chunks: Buffer[] = []
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
        incoming.on('error', reject)
        incoming.on('end', () => { resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, text: Buffer.concat(chunks).toString('utf8') }) })
      })
      outgoing.on('error', reject)
      outgoing.end(call.body)
    })
  } catch (error) {
    if (timeout.aborted && call.signal?.aborted !== true) throw new HttpTimeout(`no complete answer in ${Math.round(call.timeoutMs / 1000)} s`)
    throw error
  }
}
