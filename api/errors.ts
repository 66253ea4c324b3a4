import { UpstreamError, type CallContext } from './google/upstream-error.js'
import type { ErrorResponse } from './schemas/error.js'

/** Google's canonical status names (AIP-193) and the HTTP codes they travel with. */
export const httpCodeOfStatus = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  ALREADY_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE_ENTITY: 422,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNKNOWN: 500,
  DATA_LOSS: 500,
  NOT_IMPLEMENTED: 501,
  UNAVAILABLE: 502,
  DEADLINE_EXCEEDED: 504
} as const

export type ErrorStatus = keyof typeof httpCodeOfStatus

/** The contract's error body: `{ error: { code, status, message } }`, plus `runMayHaveStarted` on 502/504 of a run request, `runningRuns` on a concurrency 409. */
export type ErrorBody = ErrorResponse

export interface ApiErrorOptions {
  /** HTTP code when it differs from the status's usual one (e.g. 503 UNAVAILABLE for backpressure). */
  httpCode?: number
  /** Seconds, sent as `Retry-After`. */
  retryAfterSeconds?: number
  runMayHaveStarted?: boolean
  /** Sent as `Location`: where the caller can look (e.g. the running run that caused a 409). */
  location?: string
  cause?: unknown
}

/** The one error type of the API: everything thrown toward a client becomes one of these. */
export class ApiError extends Error {
  readonly status: ErrorStatus
  readonly httpCode: number
  readonly retryAfterSeconds: number | undefined
  readonly runMayHaveStarted: boolean | undefined
  readonly location: string | undefined

  constructor (status: ErrorStatus, message: string, options: ApiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ApiError'
    this.status = status
    this.httpCode = options.httpCode ?? httpCodeOfStatus[status]
    this.retryAfterSeconds = options.retryAfterSeconds
    this.runMayHaveStarted = options.runMayHaveStarted
    this.location = options.location
  }

  toBody (): ErrorBody {
    const body: ErrorBody = { error: { code: this.httpCode, status: this.status, message: this.message } }
    if (this.runMayHaveStarted !== undefined) body.error.runMayHaveStarted = this.runMayHaveStarted
    return body
  }
}

export const invalidArgument = (message: string): ApiError => new ApiError('INVALID_ARGUMENT', message)
/** `cause` is for the log line only: never in the answer. */
export const notFound = (message: string, cause?: unknown): ApiError => new ApiError('NOT_FOUND', message, cause === undefined ? {} : { cause })
export const permissionDenied = (message: string): ApiError => new ApiError('PERMISSION_DENIED', message)
export const unauthenticated = (message: string): ApiError => new ApiError('UNAUTHENTICATED', message)

/** The API's meaning of any error from below: an ApiError as is, a Google API's failure mapped; undefined for anything else (a bug). */
export function apiErrorOf (err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err
  if (err instanceof UpstreamError) return fromUpstream(err)
  return undefined
}

/** For an UpstreamError of a call made without a context (direct GoogleHttp use). */
const SOME_GOOGLE_API: CallContext = {
  service: 'A Google API',
  operation: 'call',
  permissionAdvice: 'jobgate\'s service account lacks a permission this call needs.',
  notFound: 'not found.'
}

const KNOWN_CONFLICTS = new Set<ErrorStatus>(['ABORTED', 'ALREADY_EXISTS'])

/** A Google API's failure as the contract's error, with what the user must do about it. */
function fromUpstream (err: UpstreamError): ApiError {
  const context = err.context ?? SOME_GOOGLE_API
  const { service } = context
  // When a run call's fate is unknown, say so: retrying blindly could start the job twice.
  const unknownOutcome = context.startsRun !== undefined && !err.provenUnprocessed
  const maybeStarted = unknownOutcome
    ? ` It is unknown whether a run started: check GET ${context.startsRun?.checkUrl ?? ''} before retrying, or retry with the same Idempotency-Key.`
    : ''
  const runFlag = context.startsRun !== undefined ? { runMayHaveStarted: unknownOutcome } : {}

  switch (err.kind) {
    // The client sees only that it failed; the library's details (metadata answers, paths) go to the log via `cause`.
    case 'token': return new ApiError('UNAVAILABLE', 'jobgate could not get an access token for Google APIs; see the service logs.', { runMayHaveStarted: false, cause: err.cause })
    case 'not-found': return new ApiError('NOT_FOUND', context.notFound, { cause: err })
    case 'timeout': return new ApiError('DEADLINE_EXCEEDED', `${service} did not answer in time.${maybeStarted}`, { ...runFlag, cause: err })
    case 'saturated': return new ApiError('RESOURCE_EXHAUSTED', `jobgate is at its limit of calls to ${service}: ${err.message}; retry shortly.`, { ...runFlag, retryAfterSeconds: 1, cause: err })
    case 'queued': return new ApiError('DEADLINE_EXCEEDED', `${service} did not answer in time: ${err.message}; nothing was sent.`, { ...runFlag, cause: err })
    case 'refused':
    case 'connection': return new ApiError('UNAVAILABLE', `${service} could not be reached: ${err.message}.${maybeStarted}`, { ...runFlag, cause: err })
    case 'http': break
  }
  const upstream = err.message
  switch (err.httpStatus) {
    case 400: return err.googleStatus === 'FAILED_PRECONDITION'
      ? new ApiError('FAILED_PRECONDITION', context.failedPrecondition ?? `${service} refused the request in its current state: ${upstream}`, { cause: err })
      : new ApiError('INVALID_ARGUMENT', `${service} rejected the request: ${upstream}`, { cause: err })
    // Rejected credentials prove nothing was processed.
    case 401: return new ApiError('UNAVAILABLE', `${service} did not accept jobgate's own credentials: ${upstream}`, {
      ...(context.startsRun !== undefined && { runMayHaveStarted: false }),
      cause: err
    })
    case 403: return new ApiError('PERMISSION_DENIED', `${context.permissionAdvice} ${service} said: ${upstream}`, { cause: err })
    case 404: return new ApiError('NOT_FOUND', context.notFound, { cause: err })
    case 409: {
      const status = KNOWN_CONFLICTS.has(err.googleStatus as ErrorStatus) ? err.googleStatus as ErrorStatus : 'ABORTED'
      return new ApiError(status, `${service} reported a conflict: ${upstream}`, { cause: err })
    }
    case 429: return new ApiError('RESOURCE_EXHAUSTED', `${service} is rate limiting jobgate: ${upstream}`, { retryAfterSeconds: err.retryAfterSeconds ?? 10, cause: err })
    default: return new ApiError('UNAVAILABLE', `${service} failed (HTTP ${err.httpStatus ?? '?'}): ${upstream}.${maybeStarted}`, {
      ...runFlag,
      ...(err.retryAfterSeconds !== undefined && { retryAfterSeconds: err.retryAfterSeconds }),
      cause: err
    })
  }
}
