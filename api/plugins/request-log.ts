import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { LogController, type FastifyBaseLogger, type FastifyServerOptions } from 'fastify'
import { pino, type Logger, type LoggerOptions } from 'pino'

/** pino levels as Cloud Logging severities. */
const SEVERITY: Record<string, string> = { trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' }

/** Header and field paths whose values are credentials: never written to a log. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers["x-api-key"]',
  // Errors from HTTP libraries often carry the request they failed on (err.headers, err.config.headers).
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.config.headers.authorization',
  '*.config.headers.Authorization',
  'token',
  'accessToken',
  'access_token',
  'apiKey'
]

/** Query parameters of jobgate's own API whose values say nothing secret; every other value is logged as [REDACTED]. */
const PLAIN_QUERY_PARAMETERS = new Set(['wait', 'pageSize', 'since'])

/** A URL as it may be logged: a token sent as `?access_token=…` (or any unknown parameter) loses its value. */
export function redactedUrl (url: string): string {
  const query = url.indexOf('?')
  if (query === -1) return url
  const parts = url.slice(query + 1).split('&').map(part => {
    const equals = part.indexOf('=')
    if (equals === -1) return part
    const name = part.slice(0, equals)
    return PLAIN_QUERY_PARAMETERS.has(name) && /^[\w.:+-]{0,64}$/.test(part.slice(equals + 1)) ? part : `${name}=[REDACTED]`
  })
  return `${url.slice(0, query)}?${parts.join('&')}`
}

interface LoggedRequest { method: string, url: string, host?: string, ip?: string, socket?: { remotePort?: number } }

/** Fastify's request serializer, with the query's values redacted; anything else logged as `req` is left as it is. */
const requestSerializer = (request: LoggedRequest | Record<string, unknown>): Record<string, unknown> => typeof request.url !== 'string'
  ? request as Record<string, unknown>
  : {
      method: request.method,
      url: redactedUrl(request.url),
      host: request.host,
      remoteAddress: request.ip,
      remotePort: (request as LoggedRequest).socket?.remotePort
    }

/** pino writing Cloud Logging structured JSON: `severity`, `message`, `time`. */
export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    messageKey: 'message',
    base: undefined,
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: label => ({ severity: SEVERITY[label] ?? 'DEFAULT' }) },
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    serializers: { req: requestSerializer }
  }
}

/** Cloud Logging's trace fields from `X-Cloud-Trace-Context` or W3C `traceparent`, so request logs group under their trace. */
export function traceFields (headers: IncomingHttpHeaders, project: string | undefined): Record<string, string | boolean> {
  if (project === undefined) return {}
  const cloud = /^([0-9a-f]{32})(?:\/(\d+))?(?:;o=([01]))?/i.exec(String(headers['x-cloud-trace-context'] ?? ''))
  const w3c = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/i.exec(String(headers.traceparent ?? ''))
  const traceId = cloud?.[1] ?? w3c?.[1]
  if (traceId === undefined) return {}
  const fields: Record<string, string | boolean> = { 'logging.googleapis.com/trace': `projects/${project}/traces/${traceId.toLowerCase()}` }
  const spanId = cloud?.[2] !== undefined ? BigInt(cloud[2]).toString(16).padStart(16, '0') : w3c?.[2]
  if (spanId !== undefined) fields['logging.googleapis.com/spanId'] = spanId
  const sampled = cloud?.[3] ?? (w3c !== null ? String(Number.parseInt(w3c[3] ?? '0', 16) & 1) : undefined)
  if (sampled !== undefined) fields['logging.googleapis.com/trace_sampled'] = sampled === '1'
  return fields
}

/** Pretty lines for a person at a terminal; Cloud Logging JSON everywhere else. */
export function createLogger (level: string, pretty = false): Logger {
  if (!pretty) return pino(loggerOptions(level))
  return pino(loggerOptions(level), pino.transport({ target: 'pino-pretty', options: { messageKey: 'message', ignore: 'severity' } }))
}

/** A request id from the caller when it is a sane token, else a fresh one. */
const requestId = (header: string | string[] | undefined): string =>
  typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID()

/**
 * Fastify's logging options: `logger` for every line, `requestId` and the trace fields on each request's lines.
 * Access lines ("incoming request", "request completed") only at LOG_LEVEL=debug or below: Cloud Run already
 * writes a request log for every request, so at info a run request costs one line, its audit line.
 */
export function requestLogOptions (logger: Logger, project: string | undefined): FastifyServerOptions {
  return {
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: request => requestId(request.headers['x-request-id']),
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: () => !logger.isLevelEnabled('debug') }),
    childLoggerFactory: (parent, bindings, options, raw) => parent.child({ ...bindings, ...traceFields(raw.headers, project) }, options)
  }
}
