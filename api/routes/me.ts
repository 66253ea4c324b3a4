import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses } from '../schemas/error.js'
import { Me } from '../schemas/me.js'

/** Who the credentials sent belong to, so a client (the console) can say whom it acts for. */
export const meRoutes: FastifyPluginAsyncTypebox = async app => {
  app.get('/v1/me', {
    schema: {
      summary: 'Who the caller is: principal name and tenant scope',
      querystring: Type.Object({}, { additionalProperties: false }),
      response: { 200: Me, ...errorResponses(401) }
    }
  }, async request => {
    const { name, tenant } = request.caller
    return { name, ...(tenant !== undefined && { tenant }), tenantFree: request.caller.tenantFree === true }
  })
}
