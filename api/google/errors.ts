import { ApiError, type ErrorStatus } from '../errors.js'
import { UpstreamError } from './http.js'

/** What only the caller knows about a failed call: which service, what it needs, what 404 means. */
export interface FailureContext {
  service: string
  /** The sentence for a 403: the missing permission and the role that grants it. */
  permissionAdvice: string
  /** The sentence for a 404. */
  notFound: string
  /** The call starts a run: say whether one may have started, and mark the error for idempotency. */
  startsRun?: { checkUrl: string }
}

const KNOWN_CONFLICTS = new Set<ErrorStatus>(['ABORTED', 'ALREADY_EXISTS'])

/** A Google API's failure as the contract's error, with what the user must do about it. */
export function upstreamApiError (err: unknown, context: FailureContext): ApiError {
  if (err instanceof ApiError) return err
  if (!(err instanceof UpstreamError)) throw err
  const { service } = context
  // When a run call's fate is unknown, say so: retrying blindly could start the job twice.
  const unknownOutcome = context.startsRun !== undefined && !err.provenUnprocessed
  const maybeStarted = unknownOutcome
    ? ` It is unknown whether a run started: check GET ${context.startsRun?.checkUrl ?? ''} before retrying, or retry with the same Idempotency-Key.`
    : ''
  const runFlag = context.startsRun !== undefined ? { runMayHaveStarted: unknownOutcome } : {}

  if (err.kind === 'timeout') return new ApiError('DEADLINE_EXCEEDED', `${service} did not answer in time.${maybeStarted}`, { ...runFlag, cause: err })
  if (err.kind === 'saturated') return new ApiError('RESOURCE_EXHAUSTED', `jobgate is at its limit of calls to ${service}: ${err.message}; retry shortly.`, { ...runFlag, retryAfterSeconds: 1, cause: err })
  if (err.kind === 'queued') return new ApiError('DEADLINE_EXCEEDED', `${service} did not answer in time: ${err.message}; nothing was sent.`, { ...runFlag, cause: err })
  if (err.kind === 'refused' || err.kind === 'connection') {
    return new ApiError('UNAVAILABLE', `${service} could not be reached: ${err.message}.${maybeStarted}`, { ...runFlag, cause: err })
  }
  const upstream = err.message
  switch (err.httpStatus) {
    case 400: return new ApiError('INVALID_ARGUMENT', `${service} rejected the request: ${upstream}`, { cause: err })
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
