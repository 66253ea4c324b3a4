import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError, apiErrorOf, httpCodeOfStatus, type ErrorStatus } from '../errors.js'
import { UpstreamError } from '../google/upstream-error.js'

interface ValidationIssue { instancePath: string, message?: string, params?: Record<string, unknown> }

/** `/args/0` → `args[0]`, `/env/A` → `env.A`, `` → the part itself. */
function fieldPath (part: string, instancePath: string): string {
  const segments = instancePath.split('/').slice(1)
  if (segments.length === 0) return part
  return segments.map(s => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((path, s, i) => /^\d+$/.test(s) ? `${path}[${s}]` : i === 0 ? s : `${path}.${s}`, '')
}

/** The first useful schema violation, phrased for a person. */
export function describeValidation (issues: readonly ValidationIssue[], part: string): string {
  const unknown = issues.find(issue => Array.isArray(issue.params?.additionalProperties))
  if (unknown !== undefined) {
    const full = String((unknown.params?.additionalProperties as unknown[])[0])
    // A name can be as long as the body: quote enough to recognise it.
    const name = full.length > 64 ? `${full.slice(0, 64)}…` : full
    if (part === 'body' && unknown.instancePath === '/env') return `env.${name}: not a valid variable name`
    const at = unknown.instancePath === '' ? part : fieldPath(part, unknown.instancePath)
    return `${at}: unknown field "${name}"`
  }
  const issue = issues.find(i => i.message !== 'schema is false') ?? issues[0]
  if (issue === undefined) return `${part}: invalid`
  return `${fieldPath(part, issue.instancePath)}: ${issue.message ?? 'invalid'}`
}

const STATUS_OF_CODE = new Map<number, ErrorStatus>(
  (Object.entries(httpCodeOfStatus) as Array<[ErrorStatus, number]>).reverse().map(([status, code]) => [code, status])
)

const FASTIFY_ERRORS: Record<string, { status: ErrorStatus, message: (err: FastifyError) => string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 'PAYLOAD_TOO_LARGE', message: () => 'request body is larger than 256 KiB (4 MiB for a batch)' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 'UNSUPPORTED_MEDIA_TYPE', message: () => 'request bodies must be application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 'INVALID_ARGUMENT', message: () => 'Content-Length does not match the body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 'INVALID_ARGUMENT', message: () => 'body: empty; send a JSON object (or {})' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 'INVALID_ARGUMENT', message: () => 'body: not valid JSON' },
  // Raised before routing (frameworkErrors): a path that cannot be decoded, or a segment longer than any id.
  FST_ERR_BAD_URL: { status: 'INVALID_ARGUMENT', message: () => 'path: not a valid URL (malformed percent-encoding)' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 'INVALID_ARGUMENT', message: () => 'path: a path segment is longer than any job or run id' }
}

/** Everything a client sees when something goes wrong: the contract's shape, never internals. Google's failures are mapped here, once. */
export function toApiError (err: FastifyError & { validation?: ValidationIssue[], validationContext?: string }): ApiError {
  const known = apiErrorOf(err)
  if (known !== undefined) return known
  if (err.validation !== undefined) return new ApiError('INVALID_ARGUMENT', describeValidation(err.validation, err.validationContext ?? 'body'))
  const fastifyError = FASTIFY_ERRORS[err.code]
  if (fastifyError !== undefined) return new ApiError(fastifyError.status, fastifyError.message(err))
  if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new ApiError('INVALID_ARGUMENT', 'body: not valid JSON')
  const code = err.statusCode ?? 500
  if (code >= 400 && code < 500) {
    // Fastify's own 4xx (e.g. prototype poisoning): safe to say what, without internals.
    return new ApiError(STATUS_OF_CODE.get(code) ?? 'INVALID_ARGUMENT', code === 400 ? 'body: not acceptable JSON' : 'request rejected', { httpCode: code })
  }
  return new ApiError('INTERNAL', 'internal error; see the service logs', { cause: err })
}

export function sendError (request: FastifyRequest, reply: FastifyReply, error: ApiError): FastifyReply {
  // Google's ErrorInfo.reason (e.g. IAM_PERMISSION_DENIED, SERVICE_DISABLED) goes to the log, never into the answer.
  const { cause } = error
  const upstream = cause instanceof UpstreamError ? { upstream: { service: cause.context?.service, reason: cause.summary } } : {}
  // What the answer leaves out on purpose (e.g. which of "no such job" and "not yours" a 404 was) is the operator's.
  const ownCause = cause instanceof Error && !(cause instanceof UpstreamError) && !(cause instanceof ApiError)
  const reason = ownCause ? { reason: cause.message } : {}
  const fields = { status: error.status, code: error.httpCode, ...upstream, ...reason }
  if (error.httpCode >= 500) request.log.error({ err: error.cause ?? error, status: error.status, ...upstream }, error.message)
  // Google refusing jobgate's own service account is the operator's to fix (grant the role), not the caller's.
  else if (cause instanceof UpstreamError && cause.httpStatus === 403) request.log.warn(fields, error.message)
  // A caller's mistake is theirs to read in the answer; run attempts have their audit line, and Cloud Run logs each status.
  else request.log.debug(fields, error.message)
  if (error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(error.retryAfterSeconds))
  if (error.location !== undefined) void reply.header('location', error.location)
  return reply.code(error.httpCode).type('application/json').send(error.toBody())
}

/** Fastify's `frameworkErrors`: errors raised before routing or by the HTTP parser get the contract's shape (and a request id) too. */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (err, request, reply) => {
  void sendError(request, reply.header('x-request-id', request.id), toApiError(err))
}

/** Every error a route, hook or unknown path raises leaves as the contract's shape; every answer names its request id. */
export const errorsPlugin = fp(async app => {
  app.setErrorHandler((err: FastifyError, request, reply) => sendError(request, reply, toApiError(err)))
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new ApiError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)))
  // Callback style: an async hook costs every response a promise and a microtask turn.
  app.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id)
    done(null, payload)
  })
}, { name: 'jobgate-errors', fastify: '5.x' })
