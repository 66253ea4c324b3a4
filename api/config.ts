import { loadAuthConfig, type AuthConfig } from './auth/index.js'
import { ConfigError } from './config-error.js'
import { flag, oneOf, quote, text, wholeNumber, type Env } from './env.js'
import { loadCatalog, type JobCatalog } from './catalog.js'
import { loadIdempotencyConfig, type IdempotencyConfig } from './idempotency/index.js'
import { DEFAULT_UPSTREAM_CONNECTIONS } from './google/connection-gate.js'
import { loadLifecycleConfig, type LifecycleConfig } from './lifecycle/config.js'
import { loadLiveConfig, type LiveConfig } from './live/config.js'
import { isLoopbackAddress } from './loopback.js'
import { DEFAULT_MAX_WAITS_PER_CALLER } from './policy/concurrency-limit.js'
import { DEFAULT_MAX_INFLIGHT_RUNS } from './runs/inflight.js'

export type Mode = 'local' | 'cloud'

export interface Config {
  mode: Mode
  port: number
  host: string
  project?: string
  region: string
  /** Base URL of the Run Admin API; undefined means the job's regional host. */
  runApiEndpoint?: string
  loggingApiEndpoint: string
  catalog: JobCatalog
  /** Inbound authentication (JOBGATE_AUTH and the variables of each mode). */
  auth: AuthConfig
  logLevel: string
  /** Bound on concurrent upstream run calls (JOBGATE_MAX_INFLIGHT_RUNS). */
  maxInflightRuns: number
  /** Sockets per upstream origin (JOBGATE_UPSTREAM_CONNECTIONS); more requests wait in a bounded queue. */
  upstreamConnections: number
  /** Runs each principal may start per minute (JOBGATE_RATE_LIMIT). */
  rateLimitPerMinute: number
  /** Run and log reads (and cancels) each principal and tenant may make per minute (JOBGATE_READ_RATE_LIMIT). */
  readRateLimitPerMinute: number
  /** Concurrent `?wait` requests and event streams per principal and tenant (JOBGATE_MAX_WAITS). */
  maxWaitsPerCaller: number
  /** Seconds a client has to send a whole request, headers and body (JOBGATE_REQUEST_TIMEOUT_SECONDS); then 408. */
  requestTimeoutSeconds: number
  /** Idempotency-Key and event deduplication (JOBGATE_IDEMPOTENCY*). */
  idempotency: IdempotencyConfig
  /** Read budgets and log tailing (JOBGATE_RUN_READS_PER_MINUTE, JOBGATE_LOGGING_READS_PER_MINUTE). */
  live: LiveConfig
  /** Run events: the Pub/Sub topic, the reconcilers' leases (JOBGATE_EVENTS_TOPIC, JOBGATE_LEASE_SECONDS). */
  lifecycle: LifecycleConfig
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
export const LOCAL_PROJECT = 'local-project'
/** Local mode's catalog: the companion echo job, open to any override that is not protected. */
export const LOCAL_CATALOG = JSON.stringify({ jobs: { echo: { description: 'The companion job: echoes its args, env and task context.' } } })

function parseBaseUrl (env: Env, variable: string): string | undefined {
  const value = text(env, variable)
  if (value === undefined) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(variable, `${quote(value)} is not a URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(variable, `${quote(value)} must be an http(s) URL`)
  if (url.search !== '' || url.hash !== '') throw new ConfigError(variable, `${quote(value)} must not have a query or fragment`)
  return url.href.replace(/\/+$/, '')
}

/** Cloud mode needs an explicit signal: Cloud Shell and many gcloud users' shells set GOOGLE_CLOUD_PROJECT everywhere. */
function parseMode (env: Env): Mode {
  return oneOf(env, 'JOBGATE_MODE', ['local', 'cloud']) ?? (text(env, 'K_SERVICE') !== undefined ? 'cloud' : 'local')
}

function checkMetadataHost (env: Env): void {
  const host = text(env, 'GCE_METADATA_HOST')
  if (host !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) {
    throw new ConfigError('GCE_METADATA_HOST', `${quote(host)} must be host or host:port`)
  }
}

/** Local mode without authentication listens where only this machine can reach it, unless told otherwise (as cloud mode must be). */
function checkLocalExposure (env: Env, mode: Mode, host: string, auth: AuthConfig): void {
  if (mode !== 'local' || auth.modes.length > 0 || isLoopbackAddress(host) || flag(env, 'JOBGATE_ALLOW_UNAUTHENTICATED')) return
  throw new ConfigError('HOST', `${quote(host)} would let anyone who can reach this machine start jobs (local mode, JOBGATE_AUTH=none): ` +
    'listen on 127.0.0.1, turn authentication on, or set JOBGATE_ALLOW_UNAUTHENTICATED=true')
}

/** Reads and validates every setting; throws ConfigError naming the first bad variable. */
export function loadConfig (env: Env = process.env): Config {
  const mode = parseMode(env)
  const port = wholeNumber(env, 'PORT', { fallback: 8080, min: 0, max: 65535 })
  const host = text(env, 'HOST') ?? (text(env, 'K_SERVICE') !== undefined ? '0.0.0.0' : '127.0.0.1')
  const region = text(env, 'CLOUD_RUN_REGION') ?? 'us-central1'
  if (!/^[a-z]+-[a-z]+[0-9]+$/.test(region)) throw new ConfigError('CLOUD_RUN_REGION', `${quote(region)} is not a Cloud Run region like us-central1`)
  const project = text(env, 'GOOGLE_CLOUD_PROJECT') ?? (mode === 'local' ? LOCAL_PROJECT : undefined)
  const logLevel = oneOf(env, 'LOG_LEVEL', LOG_LEVELS) ?? 'info'
  checkMetadataHost(env)
  const runApiEndpoint = parseBaseUrl(env, 'CLOUD_RUN_API_ENDPOINT')
  // One endpoint for every region (a set endpoint, or local mode's emulator): regions do not tell jobs apart.
  const regionsApart = mode === 'cloud' && runApiEndpoint === undefined
  const config: Config = {
    mode,
    port,
    host,
    region,
    loggingApiEndpoint: parseBaseUrl(env, 'CLOUD_LOGGING_API_ENDPOINT') ?? 'https://logging.googleapis.com',
    catalog: loadCatalog(env, { project, region, regionsApart }, mode === 'local' ? LOCAL_CATALOG : undefined),
    auth: loadAuthConfig(env, mode),
    logLevel,
    maxInflightRuns: wholeNumber(env, 'JOBGATE_MAX_INFLIGHT_RUNS', { fallback: DEFAULT_MAX_INFLIGHT_RUNS, min: 1, max: 10_000 }),
    upstreamConnections: wholeNumber(env, 'JOBGATE_UPSTREAM_CONNECTIONS', { fallback: DEFAULT_UPSTREAM_CONNECTIONS, min: 1, max: 1_000 }),
    rateLimitPerMinute: wholeNumber(env, 'JOBGATE_RATE_LIMIT', { fallback: 60, min: 1, max: 1_000_000 }),
    readRateLimitPerMinute: wholeNumber(env, 'JOBGATE_READ_RATE_LIMIT', { fallback: 300, min: 1, max: 1_000_000 }),
    maxWaitsPerCaller: wholeNumber(env, 'JOBGATE_MAX_WAITS', { fallback: DEFAULT_MAX_WAITS_PER_CALLER, min: 1, max: 10_000 }),
    requestTimeoutSeconds: wholeNumber(env, 'JOBGATE_REQUEST_TIMEOUT_SECONDS', { fallback: 10, min: 1, max: 600 }),
    idempotency: loadIdempotencyConfig(env),
    live: loadLiveConfig(env, mode),
    lifecycle: loadLifecycleConfig(env, project, region, mode === 'local')
  }
  checkLocalExposure(env, mode, host, config.auth)
  if (project !== undefined) config.project = project
  if (runApiEndpoint !== undefined) config.runApiEndpoint = runApiEndpoint
  return config
}
