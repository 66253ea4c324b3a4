import { Type, type Static } from 'typebox'

/** Google's AIP-193 error shape, used by every error response. */
export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.Integer(),
    status: Type.String(),
    message: Type.String(),
    runMayHaveStarted: Type.Optional(Type.Boolean({ description: 'on 502/504 from a run request: whether a run may have started' }))
  })
}, { $id: 'Error' })
export type ErrorResponse = Static<typeof ErrorResponse>
