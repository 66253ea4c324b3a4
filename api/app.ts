import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { pino, type Logger } from 'pino'
import type { CloudRunClient } from './cloudrun/client.js'
import type { Config } from './config.js'
import { ApiError } from './errors.js'
import { sendError, toApiError } from './http-errors.js'
import { loggerOptions, traceFields } from './log.js'
import type { Caller } from './policy/run-policy.js'
import { healthRoutes } from './routes/health.js'
import { jobRoutes } from './routes/jobs.js'
import { runRoutes } from './routes/runs.js'
import { RunStarter } from './runs/starter.js'
import { MAX_BODY_BYTES } from './schemas/run.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, set before any handler runs. */
    caller: Caller
  }
}

export interface AppDeps {
  cloudRun: CloudRunClient
  /** Identifies the caller; throws ApiError UNAUTHENTICATED. Absent: everyone is an anonymous caller. */
  authenticate?: (headers: Record<string, string | string[] | undefined>) => Promise<Caller>
  /** A pino instance (tests capture its output); otherwise one is made from the config. */
  logger?: Logger
  /** Reports readiness (false while shutting down). */
  ready?: () => boolean
}

const ANONYMOUS: Caller = { name: 'anonymous', tenantFree: true }
const anonymous = async (): Promise<Caller> => ANONYMOUS

/** A request id from the caller when it is a sane token, else a fresh one. */
const requestId = (header: string | string[] | undefined): string =>
  typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID()

/** Builds the app; never listens (server.ts does), so tests drive it with inject(). */
export async function buildApp (config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: (deps.logger ?? pino(loggerOptions(config.logLevel))) as FastifyBaseLogger,
    bodyLimit: MAX_BODY_BYTES,
    genReqId: request => requestId(request.headers['x-request-id']),
    requestIdLogLabel: 'requestId',
    childLoggerFactory: (logger, bindings, options, raw) => logger.child({ ...bindings, ...traceFields(raw.headers, config.project) }, options),
    ajv: { customOptions: { removeAdditional: false } },
    // Errors Fastify answers before routing (bad percent-encoding, over-long path segments) get the contract's shape too.
    frameworkErrors: (err, request, reply) => { void sendError(request, reply.header('x-request-id', request.id), toApiError(err)) }
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(TypeBoxValidatorCompiler)

  // JSON only: a text/plain body must not slip past the schema as a string.
  app.removeContentTypeParser('text/plain')
  app.setErrorHandler((err: FastifyError, request, reply) => sendError(request, reply, toApiError(err)))
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new ApiError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)))
  app.addHook('onSend', async (request, reply) => { void reply.header('x-request-id', request.id) })

  const authenticate = deps.authenticate ?? anonymous
  app.decorateRequest('caller', { getter: () => ANONYMOUS, setter () {} })
  app.addHook('onRequest', async request => {
    if (request.routeOptions.config.public === true) return
    Object.defineProperty(request, 'caller', { value: await authenticate(request.headers), enumerable: true })
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'jobgate', version: '0.1.0', description: 'Start Google Cloud Run Jobs with per-run overrides, safely.' },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' }, googleIdToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger())

  const cloudRun = deps.cloudRun
  const context = { catalog: config.catalog, cloudRun, starter: new RunStarter(cloudRun) }
  await app.register(healthRoutes, { ready: deps.ready ?? (() => true) })
  await app.register(jobRoutes, context)
  await app.register(runRoutes, context)
  return app
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without authentication (health, docs). */
    public?: boolean
  }
}
