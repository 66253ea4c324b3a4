import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { toRun } from '../cloudrun/mapping.js'
import type { CloudLoggingClient } from '../logging/client.js'
import { runsVisibleTo } from '../policy/run-access.js'
import { errorResponses } from '../schemas/error.js'
import { LogsQuery, RunLogPage } from '../schemas/logs.js'
import { RunParams } from '../schemas/run.js'
import type { RouteContext } from './context.js'

export interface LogRouteContext extends RouteContext {
  logs: Pick<CloudLoggingClient, 'runEntries'>
}

export const logRoutes: FastifyPluginAsyncTypebox<LogRouteContext> = async (app, { access, cloudRun, logs, budgets }) => {
  app.get('/v1/jobs/:job/runs/:run/logs', {
    preHandler: budgets.reads,
    schema: {
      summary: 'The log lines a run\'s tasks wrote, oldest first, from Cloud Logging',
      params: RunParams,
      querystring: LogsQuery,
      response: { 200: RunLogPage, ...errorResponses(400, 403, 404, 429, 502) }
    }
  }, async request => {
    const entry = access.entryFor(request.params.job, request.caller)
    // Reading the run first proves it belongs to this job and this caller's tenant, and bounds the log search by its start.
    const run = toRun(entry.id, await runsVisibleTo(cloudRun, request.caller).getExecution(entry, request.params.run))
    const { since, pageToken, pageSize } = request.query
    return await logs.runEntries(entry, { name: run.name, ...(run.createTime !== undefined && { createTime: run.createTime }) }, {
      pageSize: pageSize ?? 100,
      ...(pageToken !== undefined && { pageToken }),
      ...(since !== undefined && { since })
    })
  })
}
