import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'

export type DocsApp = FastifyInstance

const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'jobgate', version: '0.1.0', description: 'Start Google Cloud Run Jobs with per-run overrides, safely.' },
  components: {
    securitySchemes: {
      apiKey: { type: 'apiKey' as const, in: 'header', name: 'X-API-Key' },
      googleIdToken: { type: 'http' as const, scheme: 'bearer', bearerFormat: 'JWT' }
    }
  }
}

const notServed = async (): Promise<never> => { throw new Error('the docs app only describes routes') }

/**
 * A private Fastify instance (never listening) holding @fastify/swagger, the UI at /docs, and the API's
 * routes as noted by the openapi plugin, replayed with their schemas so the document is the one the
 * routes would give; nothing is compiled for them (no validator, no serializer).
 */
export async function buildDocsApp (routes: readonly RouteOptions[]): Promise<DocsApp> {
  const app = Fastify({ logger: false })
  app.setValidatorCompiler(() => () => true)
  app.setSerializerCompiler(() => data => JSON.stringify(data))
  await app.register(swagger, { openapi: OPENAPI })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  // HEAD routes are Fastify's copies of GET routes (made again here); hidden ones are not in the document.
  for (const route of routes) {
    if (route.method === 'HEAD' || (route.schema as { hide?: boolean } | undefined)?.hide === true) continue
    const { method, url, schema, config } = route
    app.route({ method, url, ...(schema !== undefined && { schema }), ...(config !== undefined && { config }), handler: notServed })
  }
  await app.ready()
  return app
}
