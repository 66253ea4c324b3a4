import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'

/** The OpenAPI 3.1 document of every route registered after this plugin, at /openapi.json, and its UI at /docs. */
export const openapiPlugin = fp(async app => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'jobgate', version: '0.1.0', description: 'Start Google Cloud Run Jobs with per-run overrides, safely.' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          googleIdToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }
        }
      }
    }
  })
  // The docs UI is as public as /openapi.json: a browser cannot send X-API-Key or an ID token.
  app.addHook('onRoute', route => { if (route.url.startsWith('/docs')) route.config = { ...route.config, public: true } })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger())
}, { name: 'jobgate-openapi', fastify: '5.x', dependencies: ['jobgate-caller'] })
