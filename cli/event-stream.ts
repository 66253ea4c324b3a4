import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'

/** One server-sent event as the CLI reads it. */
export interface StreamEvent {
  event: string
  data: string
  id?: string
}

/** Three missed heartbeats (the server sends one every 15 s): the connection is as good as dropped. */
export const STREAM_IDLE_MS = 45_000

/** Opens a streaming GET over node:http(s); resolves with the response once its headers arrived. */
export async function openStream (url: URL, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<IncomingMessage> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest
  return await new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = request(url, { method: 'GET', headers, ...(signal !== undefined && { signal }) }, resolve)
    outgoing.setTimeout(STREAM_IDLE_MS, () => { outgoing.destroy(Object.assign(new Error(`no data for ${STREAM_IDLE_MS / 1000} s`), { code: 'STREAM_IDLE' })) })
    outgoing.on('error', reject)
    outgoing.end()
  })
}

/** The whole body as text (for an error answer). */
export async function readText (incoming: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of incoming) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Parses `text/event-stream` as it arrives: events end at a blank line; comment lines are skipped. */
export async function* parseEvents (incoming: AsyncIterable<Buffer | string>): AsyncGenerator<StreamEvent> {
  let buffer = ''
  let event: { event?: string, data: string[], id?: string } = { data: [] }
  for await (const chunk of incoming) {
    buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    let newline
    while ((newline = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + (buffer[newline] === '\r' ? 2 : 1))
      if (line === '') {
        if (event.data.length > 0 || event.event !== undefined) {
          yield { event: event.event ?? 'message', data: event.data.join('\n'), ...(event.id !== undefined && { id: event.id }) }
        }
        event = { data: [] }
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') event.event = value
      else if (field === 'data') event.data.push(value)
      else if (field === 'id') event.id = value
    }
  }
}
