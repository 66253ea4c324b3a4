import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { auditPlugin } from './plugins/audit.js'
import { callerPlugin } from './plugins/caller.js'
import { localHostPlugin } from './plugins/local-host.js'
import { errorsPlugin, frameworkErrors } from './plugins/errors.js'
import { lazySerializers } from './plugins/lazy-compilers.js'
import { openapiPlugin } from './plugins/openapi.js'
import { rateLimitPlugin } from './plugins/rate-limit.js'
import { requestLogOptions } from './plugins/request-log.js'
import { clientErrorHandler, strictInputPlugin } from './plugins/strict-input/index.js'
import { healthRoutes } from './routes/health.js'
import { jobRoutes } from './routes/jobs.js'
import { logRoutes } from './routes/logs.js'
import { pubsubPushRoutes } from './push/pubsub-route.js'
import { tasksPushRoutes } from './push/tasks-route.js'
import { eventRoutes } from './routes/events.js'
import { runEventRoutes } from './routes/run-events.js'
import { runRoutes } from './routes/runs.js'
import { batchRoutes } from './routes/batches.js'
import { taskRoutes } from './routes/tasks.js'
import { meRoutes } from './routes/me.js'
import { consolePlugin } from './console/plugin.js'
import { QueueWatch } from './runs/queue-watch.js'
import { QueuedRuns } from './runs/queued-runs.js'
import { MAX_BODY_BYTES } from './schemas/run.js'
import type { Services } from './services.js'
import type { JobEntry } from './catalog.js'
import type { RunAsker } from './live/live-reads.js'
import { callerKey } from './policy/caller-key.js'
import { visibleRun } from './policy/run-access.js'
import type { Caller } from './policy/run-policy.js'

/** A caller asking about a run: its share of the read budgets, and the run-level tenant check (api/policy/run-access.ts). */
const askerFor = (entry: JobEntry, caller: Caller, name: string): RunAsker =>
  ({ reader: callerKey(caller), see: execution => visibleRun(entry, caller, execution, name) })

export interface AppOptions {
  /** Reports readiness (false while shutting down); default: always ready. */
  ready?: () => boolean
}

/** Registers the plugins and routes over `services` (see createServices); never listens, so tests drive it with inject(). */
export async function buildApp (services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = services
  const app = Fastify({
    ...requestLogOptions(services.logger, config.project),
    bodyLimit: MAX_BODY_BYTES,
    // A slow-loris client (headers, then a trickle of body) is cut off with a 408; responses (?wait, streams) are not limited by it.
    requestTimeout: config.requestTimeoutSeconds * 1000,
    // Node checks request deadlines on this interval (default 30 s), so a stalled request fails near its deadline.
    http: { headersTimeout: config.requestTimeoutSeconds * 1000, connectionsCheckingInterval: 1000 },
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: { compilersFactory: { buildSerializer: lazySerializers } },
    frameworkErrors,
    clientErrorHandler
  }).withTypeProvider<TypeBoxTypeProvider>()

  await app.register(errorsPlugin)
  await app.register(strictInputPlugin)
  if (config.mode === 'local') await app.register(localHostPlugin, { listenHost: config.host })
  await app.register(callerPlugin, { authenticator: services.authenticator })
  await app.register(auditPlugin)
  await app.register(rateLimitPlugin, { runsPerMinute: config.rateLimitPerMinute, readsPerMinute: config.readRateLimitPerMinute })
  await app.register(openapiPlugin)

  const { access, cloudRun, starter, waits, live, pages } = services
  // Open streams would hold the server's close open: end them first (clients resume elsewhere with Last-Event-ID).
  app.addHook('preClose', async () => { live.endStreams() })
  const { runs, feed } = services.lifecycle
  const queued = new QueuedRuns(runs, new QueueWatch({ lifecycle: runs, feed, log: services.logger }))
  const context = { access, cloudRun, starter, waits, budgets: app.budgets, live, askerFor, pages, queued }
  await app.register(healthRoutes, { ready: options.ready ?? (() => true) })
  await app.register(jobRoutes, context)
  await app.register(runRoutes, context)
  await app.register(batchRoutes, { ...context, batches: runs.batches })
  await app.register(logRoutes, context)
  await app.register(taskRoutes, context)
  await app.register(runEventRoutes, context)
  await app.register(eventRoutes, { ...context, lifecycle: services.lifecycle, source: config.lifecycle.source })
  await app.register(pubsubPushRoutes, context)
  await app.register(tasksPushRoutes, context)
  await app.register(meRoutes)
  await app.register(consolePlugin)
  return app
}
