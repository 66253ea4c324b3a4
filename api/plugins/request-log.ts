import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { LogController, type FastifyBaseLogger, type FastifyServerOptions } from 'fastify'
import { pino, type Logger, type LoggerOptions } from 'pino'
import { redactCredentials } from './log-redaction.js'

/** pino levels as Cloud Logging severities. */
const SEVERITY: Record<string, string> = { trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' }

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

let stampedAt = -1
let stamp = ''

/** pino's `time` field; formatted once per millisecond, since a busy server writes several lines in one. */
function timeField (): string {
  const now = Date.now()
  if (now !== stampedAt) {
    stampedAt = now
    stamp = `,"time":"${new Date(now).toISOString()}"`
  }
  return stamp
}

/** pino writing Cloud Logging structured JSON: `severity`, `message`, `time`. */
export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    messageKey: 'message',
    base: undefined,
    timestamp: timeField,
    formatters: { level: label => ({ severity: SEVERITY[label] ?? 'DEFAULT' }), log: redactCredentials },
    serializers: { req: requestSerializer }
  }
}

const TRACE_FIELD = 'logging.googleapis.com/trace'

/** The trace id of `X-Cloud-Trace-Context` (Cloud Run sets it on every request) or W3C `traceparent`, lowercased. */
export function traceId (headers: IncomingHttpHeaders): string | undefined {
  const cloud = /^([0-9a-f]{32})/i.exec(String(headers['x-cloud-trace-context'] ?? ''))
  const w3c = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/i.exec(String(headers.traceparent ?? ''))
  return (cloud?.[1] ?? w3c?.[1])?.toLowerCase()
}

/**
 * Cloud Logging's trace field, so request logs group under their trace beside Cloud Run's own request log.
 * Only the trace: spanId and trace_sampled cost ~90 bytes a line and jobgate makes no spans to link them to.
 */
export function traceFields (headers: IncomingHttpHeaders, project: string | undefined): Record<string, string> {
  const id = traceId(headers)
  return project === undefined || id === undefined ? {} : { [TRACE_FIELD]: `projects/${project}/traces/${id}` }
}

/** Pretty lines for a person at a terminal; Cloud Logging JSON everywhere else. */
export function createLogger (level: string, pretty = false): Logger {
  if (!pretty) return pino(loggerOptions(level))
  return pino(loggerOptions(level), pino.transport({ target: 'pino-pretty', options: { messageKey: 'message', ignore: 'severity' } }))
}

/** The caller's `X-Request-Id` when it is a sane token. */
const callersRequestId = (header: string | string[] | undefined): string | undefined =>
  typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : undefined

/**
 * Fastify's logging options: `logger` for every line, `requestId` and the trace field on each request's lines.
 * The request id is the caller's `X-Request-Id`, else the trace id (then the trace field carries it, once a line),
 * else a fresh one. Access lines ("incoming request", "request completed") only at LOG_LEVEL=debug or below:
 * Cloud Run already writes a request log for every request, so at info a run request costs one line, its audit line.
 */
export function requestLogOptions (logger: Logger, project: string | undefined): FastifyServerOptions {
  return {
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: request => callersRequestId(request.headers['x-request-id']) ?? (project === undefined ? undefined : traceId(request.headers)) ?? randomUUID(),
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: () => !logger.isLevelEnabled('debug') }),
    childLoggerFactory: (parent, bindings, options, raw) => {
      const trace = traceFields(raw.headers, project)
      const { requestId, ...rest } = bindings
      const idInTrace = typeof requestId === 'string' && trace[TRACE_FIELD]?.endsWith(`/traces/${requestId}`) === true
      return parent.child({ ...(idInTrace ? rest : bindings), ...trace }, options)
    }
  }
}
