import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import rateLimit from '@fastify/rate-limit'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { pino, type Logger } from 'pino'
import { createAuthenticator, type Authenticator } from './auth/index.js'
import type { CloudRunClient } from './cloudrun/client.js'
import type { CloudLoggingClient } from './logging/client.js'
import type { Config } from './config.js'
import { ApiError } from './errors.js'
import { clientErrorHandler } from './client-error.js'
import { createIdempotencyStore, type IdempotencyStore } from './idempotency/index.js'
import { sendError, toApiError } from './http-errors.js'
import { acceptOnlyStrictJson } from './json-body.js'
import { strictValidatorCompiler } from './strict-query.js'
import { loggerOptions, traceFields } from './log.js'
import { PerCallerConcurrency } from './policy/concurrency-limit.js'
import { JobAccess } from './policy/job-access.js'
import type { Caller } from './policy/run-policy.js'
import { healthRoutes } from './routes/health.js'
import { jobRoutes } from './routes/jobs.js'
import { logRoutes } from './routes/logs.js'
import { pubsubPushRoutes } from './routes/push-pubsub.js'
import { tasksPushRoutes } from './routes/push-tasks.js'
import { runRoutes } from './routes/runs.js'
import { meRoutes } from './routes/me.js'
import { consolePlugin } from './console/plugin.js'
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
  logs: Pick<CloudLoggingClient, 'runEntries'>
  /** Identifies callers; absent: one is made from the config (JOBGATE_AUTH). */
  authenticator?: Authenticator
  /** A pino instance (tests capture its output); otherwise one is made from the config. */
  logger?: Logger
  /** Reports readiness (false while shutting down). */
  ready?: () => boolean
  /** Shared idempotency keys; absent: the store JOBGATE_IDEMPOTENCY selects is opened here and closed with the app. */
  idempotencyStore?: IdempotencyStore
}

const ANONYMOUS: Caller = { name: 'anonymous', tenantFree: true }

/** A request id from the caller when it is a sane token, else a fresh one. */
const requestId = (header: string | string[] | undefined): string =>
  typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID()

/** Builds the app; never listens (server.ts does), so tests drive it with inject(). */
export async function buildApp (config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: (deps.logger ?? pino(loggerOptions(config.logLevel))) as FastifyBaseLogger,
    bodyLimit: MAX_BODY_BYTES,
    genReqId: request => requestId(request.headers['x-request-id']),
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    childLoggerFactory: (logger, bindings, options, raw) => logger.child({ ...bindings, ...traceFields(raw.headers, config.project) }, options),
    ajv: { customOptions: { removeAdditional: false } },
    // Errors raised before routing or by the HTTP parser get the contract's shape (and a request id) too.
    frameworkErrors: (err, request, reply) => { void sendError(request, reply.header('x-request-id', request.id), toApiError(err)) },
    clientErrorHandler
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.setValidatorCompiler(strictValidatorCompiler)

  // JSON only (a text/plain body must not slip past the schema as a string), and strictly parsed.
  acceptOnlyStrictJson(app)
  app.setErrorHandler((err: FastifyError, request, reply) => sendError(request, reply, toApiError(err)))
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new ApiError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)))
  app.addHook('onSend', async (request, reply) => { void reply.header('x-request-id', request.id) })

  const authenticator = deps.authenticator ?? createAuthenticator(config.auth)
  app.decorateRequest('caller', { getter: () => ANONYMOUS, setter () {} })
  app.addHook('onRequest', async request => {
    if (request.routeOptions.config.public === true) return
    Object.defineProperty(request, 'caller', { value: await authenticator.authenticate(request.headers), enumerable: true })
  })

  // Per principal, counted only on routes that start runs (they opt in with config.rateLimit).
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    keyGenerator: request => request.caller.name,
    errorResponseBuilder: (_request, context) => new ApiError('RESOURCE_EXHAUSTED',
      `rate limit: at most ${context.max} runs per minute per caller; retry in ${Math.ceil(context.ttl / 1000)} s`,
      { retryAfterSeconds: Math.ceil(context.ttl / 1000) })
  })
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'jobgate', version: '0.1.0', description: 'Start Google Cloud Run Jobs with per-run overrides, safely.' },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' }, googleIdToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }
    }
  })
  // The docs UI is as public as /openapi.json: a browser cannot send X-API-Key or an ID token.
  app.addHook('onRoute', route => { if (route.url.startsWith('/docs')) route.config = { ...route.config, public: true } })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger())

  const access = new JobAccess(config.catalog, !authenticator.anonymous)
  if (authenticator.anonymous) app.log.warn('authentication is off (JOBGATE_AUTH=none): anyone who can reach jobgate can run its jobs')
  for (const id of access.unreachable()) app.log.warn({ job: id }, `job "${id}" lists no principals: nobody can run it`)
  for (const id of access.envLocked()) app.log.warn({ job: id }, `job "${id}" has no env.allow: with authentication on it accepts no env override but its tenant key (list names in env.allow to open them)`)
  const cloudRun = deps.cloudRun
  const store = deps.idempotencyStore ?? await openOwnStore(app, config)
  const starter = new RunStarter(cloudRun, config.maxInflightRuns, { ...config.idempotency, store })
  const context = { access, cloudRun, starter, runsPerMinute: config.rateLimitPerMinute, waits: new PerCallerConcurrency(config.maxWaitsPerCaller) }
  await app.register(healthRoutes, { ready: deps.ready ?? (() => true) })
  await app.register(jobRoutes, context)
  await app.register(runRoutes, context)
  await app.register(logRoutes, { ...context, logs: deps.logs })
  await app.register(pubsubPushRoutes, context)
  await app.register(tasksPushRoutes, context)
  await app.register(meRoutes)
  await app.register(consolePlugin)
  return app
}

/** The configured store (Firestore's client is loaded only when selected), closed when the app closes. */
async function openOwnStore (app: FastifyInstance, config: Config): Promise<IdempotencyStore> {
  const store = await createIdempotencyStore(config.idempotency, config.project === undefined ? {} : { projectId: config.project })
  app.addHook('onClose', async () => { await store.close?.() })
  app.log.info({ store: config.idempotency.store }, `idempotency keys kept in ${config.idempotency.store === 'firestore' ? `Firestore collection "${config.idempotency.collection}"` : 'memory (one instance only)'}`)
  return store
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without authentication (health, docs). */
    public?: boolean
  }
}
