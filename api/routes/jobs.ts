import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { JobEntry } from '../catalog.js'
import { JobList, type JobSummary } from '../schemas/jobs.js'
import type { RouteContext } from './context.js'

function summary (entry: JobEntry): JobSummary {
  const job: JobSummary = {
    id: entry.id,
    project: entry.project,
    region: entry.region,
    job: entry.job,
    limits: { maxTaskCount: entry.maxTaskCount, maxTimeoutSeconds: entry.maxTimeoutSeconds, args: entry.args, env: entry.env }
  }
  if (entry.description !== undefined) job.description = entry.description
  return job
}

export const jobRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { access }) => {
  app.get('/v1/jobs', { schema: { summary: 'The jobs the caller may run, with their limits', response: { 200: JobList } } }, async request => {
    return { jobs: access.visibleTo(request.caller).map(summary) }
  })
}
