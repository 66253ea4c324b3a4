import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { ApiError } from '../../errors.js'

/** What the HTTP parser refused, before Fastify saw a request: still answered in the contract's shape. */
function errorFor (code: string | undefined): ApiError {
  if (code === 'HPE_HEADER_OVERFLOW') return new ApiError('INVALID_ARGUMENT', 'request line and headers are larger than the server accepts', { httpCode: 431 })
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new ApiError('DEADLINE_EXCEEDED', 'the request was not received in time', { httpCode: 408 })
  return new ApiError('INVALID_ARGUMENT', 'malformed HTTP request')
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }

/** Fastify's `clientErrorHandler`: a malformed request line or header gets an AIP-193 body, then the socket closes. */
export function clientErrorHandler (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const error = errorFor(err.code)
  this.log.info({ code: err.code, status: error.status }, `client error: ${error.message}`)
  if (socket.writable) {
    const body = JSON.stringify(error.toBody())
    socket.write(`HTTP/1.1 ${error.httpCode} ${REASONS[error.httpCode] ?? 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}
