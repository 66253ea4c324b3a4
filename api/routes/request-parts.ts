import type { ServerResponse } from 'node:http'
import { Type } from 'typebox'
import { ApiError, invalidArgument } from '../errors.js'
import { idempotencyKeyProblem } from '../idempotency/index.js'
import type { PerCallerConcurrency } from '../policy/concurrency-limit.js'
import type { Caller } from '../policy/run-policy.js'
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

/** The `Idempotency-Key` header, checked: a malformed one is a 400 before anything starts. */
export function idempotencyKeyOf (headers: { 'idempotency-key'?: string }): string | undefined {
  const key = headers['idempotency-key']
  const problem = key === undefined ? undefined : idempotencyKeyProblem(key)
  if (problem !== undefined) throw invalidArgument(problem)
  return key
}

/** A read that `?wait=N` may hold: `read(waitMs, signal)`, holding one of the caller's held-request slots while it waits. */
export async function heldRead<T> (
  waits: PerCallerConcurrency, caller: Caller, waitSeconds: number | undefined, raw: ServerResponse,
  read: (waitMs: number, signal: AbortSignal) => Promise<T>
): Promise<T> {
  const waitMs = (waitSeconds ?? 0) * 1000
  const signal = clientGone(raw)
  const once = async (): Promise<T> => await read(waitMs, signal)
  return waitMs === 0 ? await once() : await waits.hold(caller, once)
}
