import type { Logger } from 'pino'
import { createAuthenticator, type Authenticator } from './auth/index.js'
import { CloudRunRestClient, type CloudRunClient } from './cloudrun/client.js'
import type { Config } from './config.js'
import { GoogleHttp, logRetries } from './google/http.js'
import { CachedTokenSource, googleAuthFetcher, metadataServerFetcher, type TokenSource } from './google/token.js'
import { createIdempotencyStore, firestoreTarget, type IdempotencyStore } from './idempotency/index.js'
import { openLifecycle, type Lifecycle } from './lifecycle/index.js'
import { LiveReads } from './live/live-reads.js'
import { JOBGATE_READER, type Clock } from './live/read-budget.js'
import { PageTokens } from './pages/page-tokens.js'
import { CloudLoggingClient } from './logging/client.js'
import { createLogger } from './plugins/request-log.js'
import { PerCallerConcurrency } from './policy/concurrency-limit.js'
import { JobAccess } from './policy/job-access.js'
import { RunStarter } from './runs/starter.js'
import { ConcurrencyControl } from './concurrency/control.js'
import { createLeaseStore } from './concurrency/create-lease-store.js'
import type { Emulator } from '../emulator/index.js'

export const USER_AGENT = 'jobgate/0.1.0'

/** Local mode's early word that a run ended (the emulator tells), handed to the run watchers. */
type LiveReadsRunEnded = ReturnType<typeof import('./local-mode.js')['localRunEnded']>

/** What reads a run's log lines (the Cloud Logging client, or a test's stand-in). */
export type LogReader = Pick<CloudLoggingClient, 'runEntries'>

/** Parts a caller (a test, the server) provides itself instead of having them built from the config. */
export interface ServiceOverrides {
  /** Default: Cloud Logging JSON at LOG_LEVEL. */
  logger?: Logger
  /** Default: the REST client of CLOUD_RUN_API_ENDPOINT (or each job's regional host). */
  cloudRun?: CloudRunClient
  /** Default: the Cloud Logging client of CLOUD_LOGGING_API_ENDPOINT. */
  logs?: LogReader
  /** Default: the one JOBGATE_AUTH selects. */
  authenticator?: Authenticator
  /** Default: the one JOBGATE_IDEMPOTENCY selects, closed by close(). */
  idempotencyStore?: IdempotencyStore
  /** Default: the metadata server in local mode, Application Default Credentials otherwise. */
  tokens?: TokenSource
  /** Default: run records and events where JOBGATE_IDEMPOTENCY keeps state. */
  lifecycleStore?: Parameters<typeof openLifecycle>[0]['store']
  /** What the job reconcilers read Cloud Run through; default: `cloudRun`. */
  reconcilerCloudRun?: Parameters<typeof openLifecycle>[0]['cloudRun']
  /** The read budgets' and caches' clock; default: the system clock. */
  clock?: Clock
  /** Told when a run ended, as local mode's emulator tells (a bench or test bringing its own emulator); default: none. */
  runEnded?: LiveReadsRunEnded
}

/** Everything the app uses, built once per process from the configuration. */
export interface Services {
  /** The configuration as used: in local mode, its endpoints point at the embedded emulator. */
  config: Config
  logger: Logger
  cloudRun: CloudRunClient
  logs: LogReader
  authenticator: Authenticator
  access: JobAccess
  idempotencyStore: IdempotencyStore
  starter: RunStarter
  /** Per-caller cap on requests held open (?wait, event streams). */
  waits: PerCallerConcurrency
  /** Run watchers, log tails, finished-run caches and the read budgets (api/live/). */
  live: LiveReads
  /** Runs beyond one request: records, reconcilers, events (api/lifecycle/). */
  lifecycle: Lifecycle
  /** The runs list's sealed page tokens, keyed through the idempotency store (shared by instances with Firestore). */
  pages: PageTokens
  /** Local mode only: the embedded Cloud Run emulator. */
  emulator?: Emulator
  /** Releases what was built here (HTTP connections, the store, the emulator); call after the app closed. */
  close (): Promise<void>
}

/**
 * The composition root: every client, the authenticator, the idempotency store and the run
 * starter, from the configuration (local mode first starts the embedded emulator and points the
 * same production clients at it). `overrides` replace single parts; they are not closed here.
 */
