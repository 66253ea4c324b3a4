/** Google's canonical codes as Google's own front ends send them (503 for UNAVAILABLE, unlike jobgate's outward 502). */
const httpCodeOf = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504
} as const

export type GoogleStatus = keyof typeof httpCodeOf

/** The usual status name for an HTTP code (for injected failures given only a code). */
export function statusOfHttpCode (code: number): string {
  const found = Object.entries(httpCodeOf).find(([, http]) => http === code)
  return found ? found[0] : code >= 500 ? 'UNKNOWN' : 'FAILED_PRECONDITION'
}

/** An error the emulator answers with, as Google's JSON error body `{error:{code,message,status}}`. */
export class GoogleError extends Error {
  readonly status: string
  readonly httpCode: number
  readonly headers: Record<string, string>

  constructor (status: GoogleStatus, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.name = 'GoogleError'
    this.status = status
    this.httpCode = httpCodeOf[status]
    this.headers = headers
  }

  toBody (): GoogleErrorBody {
    return errorBody(this.httpCode, this.status, this.message)
  }
}

export interface GoogleErrorBody {
  error: { code: number, message: string, status: string }
}

export function errorBody (code: number, status: string, message: string): GoogleErrorBody {
  return { error: { code, message, status } }
}

export const invalidArgument = (message: string): GoogleError => new GoogleError('INVALID_ARGUMENT', message)

/** Google's wording for a caller without the permission (IAM cannot tell it apart from a missing resource). */
export const permissionDenied = (permission: string, resource: string): GoogleError =>
  new GoogleError('PERMISSION_DENIED', `Permission '${permission}' denied on resource '${resource}' (or resource may not exist).`)

/** Cloud Run v1's wording for a missing job or execution. */
export const resourceNotFound = (name: string, kind: 'JOB' | 'EXECUTION' | 'TASK', region: string, project: string): GoogleError =>
  new GoogleError('NOT_FOUND', `Resource '${name}' of kind '${kind}' in region '${region}' in project '${project}' does not exist.`)

export const unauthenticated = (): GoogleError => new GoogleError('UNAUTHENTICATED',
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. ' +
  'See https://developers.google.com/identity/sign-in/web/devconsole-project.',
  { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"' })
