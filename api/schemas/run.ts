import { Type, type Static } from 'typebox'
import { EnvName, ResourceName } from './names.js'

/** Bounds that keep one request small enough to validate cheaply and far below Cloud Run's own limits. */
export const MAX_ARG_BYTES = 4 * 1024
export const MAX_ENV_VALUE_BYTES = 32 * 1024
export const MAX_ENV_ENTRIES = 100
export const MAX_BODY_BYTES = 256 * 1024

export const RunRequest = Type.Object({
  args: Type.Optional(Type.Array(Type.String({ maxLength: MAX_ARG_BYTES }), { maxItems: 1000, description: 'replaces the container\'s args' })),
  env: Type.Optional(Type.Record(EnvName, Type.String({ maxLength: MAX_ENV_VALUE_BYTES }), {
    maxProperties: MAX_ENV_ENTRIES,
    additionalProperties: false,
    description: 'merged into the container\'s env'
  })),
  clearArgs: Type.Optional(Type.Boolean({ description: 'clear the container\'s args (then args must be empty)' })),
  taskCount: Type.Optional(Type.Integer({ minimum: 1 })),
  timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 }))
}, { additionalProperties: false, $id: 'RunRequest' })
export type RunRequest = Static<typeof RunRequest>

export const RunState = Type.Union([
  Type.Literal('PENDING'), Type.Literal('RUNNING'), Type.Literal('SUCCEEDED'), Type.Literal('FAILED'), Type.Literal('CANCELLED')
])
export type RunState = Static<typeof RunState>

export const Run = Type.Object({
  name: Type.String({ description: 'the Cloud Run execution name' }),
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
