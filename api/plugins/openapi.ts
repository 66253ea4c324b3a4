import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { DocsApp } from './openapi-docs.js'

/** Response headers that belong to the in-process answer, not to the one sent to the client. */
const OWN_HEADERS = new Set(['content-length', 'connection', 'keep-alive', 'transfer-encoding', 'date'])

/**
 * The OpenAPI 3.1 document of every route registered after this plugin, at /openapi.json, and its UI at /docs.
 * Both are built on their first request (api/plugins/openapi-docs.ts): @fastify/swagger, the UI and the
 * document cost a cold start ~100 ms and no API call needs them. Until then only the routes are noted.
 */
export const openapiPlugin = fp(async app => {
  const routes: RouteOptions[] = []
  app.addHook('onRoute', route => { routes.push(route) })
  let docs: Promise<DocsApp> | undefined
  const docsApp = async (): Promise<DocsApp> => {
    docs ??= import('./openapi-docs.js').then(async ({ buildDocsApp }) => await buildDocsApp(routes))
    return await docs.catch((err: unknown) => { docs = undefined; throw err })
  }
  app.addHook('onClose', async () => { if (docs !== undefined) await (await docs.catch(() => undefined))?.close() })

  // The docs UI is as public as /openapi.json: a browser cannot send X-API-Key or an ID token.
  const forward = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const answer = await (await docsApp()).inject({ method: request.method as 'GET' | 'HEAD', url: request.url, headers: request.headers })
    // Not the UI's: answered as any unknown route is.
    if (answer.statusCode === 404) { reply.callNotFound(); return reply }
    for (const [name, value] of Object.entries(answer.headers)) {
      if (!OWN_HEADERS.has(name) && value !== undefined) void reply.header(name, value)
    }
    return await reply.code(answer.statusCode).send(answer.rawPayload.length === 0 ? undefined : answer.rawPayload)
  }
  const hidden = { schema: { hide: true }, config: { public: true } }
  app.get('/docs', hidden, forward)
  app.get('/docs/*', hidden, forward)
  app.get('/openapi.json', hidden, async () => (await docsApp()).swagger())
}, { name: 'jobgate-openapi', fastify: '5.x', dependencies: ['jobgate-caller'] })
