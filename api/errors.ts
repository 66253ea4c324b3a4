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
export const notFound = (message: string): ApiError => new ApiError('NOT_FOUND', message)
export const permissionDenied = (message: string): ApiError => new ApiError('PERMISSION_DENIED', message)
export const unauthenticated = (message: string): ApiError => new ApiError('UNAUTHENTICATED', message)
