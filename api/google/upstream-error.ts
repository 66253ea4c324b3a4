/** What only the caller of a Google API knows about a call: which service and operation, what a 403 or 404 means. */
export interface CallContext {
  service: string
  /** The API method, e.g. `jobs.run`: named in retry lines and logs. */
  operation: string
  /** The sentence for a 403: the missing permission and the role that grants it. */
  permissionAdvice: string
  /** The sentence for a 404. */
  notFound: string
  /** The sentence for a 400 FAILED_PRECONDITION: the state that forbids the call (default: the service's own words). */
  failedPrecondition?: string
  /** The call starts a run: the edge says whether one may have started, and where to check. */
  startsRun?: { checkUrl: string }
}

export type FailureKind =
  | 'http' // the server answered with an error status
  | 'refused' // the request never left: connection refused, DNS failure, connect timeout
  | 'timeout' // sent, then no (complete) answer in time
  | 'connection' // sent, then the connection broke
  | 'queued' // never sent: every connection stayed busy for as long as the request could wait
  | 'saturated' // never sent: every connection busy and the queue behind them full
  | 'token' // never sent: no access token could be had
  | 'not-found' // answered, but not with the resource asked for (e.g. an execution of another job)

export interface UpstreamErrorDetails {
  httpStatus?: number
  googleStatus?: string
  /** ErrorInfo.reason from Google's error body, e.g. IAM_PERMISSION_DENIED, SERVICE_DISABLED. */
  reason?: string
  /** The transport's error code, e.g. ECONNRESET, UND_ERR_HEADERS_TIMEOUT. */
  code?: string
  retryAfterSeconds?: number
  context?: CallContext
  cause?: unknown
}

/**
 * A failed call to a Google API, classified by what is known about whether it was processed.
 * The Google layer's own error: the API maps it to its contract's error once, at the edge.
 */
export class UpstreamError extends Error {
  readonly kind: FailureKind
  readonly httpStatus: number | undefined
  /** Google's canonical status from the error body, e.g. PERMISSION_DENIED. */
  readonly googleStatus: string | undefined
  readonly reason: string | undefined
  readonly code: string | undefined
  readonly retryAfterSeconds: number | undefined
  /** Set by the client that made the call; absent only for direct GoogleHttp use. */
  readonly context: CallContext | undefined

  constructor (kind: FailureKind, message: string, details: UpstreamErrorDetails = {}) {
    super(message, { cause: details.cause })
    this.name = 'UpstreamError'
    this.kind = kind
    this.httpStatus = details.httpStatus
    this.googleStatus = details.googleStatus
    this.reason = details.reason
    this.code = details.code
    this.retryAfterSeconds = details.retryAfterSeconds
    this.context = details.context
  }

  /** The same failure, told which call it was. */
  withContext (context: CallContext | undefined): UpstreamError {
    if (context === undefined || this.context !== undefined) return this
    const { kind, message, httpStatus, googleStatus, reason, code, retryAfterSeconds, cause } = this
    return new UpstreamError(kind, message, { httpStatus, googleStatus, reason, code, retryAfterSeconds, context, cause })
  }

  /** True when the failure proves the server did not process the request. */
  get provenUnprocessed (): boolean {
    return this.kind === 'refused' || this.kind === 'queued' || this.kind === 'saturated' || this.kind === 'token' ||
      this.httpStatus === 429 || (this.httpStatus === 503 && this.googleStatus === 'UNAVAILABLE')
  }

  get transient (): boolean {
    return this.provenUnprocessed || this.kind === 'timeout' || this.kind === 'connection' || [500, 502, 503, 504].includes(this.httpStatus ?? 0)
  }

  /** A few words for logs: `http 503`, `http 403 IAM_PERMISSION_DENIED`, `connection ECONNRESET`, `timeout UND_ERR_HEADERS_TIMEOUT`. */
  get summary (): string {
    const what = this.kind === 'http' ? `http ${this.httpStatus ?? '?'}` : this.kind
    const detail = this.reason ?? this.code
    return detail === undefined ? what : `${what} ${detail}`
  }
}
