import { loadAuthConfig, type AuthConfig } from './auth/index.js'
import { ConfigError } from './config-error.js'
import { loadCatalog, type JobCatalog } from './catalog.js'
import { loadIdempotencyConfig, type IdempotencyConfig } from './idempotency/index.js'
import { DEFAULT_UPSTREAM_CONNECTIONS } from './google/connection-gate.js'
import { loadLiveConfig, type LiveConfig } from './live/config.js'
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
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
export const LOCAL_PROJECT = 'local-project'
/** Local mode's catalog: the companion echo job, open to any override that is not protected. */
export const LOCAL_CATALOG = JSON.stringify({ jobs: { echo: { description: 'The companion job: echoes its args, env and task context.' } } })

const set = (value: string | undefined): value is string => value !== undefined && value !== ''

function parsePort (value: string | undefined): number {
  if (!set(value)) return 8080
  const port = Number(value)
  if (!/^\d+$/.test(value) || port > 65535) throw new ConfigError('PORT', `"${value}" is not a port number (0-65535)`)
  return port
}

function parseBaseUrl (variable: string, value: string | undefined): string | undefined {
  if (!set(value)) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(variable, `"${value}" is not a URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(variable, `"${value}" must be an http(s) URL`)
  if (url.search !== '' || url.hash !== '') throw new ConfigError(variable, `"${value}" must not have a query or fragment`)
  return url.href.replace(/\/+$/, '')
}

function parsePositiveInt (variable: string, value: string | undefined, fallback: number, max: number): number {
  if (!set(value)) return fallback
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < 1 || number > max) throw new ConfigError(variable, `"${value}" must be a whole number from 1 to ${max}`)
  return number
}

/** Cloud mode needs an explicit signal: Cloud Shell and many gcloud users' shells set GOOGLE_CLOUD_PROJECT everywhere. */
function parseMode (env: NodeJS.ProcessEnv): Mode {
  const value = env.JOBGATE_MODE
  if (!set(value)) return set(env.K_SERVICE) ? 'cloud' : 'local'
  if (value !== 'local' && value !== 'cloud') throw new ConfigError('JOBGATE_MODE', `"${value}" must be "local" or "cloud"`)
  return value
}

/** Reads and validates every setting; throws ConfigError naming the first bad variable. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const mode = parseMode(env)
  const port = parsePort(env.PORT)
  const host = set(env.HOST) ? env.HOST : set(env.K_SERVICE) ? '0.0.0.0' : '127.0.0.1'
  const region = set(env.CLOUD_RUN_REGION) ? env.CLOUD_RUN_REGION : 'us-central1'
  if (!/^[a-z]+-[a-z]+[0-9]+$/.test(region)) throw new ConfigError('CLOUD_RUN_REGION', `"${region}" is not a Cloud Run region like us-central1`)
  const project = set(env.GOOGLE_CLOUD_PROJECT) ? env.GOOGLE_CLOUD_PROJECT : mode === 'local' ? LOCAL_PROJECT : undefined
  const logLevel = set(env.LOG_LEVEL) ? env.LOG_LEVEL : 'info'
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`)
  if (set(env.GCE_METADATA_HOST) && !/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(env.GCE_METADATA_HOST)) {
    throw new ConfigError('GCE_METADATA_HOST', `"${env.GCE_METADATA_HOST}" must be host or host:port`)
  }
  const config: Config = {
    mode,
    port,
    host,
    region,
    loggingApiEndpoint: parseBaseUrl('CLOUD_LOGGING_API_ENDPOINT', env.CLOUD_LOGGING_API_ENDPOINT) ?? 'https://logging.googleapis.com',
    catalog: loadCatalog(env, { project, region }, mode === 'local' ? LOCAL_CATALOG : undefined),
    auth: loadAuthConfig(env, mode),
    logLevel,
    maxInflightRuns: parsePositiveInt('JOBGATE_MAX_INFLIGHT_RUNS', env.JOBGATE_MAX_INFLIGHT_RUNS, DEFAULT_MAX_INFLIGHT_RUNS, 10_000),
    upstreamConnections: parsePositiveInt('JOBGATE_UPSTREAM_CONNECTIONS', env.JOBGATE_UPSTREAM_CONNECTIONS, DEFAULT_UPSTREAM_CONNECTIONS, 1_000),
    rateLimitPerMinute: parsePositiveInt('JOBGATE_RATE_LIMIT', env.JOBGATE_RATE_LIMIT, 60, 1_000_000),
    readRateLimitPerMinute: parsePositiveInt('JOBGATE_READ_RATE_LIMIT', env.JOBGATE_READ_RATE_LIMIT, 300, 1_000_000),
    maxWaitsPerCaller: parsePositiveInt('JOBGATE_MAX_WAITS', env.JOBGATE_MAX_WAITS, DEFAULT_MAX_WAITS_PER_CALLER, 10_000),
    requestTimeoutSeconds: parsePositiveInt('JOBGATE_REQUEST_TIMEOUT_SECONDS', env.JOBGATE_REQUEST_TIMEOUT_SECONDS, 10, 600),
    idempotency: loadIdempotencyConfig(env),
    live: loadLiveConfig(env, mode)
  }
  if (project !== undefined) config.project = project
  const runApiEndpoint = parseBaseUrl('CLOUD_RUN_API_ENDPOINT', env.CLOUD_RUN_API_ENDPOINT)
  if (runApiEndpoint !== undefined) config.runApiEndpoint = runApiEndpoint
  return config
}
