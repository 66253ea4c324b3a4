import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { READ_ERRORS } from '../schemas/error.js'
import { RunParams } from '../schemas/run.js'
import { RunTaskPage, TasksQuery } from '../schemas/tasks.js'
import type { RouteContext } from './context.js'

export const taskRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { access, budgets, live, askerFor, queued }) => {
  app.get('/v1/jobs/:job/runs/:run/tasks', {
    preHandler: budgets.reads,
    schema: {
      summary: 'A run\'s tasks, by index: state, attempts, the last attempt\'s exit code, times, a link to each task\'s log lines',
      params: RunParams,
      querystring: TasksQuery,
      response: { 200: RunTaskPage, ...READ_ERRORS }
    }
  }, async request => {
    const entry = access.entryFor(request.params.job, request.caller)
    const resolved = await queued.resolve(entry, request.caller, request.params.run)
    // A run that has not started has no tasks yet.
    if ('unstarted' in resolved) return { tasks: [] }
    const name = resolved.execution
    // Cloud Run's tasks list, within the instance's Cloud Run read budget; a finished run's from cache (api/live/).
    return await live.readTasks(entry, name, request.query, askerFor(entry, request.caller, name))
  })
}
