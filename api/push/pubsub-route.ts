import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ApiError, invalidArgument } from '../errors.js'
import { mapMessage, matchFilter } from '../events/pubsub.js'
import { auditFor } from '../plugins/audit.js'
import { runRequestProblem } from '../runs/request-check.js'
import { START_RUN_ERRORS } from '../schemas/error.js'
import { PushEnvelope } from '../schemas/pubsub.js'
import { JobParams, Run } from '../schemas/run.js'
import type { RouteContext } from '../routes/context.js'
import { startAndAnswer } from './answer.js'

/**
 * Pub/Sub push: one message, at most one run. 2xx acknowledges (a run started now or earlier, or the
 * filter said "no run"); anything else makes Pub/Sub redeliver, until its dead-letter policy takes over.
 */
export const pubsubPushRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { access, starter, budgets }) => {
  app.post('/v1/push/pubsub/:job', {
    config: { auditTrigger: 'pubsub' },
    preHandler: budgets.runs,
    schema: {
      summary: 'Pub/Sub push endpoint: the job\'s catalog `pubsub` mapping turns the message into a run, once per subscription and message id',
      params: JobParams,
      body: PushEnvelope,
      response: { 200: Run, 204: Type.Null({ description: 'the message does not pass the job\'s filter, or the job\'s concurrency policy refused the start with onConflict "drop": acknowledged, no run' }), ...START_RUN_ERRORS }
    }
  }, async (request, reply) => {
    const entry = access.entryFor(request.params.job, request.caller)
    const { message, subscription, deliveryAttempt } = request.body
    const details = { subscription, messageId: message.messageId, ...(deliveryAttempt !== undefined && { deliveryAttempt }) }
    const log = request.log.child({ pubsub: details })
    const delivery = `Pub/Sub message ${message.messageId} of ${subscription}`
    if (entry.pubsub === undefined) {
      log.warn(`${delivery}: job "${entry.id}" has no pubsub mapping; the message is refused`)
      throw new ApiError('FAILED_PRECONDITION', `job "${entry.id}" has no "pubsub" mapping in jobgate's catalog: it takes no Pub/Sub pushes`)
    }
    const filter = matchFilter(entry.pubsub, message.attributes ?? {})
    if (!filter.matched) {
      log.info({ filtered: filter.reason }, `${delivery}: acknowledged without a run, ${filter.reason}`)
      return await reply.code(204).send(null)
    }
    const mapped = mapMessage(entry.pubsub, message)
    if ('problem' in mapped) {
      log.warn({ mappingError: mapped.problem }, `${delivery}: cannot be mapped to a run of job "${entry.id}": ${mapped.problem}`)
      throw invalidArgument(`message ${message.messageId} cannot be mapped to a run of job "${entry.id}": ${mapped.problem}`)
    }
    // The mapped request meets the check a REST or Cloud Tasks body meets, and fails with the same answer.
    const problem = runRequestProblem(mapped.request)
    if (problem !== undefined) {
      log.warn({ mappingError: problem }, `${delivery}: maps to a run request of job "${entry.id}" that is not valid: ${problem}`)
      throw invalidArgument(problem)
    }
    return await startAndAnswer(reply, starter, {
      entry,
      request: mapped.request,
      caller: request.caller,
      log,
      audit: auditFor(request),
      trigger: 'pubsub',
      idempotencyKey: `${subscription}/messages/${message.messageId}`,
      // A redelivery carries the same data and attributes; the mapping's output is not what identifies it.
      fingerprintOf: { data: message.data ?? '', attributes: message.attributes ?? {} },
      details
    }, delivery)
  })
}
