import { Type, type Static } from 'typebox'
import { ResourceName } from './names.js'
import { RunRequest } from './run.js'

/** Runs one batch may hold: one request's worth of work, and one Firestore document of names. */
export const MAX_BATCH_RUNS = 1000
/** A batch's body: up to 1,000 run requests of about 4 KiB each (a single run's body stays at 256 KiB). */
export const MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024

export const BatchRequest = Type.Object({
  runs: Type.Array(RunRequest, {
    minItems: 1, maxItems: MAX_BATCH_RUNS, description: 'each item is checked like a single run request; one bad item refuses the batch'
  })
}, { additionalProperties: false, $id: 'BatchRequest' })
export type BatchRequest = Static<typeof BatchRequest>

/** A batch's state: RUNNING while any of its runs is queued or running, then how they ended. */
export const BatchState = Type.Union([
  Type.Literal('RUNNING'), Type.Literal('SUCCEEDED'), Type.Literal('FAILED'), Type.Literal('CANCELLED')
])
export type BatchState = Static<typeof BatchState>

export const BatchCounts = Type.Object({
  queued: Type.Integer({ description: 'waiting for admission' }),
  running: Type.Integer({ description: 'admitted: starting or running' }),
  succeeded: Type.Integer(),
  failed: Type.Integer({ description: 'failed, including runs that timed out in the queue (QUEUE_TIMEOUT)' }),
  cancelled: Type.Integer()
})
export type BatchCounts = Static<typeof BatchCounts>

export const Batch = Type.Object({
  name: Type.String({ description: 'the batch\'s name: `{job}-b` and 9 characters' }),
  job: Type.String(),
  runs: Type.Array(Type.String(), {
    description: 'the runs\' names, in the request\'s order (each a queued run\'s name for its whole life)'
  }),
  counts: BatchCounts,
  state: BatchState,
  createTime: Type.String(),
  completionTime: Type.Optional(Type.String({ description: 'when the end of its last run was recorded' })),
  links: Type.Object({ self: Type.String() })
}, { $id: 'Batch' })
export type Batch = Static<typeof Batch>

export const BatchParams = Type.Object({ job: ResourceName, batch: ResourceName })
