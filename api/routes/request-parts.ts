import type { ServerResponse } from 'node:http'
import { Type } from 'typebox'
import { ApiError } from '../errors.js'
import { MAX_WAIT_SECONDS } from '../runs/wait.js'

/** `?wait=N`: hold the answer up to N seconds. */
export const WaitQuery = Type.Object({
  wait: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_SECONDS }))
}, { additionalProperties: false })

/** A body-less or form POST (what any web page can send to a laptop's jobgate) starts nothing. */
export const jsonRequired = (what: string, body: string): ApiError => new ApiError('UNSUPPORTED_MEDIA_TYPE',
  `${what}: send Content-Type: application/json and a body ${body}`)

/** Aborts when the client hangs up before its answer was written. */
export function clientGone (raw: ServerResponse): AbortSignal {
  const controller = new AbortController()
  raw.once('close', () => { if (!raw.writableFinished) controller.abort() })
  return controller.signal
}
