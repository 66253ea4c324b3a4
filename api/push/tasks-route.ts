import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { auditFor } from '../plugins/audit.js'
import { runRequestRoute } from '../runs/request-check.js'
import { START_RUN_ERRORS } from '../schemas/error.js'
import { JobParams, Run, RunRequest } from '../schemas/run.js'
import type { RouteContext } from '../routes/context.js'
import { startAndAnswer } from './answer.js'

const count = Type.String({ pattern: '^\\d{1,9}$' })

/** What Cloud Tasks adds to every HTTP target request (names as Node lower-cases them). */
const TaskHeaders = Type.Object({
  'x-cloudtasks-queuename': Type.String({ pattern: '^[A-Za-z0-9-]{1,100}$', description: 'set by Cloud Tasks: the queue id' }),
  'x-cloudtasks-taskname': Type.String({ pattern: '^[A-Za-z0-9_-]{1,500}$', description: 'set by Cloud Tasks: the task id (deduplication key with the queue)' }),
  'x-cloudtasks-taskretrycount': Type.Optional(count),
  'x-cloudtasks-taskexecutioncount': Type.Optional(count)
})

/** A task without a body means "no overrides": a body-less request skips the parsers, which reject empty JSON. */
async function skipParsingWhenEmpty (request: FastifyRequest): Promise<void> {
  const { headers } = request.raw
  if (headers['content-length'] === '0') delete headers['content-type']
}

async function emptyBodyMeansNoOverrides (request: FastifyRequest): Promise<void> {
  request.body ??= {}
}

/** Cloud Tasks HTTP target: one task, at most one run; 2xx completes the task, anything else makes the queue retry it. */
export const tasksPushRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { access, starter, budgets }) => {
  app.post('/v1/push/tasks/:job', {
    config: { auditTrigger: 'tasks' },
    preHandler: budgets.runs,
    validatorCompiler: runRequestRoute,
    onRequest: skipParsingWhenEmpty,
    preValidation: emptyBodyMeansNoOverrides,
    schema: {
      summary: 'Cloud Tasks HTTP target: the body is a run request (empty: no overrides), started once per queue and task name',
      params: JobParams,
      headers: TaskHeaders,
      body: RunRequest,
      response: { 200: Run, 204: Type.Null({ description: 'the job\'s concurrency policy refused the start and says onConflict "drop": acknowledged, no run' }), ...START_RUN_ERRORS }
    }
  }, async (request, reply) => {
    const entry = access.entryFor(request.params.job, request.caller)
    const queue = request.headers['x-cloudtasks-queuename']
    const task = request.headers['x-cloudtasks-taskname']
    const retryCount = Number(request.headers['x-cloudtasks-taskretrycount'] ?? '0')
    const executionCount = request.headers['x-cloudtasks-taskexecutioncount']
    const details = {
      queue,
      task,
      taskRetryCount: retryCount,
      ...(executionCount !== undefined && { taskExecutionCount: Number(executionCount) })
    }
    const log = request.log.child({ cloudTasks: details })
    const delivery = `Cloud Tasks task ${task} of queue ${queue} (retry ${retryCount})`
    log.info(`${delivery} received for job "${entry.id}"`)
    return await startAndAnswer(reply, starter, {
      entry,
      request: request.body,
      caller: request.caller,
      log,
      audit: auditFor(request),
      trigger: 'tasks',
      idempotencyKey: `queues/${queue}/tasks/${task}`,
      details
    }, delivery)
  })
}