export async function createServices (config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  const closers: Array<() => Promise<void>> = []
  const close = async (): Promise<void> => { for (const step of closers.splice(0).reverse()) await step() }
  try {
    const logger = overrides.logger ?? createLogger(config.logLevel)
    let emulator: Emulator | undefined
    let runEnded: LiveReadsRunEnded | undefined = overrides.runEnded
    if (config.mode === 'local') {
      // The emulator is loaded only in local mode: a Cloud Run instance never pays for it.
      const localMode = await import('./local-mode.js')
      const local = await localMode.startLocalMode(config)
      closers.push(async () => { await local.emulator.close() })
      emulator = local.emulator
      runEnded = localMode.localRunEnded(local.emulator)
      config = local.config
    }
    const tokens = overrides.tokens ?? new CachedTokenSource(emulator === undefined ? googleAuthFetcher() : metadataServerFetcher())
    const http = new GoogleHttp({
      tokens,
      userAgent: USER_AGENT,
      limits: { connections: config.upstreamConnections },
      onRetryAttempt: logRetries(logger)
    })
    closers.push(async () => { await http.close() })
    const cloudRun = overrides.cloudRun ?? new CloudRunRestClient(http, config.runApiEndpoint)
    const logs = overrides.logs ?? new CloudLoggingClient(http, config.loggingApiEndpoint)

    const authenticator = overrides.authenticator ?? createAuthenticator(config.auth)
    const access = new JobAccess(config.catalog, !authenticator.anonymous)
    if (authenticator.anonymous) logger.warn('authentication is off (JOBGATE_AUTH=none): anyone who can reach jobgate can run its jobs')
    for (const id of access.unreachable()) logger.warn({ job: id }, `job "${id}" lists no principals: nobody can run it`)
    for (const id of access.envLocked()) {
      logger.warn({ job: id }, `job "${id}" has no env.allow: with authentication on it accepts no env override but its tenant key (list names in env.allow to open them)`)
    }

    // One watcher per run and one log tail per run for this instance; local mode hears of a run's end from the emulator.
    const live = new LiveReads({
      cloudRun,
      logs,
      config: config.live,
      ...(runEnded !== undefined && { runEnded }),
      ...(overrides.clock !== undefined && { clock: overrides.clock })
    })
    closers.push(async () => { live.close() })

    const idempotencyStore = overrides.idempotencyStore ?? await openStore(config, logger, closers)
    const leases = await createLeaseStore(config.idempotency, config.catalog, firestoreTarget(config))
    closers.push(async () => { await leases.close?.() })
    const lifecycle = await openLifecycle({
      config: config.lifecycle,
      idempotency: config.idempotency,
      catalog: config.catalog,
      cloudRun: overrides.reconcilerCloudRun ?? cloudRun,
      // The reconcilers' lists draw on the Cloud Run read budget as jobgate itself: a share like any caller's.
      budget: { tryTake: () => live.runBudget.tryTake(JOBGATE_READER), waitMs: () => live.runBudget.waitMs(JOBGATE_READER) },
      http,
      log: logger,
      firestore: firestoreTarget(config),
      ...(runEnded !== undefined && { runEnded }),
      ...(overrides.lifecycleStore !== undefined && { store: overrides.lifecycleStore })
    })
    closers.push(async () => { await lifecycle.close() })
    // One source of a run's state: the reconciler's view feeds the watchers, which then read nothing of their own.
    live.runs.follower = lifecycle.runs
    lifecycle.runs.onObserved((entry, execution) => { live.observe(entry, execution) })
    const { topic } = config.lifecycle
    logger.info({ topic, instance: lifecycle.runs.instance }, topic === undefined
      ? 'run events: GET /v1/events only (set JOBGATE_EVENTS_TOPIC to publish them to Pub/Sub)'
      : `run events: published to ${topic}`)
    const concurrency = new ConcurrencyControl(cloudRun, leases, { pendingMs: config.idempotency.staleMs })
    const idempotency = { ...config.idempotency, store: idempotencyStore }
    const starter = new RunStarter(cloudRun, config.maxInflightRuns, idempotency, concurrency, lifecycle.runs)
    // Queue jobs: the reconcilers admit queued runs through the starter's guarded start.
    lifecycle.runs.admitWith(starter.admitter(logger))
    return {
      config,
      logger,
      cloudRun,
      logs,
      authenticator,
      access,
      idempotencyStore,
      starter,
      waits: new PerCallerConcurrency(config.maxWaitsPerCaller),
      live,
      lifecycle,
      pages: new PageTokens(idempotencyStore),
      ...(emulator !== undefined && { emulator }),
      close
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** The configured store (Firestore's client is loaded only when selected), closed by close(). */
async function openStore (config: Config, logger: Logger, closers: Array<() => Promise<void>>): Promise<IdempotencyStore> {
  const store = await createIdempotencyStore(config.idempotency, firestoreTarget(config))
  closers.push(async () => { await store.close?.() })
  const { collection, database } = config.idempotency
  const where = config.idempotency.store === 'firestore' ? `Firestore collection "${collection}" of database ${database}` : 'memory (one instance only)'
  logger.info({ store: config.idempotency.store }, `idempotency keys kept in ${where}`)
  return store
}
