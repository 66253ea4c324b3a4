import type { FastifyPluginAsync } from 'fastify'

export interface HealthOptions {
  /** False while shutting down, so load balancers stop sending new work. */
  ready: () => boolean
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { ready }) => {
  const hide = { schema: { hide: true }, config: { public: true } }
  app.get('/healthz', hide, async () => ({ status: 'ok' }))
  app.get('/readyz', hide, async (_request, reply) => {
    if (ready()) return { status: 'ready' }
    return await reply.code(503).send({ error: { code: 503, status: 'UNAVAILABLE', message: 'shutting down' } })
  })
}
