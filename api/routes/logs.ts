import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas/error.js'
import { LogsQuery, RunLogPage } from '../schemas/logs.js'
import { RunParams } from '../schemas/run.js'
import type { RouteContext } from './context.js'

export const logRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { access, budgets, live, askerFor, queued }) => {
  app.get('/v1/jobs/:job/runs/:run/logs', {
    preHandler: budgets.reads,
    schema: {
      summary: 'The log lines a run\'s tasks wrote, oldest first, from Cloud Logging',
      params: RunParams,
      querystring: LogsQuery,
      response: { 200: RunLogPage, ...errorResponses(400, 401, 403, 404, 429, 502) }
    }
  }, async (request, reply) => {
    const entry = access.entryFor(request.params.job, request.caller)
    const resolved = await queued.resolve(entry, request.caller, request.params.run)
    // A run that has not started has written nothing.
    if ('unstarted' in resolved) return { entries: [] }
    const name = resolved.execution
    // From the run's shared log tail, or the finished-log cache; a spent budget adds Retry-After to what is cached.
    const { page, retryAfterSeconds } = await live.readLogs(entry, name, request.query, askerFor(entry, request.caller, name))
    if (retryAfterSeconds !== undefined) void reply.header('retry-after', String(retryAfterSeconds))
    return page
  })
}
