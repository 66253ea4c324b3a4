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

/** The UI's own files and the document, nothing inline, nothing from elsewhere; never framed (clickjacking). */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  // The one <style> element Swagger UI's bundle injects (test/console/browser.test.ts fails if an update changes it).
  "style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='",
  // Swagger UI draws its logo and icons as data: URLs.
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

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
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CONTENT_SECURITY_POLICY })
  // HEAD routes are Fastify's copies of GET routes (made again here); hidden ones are not in the document.
  for (const route of routes) {
    if (route.method === 'HEAD' || (route.schema as { hide?: boolean } | undefined)?.hide === true) continue
    const { method, url, schema, config } = route
    app.route({ method, url, ...(schema !== undefined && { schema }), ...(config !== undefined && { config }), handler: notServed })
  }
  await app.ready()
  return app
}
