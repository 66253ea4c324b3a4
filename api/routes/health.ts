import type { FastifyPluginAsync } from 'fastify'
import { ApiError } from '../errors.js'

export interface HealthOptions {
  /** False while shutting down, so load balancers stop sending new work. */
  ready: () => boolean
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { ready }) => {
  const hide = { schema: { hide: true }, config: { public: true } }
  app.get('/healthz', hide, async () => ({ status: 'ok' }))
  app.get('/readyz', hide, async (_request, reply) => {
    if (ready()) return { status: 'ready' }
    const shuttingDown = new ApiError('UNAVAILABLE', 'shutting down', { httpCode: 503 })
    return await reply.code(shuttingDown.httpCode).send(shuttingDown.toBody())
  })
}
