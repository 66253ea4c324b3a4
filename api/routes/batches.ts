import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { notFound } from '../errors.js'
import { REPLAYED_HEADER } from '../idempotency/index.js'
import type { RunLifecycle } from '../lifecycle/index.js'
import { maySeeTenant } from '../policy/run-access.js'
import { auditedBy } from '../plugins/audit.js'
import { auditBatchAttempt } from '../runs/audit.js'
import { batchRequestRoute } from '../runs/request-check.js'
import { Batch, BatchParams, BatchRequest, MAX_BATCH_BODY_BYTES } from '../schemas/batch.js'
import { READ_ERRORS, START_RUN_ERRORS } from '../schemas/error.js'
import { JobParams } from '../schemas/run.js'
import type { RouteContext } from './context.js'
import { heldRead, idempotencyKeyOf, jsonRequired, WaitQuery } from './request-parts.js'

export interface BatchContext extends RouteContext {
  /** Where batches are recorded and counted (api/lifecycle/batches.ts). */
  batches: RunLifecycle['batches']
}

export const batchRoutes: FastifyPluginAsyncTypebox<BatchContext> = async (app, { access, starter, budgets, waits, batches }) => {
  app.post('/v1/jobs/:job/batches', {
    config: { auditTrigger: 'api' },
    // One of the caller's run starts: the runs wait in the job's queue, which admits them at its own pace.
    preHandler: budgets.runs,
    bodyLimit: MAX_BATCH_BODY_BYTES,
    validatorCompiler: batchRequestRoute,
    schema: {
      summary: 'Queue up to 1,000 runs of a Queue job at once, as one batch',
      params: JobParams,
      headers: Type.Object({
        'idempotency-key': Type.Optional(Type.String({
          description: 'repeats with the same key and body return the first response (header Idempotency-Replayed: true) ' +
            'and queue nothing; kept 24 h'
        }))
      }),
      body: BatchRequest,
      response: { 202: Batch, ...START_RUN_ERRORS }
    },
    preValidation: async request => {
      if (request.body === undefined) throw jsonRequired('a batch is a JSON object', '({"runs": [run request, …]})')
    }
  }, async (request, reply) => {
    const entry = access.entryFor(request.params.job, request.caller)
    const key = idempotencyKeyOf(request.headers)
    const { batch, replayed } = await starter.startBatch({
      entry,
      requests: request.body.runs,
      caller: request.caller,
      log: request.log,
      fingerprintOf: request.body,
      audit: auditedBy(request, auditBatchAttempt),
      ...(key !== undefined && { idempotencyKey: key })
    })
    void reply.code(202).header('location', batch.links.self)
    if (replayed) void reply.header(REPLAYED_HEADER, 'true')
    return await reply.send(batch)
  })

  app.get('/v1/jobs/:job/batches/:batch', {
    preHandler: budgets.reads,
    schema: {
      summary: 'Read a batch and its runs\' progress; ?wait=N holds the request until the batch ends or N seconds pass',
      params: BatchParams,
      querystring: WaitQuery,
      response: { 200: Batch, ...READ_ERRORS }
    }
  }, async (request, reply) => {
    const entry = access.entryFor(request.params.job, request.caller)
    const { caller } = request
    return await heldRead(waits, caller, request.query.wait, reply.raw, async (waitMs, signal): Promise<Batch> => {
      const found = await batches.read(entry, request.params.batch)
      // Another tenant's batch (or one of several tenants, to a tenant-bound caller) is the 404 of a missing one.
      if (found === undefined || !maySeeTenant(entry, caller, found.record.tenant)) {
        throw notFound(`batch "${request.params.batch}" of job "${entry.id}" not found`)
      }
      if (waitMs === 0 || found.batch.state !== 'RUNNING') return found.batch
      return (await batches.awaitEnd(found, waitMs, signal)).batch
    })
  })
}
