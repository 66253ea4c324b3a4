import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { JobEntry } from '../catalog.js'
import { errorResponses } from '../schemas/error.js'
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

/** Strict like every other schema: an unknown query parameter is a 400, not silently ignored. */
const NoQuery = Type.Object({}, { additionalProperties: false })

export const jobRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { access }) => {
  app.get('/v1/jobs', {
    schema: { summary: 'The jobs the caller may run, with their limits', querystring: NoQuery, response: { 200: JobList, ...errorResponses(400, 401) } }
  }, async request => {
    return { jobs: access.visibleTo(request.caller).map(summary) }
  })
}
