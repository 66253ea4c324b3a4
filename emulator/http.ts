import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { errorBody, GoogleError } from './errors.js'

/** A request, read in full, as the handlers see it. */
export interface EmulatorRequest {
  method: string
  path: string
  url: string
  query: URLSearchParams
  headers: IncomingHttpHeaders
  /** The parsed JSON body; undefined when empty. */
  body: unknown
  /** Set when the body was not valid JSON (handlers that read a body answer 400). */
  bodyError?: string
  /** The body as text, for the request log. */
  rawBody: string
}

export interface EmulatorResponse {
  status: number
  json?: unknown
  text?: string
  headers?: Record<string, string>
}

export const MAX_BODY_BYTES = 10 * 1024 * 1024

/**
 * The path and query of a request target. A client behind an HTTP proxy setting (gcloud with
 * `proxy/*` pointed here) sends the absolute form, `http://us-central1-127.0.0.1:P/apis/…`, whose
 * made-up host WHATWG URL parsing rejects, so the scheme and authority are cut off as text.
 */
export function originForm (target: string): string {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target)?.[0] ?? ''
  const rest = target.slice(authority.length)
  return rest.startsWith('/') ? rest : `/${rest}`
}

/** Reads the whole body (up to MAX_BODY_BYTES) and parses it as JSON when there is one. */
export async function readRequest (req: IncomingMessage): Promise<EmulatorRequest> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new GoogleError('INVALID_ARGUMENT', `Request body is larger than ${MAX_BODY_BYTES} bytes.`)
    chunks.push(chunk)
  }
  const rawBody = Buffer.concat(chunks).toString('utf8')
  const url = originForm(req.url ?? '/')
  const target = new URL(url, 'http://emulator.invalid')
  const request: EmulatorRequest = {
    method: req.method ?? 'GET',
    path: target.pathname,
    url,
    query: target.searchParams,
    headers: req.headers,
    body: undefined,
    rawBody
  }
  if (rawBody.trim() !== '') {
    try {
      request.body = JSON.parse(rawBody)
    } catch (error) {
      request.bodyError = `Invalid JSON payload received. ${(error as Error).message}`
    }
  }
  return request
}

/** The request's JSON body, or Google's 400 when it was not JSON. */
export function jsonBody (request: EmulatorRequest): unknown {
  if (request.bodyError !== undefined) throw new GoogleError('INVALID_ARGUMENT', request.bodyError)
  return request.body
}

export function json (body: unknown, status = 200): EmulatorResponse {
  return { status, json: body }
}

/** Google's error JSON for anything thrown by a handler (500 INTERNAL for the unexpected). */
export function errorResponse (error: unknown): EmulatorResponse {
  if (error instanceof GoogleError) return { status: error.httpCode, json: error.toBody(), headers: error.headers }
  return { status: 500, json: errorBody(500, 'INTERNAL', `Internal error in the emulator: ${(error as Error).message}`) }
}

export function send (res: ServerResponse, response: EmulatorResponse): void {
  if (res.destroyed || res.writableEnded) return
  const headers: Record<string, string> = { ...response.headers }
  let payload = ''
  if (response.json !== undefined) {
    headers['Content-Type'] = 'application/json; charset=UTF-8'
    payload = JSON.stringify(response.json)
  } else if (response.text !== undefined) {
    headers['Content-Type'] ??= 'application/text'
    payload = response.text
  }
  res.writeHead(response.status, { ...headers, 'Content-Length': Buffer.byteLength(payload) })
  res.end(payload)
}
