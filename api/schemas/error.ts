import { Type, type Static } from 'typebox'

/** Google's AIP-193 error shape, used by every error response. */
export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.Integer(),
    status: Type.String(),
    message: Type.String(),
    runMayHaveStarted: Type.Optional(Type.Boolean({ description: 'on 502/504 from a run request: whether a run may have started' })),
    runningRuns: Type.Optional(Type.Array(Type.String(), { description: 'on 409 from the job\'s concurrency policy: the runs still running (Location points at the first)' }))
  })
}, { $id: 'Error' })
export type ErrorResponse = Static<typeof ErrorResponse>

/** A route's error answers, all in the one shape: `errorResponses(400, 404)` is `{ 400: ErrorResponse, 404: ErrorResponse }`. */
export function errorResponses<C extends number> (...codes: C[]): Record<C, typeof ErrorResponse> {
  return Object.fromEntries(codes.map(code => [code, ErrorResponse])) as Record<C, typeof ErrorResponse>
}

/** What a route that starts a run may answer besides the run: REST, Pub/Sub push and Cloud Tasks alike. */
export const START_RUN_ERRORS = errorResponses(400, 401, 403, 404, 409, 422, 429, 502, 503, 504)
/** What a route that reads a job's runs may answer besides the answer. */
export const READ_ERRORS = errorResponses(400, 401, 403, 404, 429, 502, 504)
