import type { JobEntry } from '../catalog.js'
import { ApiError, type ErrorStatus } from '../errors.js'
import { UpstreamError } from '../google/http.js'

export type Operation = 'run' | 'get' | 'list' | 'cancel'

export interface OperationContext {
  op: Operation
  entry: JobEntry
  /** For `run`: whether overrides were sent (they need a stronger permission). */
  withOverrides?: boolean
  /** For `get` / `cancel`: the execution name. */
  execution?: string
}

/** Which permission each operation needs, and the least role that grants it. */
function permissionFor (context: OperationContext): { permission: string, role: string } {
  switch (context.op) {
    case 'run': return context.withOverrides === true
      ? { permission: 'run.jobs.runWithOverrides', role: 'roles/run.jobsExecutorWithOverrides' }
      : { permission: 'run.jobs.run', role: 'roles/run.jobsExecutor' }
    case 'cancel': return { permission: 'run.executions.cancel', role: 'roles/run.jobsExecutorWithOverrides' }
    case 'get': return { permission: 'run.executions.get', role: 'roles/run.viewer' }
    case 'list': return { permission: 'run.executions.list', role: 'roles/run.viewer' }
  }
}

const KNOWN_CONFLICTS = new Set<ErrorStatus>(['ABORTED', 'ALREADY_EXISTS'])

/** Cloud Run's failure as the contract's error, with what the user must do about it. */
export function cloudRunError (err: unknown, context: OperationContext): ApiError {
  if (err instanceof ApiError) return err
  if (!(err instanceof UpstreamError)) throw err
  const { entry } = context
  const where = `project "${entry.project}", region "${entry.region}"`
  const startsRun = context.op === 'run'
  // When a run call's fate is unknown, say so: retrying blindly could start the job twice.
  const unknownOutcome = startsRun && !err.provenUnprocessed
  const maybeStarted = unknownOutcome
    ? ` It is unknown whether a run started: check GET /v1/jobs/${entry.id}/runs before retrying, or retry with the same Idempotency-Key.`
    : ''
  const runFlag = startsRun ? { runMayHaveStarted: unknownOutcome } : {}

  if (err.kind === 'timeout') return new ApiError('DEADLINE_EXCEEDED', `Cloud Run did not answer in time.${maybeStarted}`, { ...runFlag, cause: err })
  if (err.kind === 'refused' || err.kind === 'connection') {
    return new ApiError('UNAVAILABLE', `Cloud Run could not be reached: ${err.message}.${maybeStarted}`, { ...runFlag, cause: err })
  }
  const upstream = err.message
  switch (err.httpStatus) {
    case 400: return new ApiError('INVALID_ARGUMENT', `Cloud Run rejected the request: ${upstream}`, { cause: err })
    case 401: return new ApiError('UNAVAILABLE', `Cloud Run did not accept jobgate's own credentials: ${upstream}`, { ...(startsRun && { runMayHaveStarted: false }), cause: err })
    case 403: {
      const { permission, role } = permissionFor(context)
      return new ApiError('PERMISSION_DENIED',
        `jobgate's service account lacks ${permission} on Cloud Run job "${entry.job}" (${where}): grant ${role} on that job to it. Cloud Run said: ${upstream}`,
        { cause: err })
    }
    case 404: return context.execution === undefined
      ? new ApiError('NOT_FOUND', `Cloud Run job "${entry.job}" does not exist in ${where}.`, { cause: err })
      : new ApiError('NOT_FOUND', `run "${context.execution}" of job "${entry.id}" not found.`, { cause: err })
    case 409: {
      const status = KNOWN_CONFLICTS.has(err.googleStatus as ErrorStatus) ? err.googleStatus as ErrorStatus : 'ABORTED'
      return new ApiError(status, `Cloud Run reported a conflict: ${upstream}`, { cause: err })
    }
    case 429: return new ApiError('RESOURCE_EXHAUSTED', `Cloud Run is rate limiting jobgate: ${upstream}`, { retryAfterSeconds: err.retryAfterSeconds ?? 10, cause: err })
    default: return new ApiError('UNAVAILABLE', `Cloud Run failed (HTTP ${err.httpStatus ?? '?'}): ${upstream}.${maybeStarted}`, {
      ...runFlag,
      ...(err.retryAfterSeconds !== undefined && { retryAfterSeconds: err.retryAfterSeconds }),
      cause: err
    })
  }
}
