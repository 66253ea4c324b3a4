import { Type, type Static, type TString } from 'typebox'
import { EnvName, ResourceName } from './names.js'

/** Bounds that keep one request small enough to validate cheaply and far below Cloud Run's own limits. */
export const MAX_ARG_BYTES = 4 * 1024
export const MAX_ENV_VALUE_BYTES = 32 * 1024
export const MAX_ENV_ENTRIES = 100
export const MAX_BODY_BYTES = 256 * 1024

const hasNoNul = (text: string): boolean => !text.includes('\u0000')
/** Bounds are in UTF-8 bytes (at most 3 per UTF-16 unit): text of up to a third of the bound in length fits without counting. */
const fitsIn = (maxBytes: number) => (text: string): boolean => text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes

/** A string Cloud Run can carry: no NUL, at most `maxBytes` of UTF-8; `tooLarge` is the refusal, after the field's path. */
function BoundedText (maxBytes: number, tooLarge: string, description: string): TString {
  const text = Type.Refine(Type.String({ description }), hasNoNul, () => 'contains a NUL character')
  return Type.Refine(text, fitsIn(maxBytes), () => tooLarge)
}

/**
 * Every rule of a run request that does not depend on the job, whatever brought it (REST body, Cloud
 * Tasks body, a Pub/Sub message's mapping): checked by one compiled check (api/runs/request-check.ts).
 */
export const RunRequest = Type.Object({
  args: Type.Optional(Type.Array(BoundedText(MAX_ARG_BYTES, `larger than ${MAX_ARG_BYTES / 1024} KiB`, `at most ${MAX_ARG_BYTES / 1024} KiB (UTF-8), no NUL`), {
    maxItems: 1000,
    description: 'replaces the container\'s args'
  })),
  env: Type.Optional(Type.Record(EnvName, BoundedText(MAX_ENV_VALUE_BYTES, `value is larger than ${MAX_ENV_VALUE_BYTES / 1024} KiB`, `at most ${MAX_ENV_VALUE_BYTES / 1024} KiB (UTF-8), no NUL`), {
    maxProperties: MAX_ENV_ENTRIES,
    additionalProperties: false,
    description: 'merged into the container\'s env'
  })),
  clearArgs: Type.Optional(Type.Boolean({ description: 'clear the container\'s args (then args must be empty)' })),
  taskCount: Type.Optional(Type.Integer({ minimum: 1 })),
  timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 }))
}, { additionalProperties: false, $id: 'RunRequest' })
export type RunRequest = Static<typeof RunRequest>

/** What Cloud Run's execution says (a task's state too). */
export const ExecutionState = Type.Union([
  Type.Literal('PENDING'), Type.Literal('RUNNING'), Type.Literal('SUCCEEDED'), Type.Literal('FAILED'), Type.Literal('CANCELLED')
])
export type ExecutionState = Static<typeof ExecutionState>

/** A run's state: an execution's, or QUEUED while a Queue policy holds it back (it has no execution yet). */
export const RunState = Type.Union([Type.Literal('QUEUED'), ...ExecutionState.anyOf])
export type RunState = Static<typeof RunState>

/** Why a run ended without starting (concurrency policy Queue). */
export const QUEUE_TIMEOUT = 'QUEUE_TIMEOUT'

export const Run = Type.Object({
  name: Type.String({
    description: 'the run\'s name for its whole life: the Cloud Run execution name, or, for a run that was queued, jobgate\'s run id'
  }),
  execution: Type.Optional(Type.String({ description: 'a run that was queued, once started: its Cloud Run execution' })),
  position: Type.Optional(Type.Integer({
    minimum: 1, description: 'while QUEUED: its place in the order the job admits queued runs (1 = next)'
  })),
  reason: Type.Optional(Type.Literal(QUEUE_TIMEOUT, {
    description: 'QUEUE_TIMEOUT: queued longer than the job\'s queueTimeoutSeconds, never started (state FAILED)'
  })),
  job: Type.String(),
  state: RunState,
  createTime: Type.Optional(Type.String()),
  startTime: Type.Optional(Type.String()),
  completionTime: Type.Optional(Type.String()),
  taskCount: Type.Integer(),
  runningCount: Type.Integer(),
  succeededCount: Type.Integer(),
  failedCount: Type.Integer(),
  cancelledCount: Type.Integer(),
  retriedCount: Type.Integer(),
  message: Type.Optional(Type.String({ description: 'why the run failed, as Cloud Run reports it' })),
  logUri: Type.Optional(Type.String()),
  links: Type.Object({ self: Type.String(), logs: Type.String() })
}, { $id: 'Run' })
export type Run = Static<typeof Run>

export const RunList = Type.Object({
  runs: Type.Array(Run),
  nextPageToken: Type.Optional(Type.String())
})
export type RunList = Static<typeof RunList>

export const JobParams = Type.Object({ job: ResourceName })
export const RunParams = Type.Object({ job: ResourceName, run: ResourceName })
