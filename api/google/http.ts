import type * as Undici from 'undici'
import type { Dispatcher } from 'undici'
import { parseRetryAfterMs } from '../../common/retry-after.js'
import { ConnectionGate, DEFAULT_UPSTREAM_CONNECTIONS, GateRefusal, type ConnectionLimits } from './connection-gate.js'
import type { TokenSource } from './token.js'
import { UpstreamError, type CallContext } from './upstream-error.js'

export { UpstreamError, type CallContext, type FailureKind } from './upstream-error.js'

export interface Timeouts {
  connectMs: number
  headersMs: number
  bodyMs: number
}

/** Explicit, short timeouts: undici's 300 s defaults would hold a request far past any client's patience. */
export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 5_000, headersMs: 30_000, bodyMs: 30_000 }

/**
 * How a failure may be retried.
 * `unsafe`: the call starts something (jobs.run); retry only failures that prove nothing was processed.
 * `safe`: reads and idempotent actions; transient failures may be retried too.
 */
export type RetryMode = 'safe' | 'unsafe'

export interface GoogleCall {
  method: 'GET' | 'POST' | 'DELETE'
  url: string
  body?: unknown
  retry: RetryMode
  /** Which call this is: named in retry lines, and carried by its UpstreamError to the edge. */
  context?: CallContext
}

/** One retry, as told to `onRetryAttempt`: never the token, the URL or its query. */
export interface RetryAttempt {
  /** The attempt that failed, from 1. */
  attempt: number
  /** Why: `http 503`, `http 429 RATE_LIMIT_EXCEEDED`, `connection ECONNRESET`, `timeout UND_ERR_HEADERS_TIMEOUT`… */
  reason: string
  /** The pause before the next attempt. */
  delayMs: number
  service: string
  operation: string
  method: GoogleCall['method']
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

function classifyTransportError (err: unknown): UpstreamError {
  if (err instanceof GateRefusal) return new UpstreamError(err.reason === 'queue-full' ? 'saturated' : 'queued', err.message, { cause: err })
  const code = (err as { code?: string }).code ?? ''
  const message = (err as Error).message
  const details = { cause: err, ...(code !== '' && { code }) }
  if (NOT_SENT_CODES.has(code)) return new UpstreamError('refused', `could not connect (${code})`, details)
  if (TIMEOUT_CODES.has(code)) return new UpstreamError('timeout', `no answer in time (${code})`, details)
  return new UpstreamError('connection', `the connection failed (${code || message})`, details)
}

/** Seconds from a Retry-After header: delta-seconds or an HTTP date. */
export function parseRetryAfter (value: string | string[] | undefined, now = Date.now()): number | undefined {
  const ms = parseRetryAfterMs(value, now)
  return ms === undefined ? undefined : Math.ceil(ms / 1000)
}

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo'

/** Status, message and ErrorInfo.reason of Google's error body (AIP-193), as far as present. */
function googleErrorOf (text: string): { status?: string, message?: string, reason?: string } {
  try {
    const { error } = JSON.parse(text) as { error?: { status?: unknown, message?: unknown, details?: unknown } }
    const info = Array.isArray(error?.details)
      ? (error.details as Array<{ '@type'?: unknown, reason?: unknown } | null>).find(detail => detail?.['@type'] === ERROR_INFO)
      : undefined
    const out: { status?: string, message?: string, reason?: string } = {}
    if (typeof error?.status === 'string') out.status = error.status
    if (typeof error?.message === 'string') out.message = error.message
    if (typeof info?.reason === 'string') out.reason = info.reason
    return out
  } catch {
    return {}
  }
}

/** Longest upstream error message passed on; Google's are one or two sentences. */
const MAX_UPSTREAM_MESSAGE = 1000

/**
 * Upstream error text is passed on to clients and logs, so anything credential-shaped goes first:
 * the token this call sent, Google access tokens (ya29.…), JWTs and Bearer values.
 */
export function withoutCredentials (text: string, token: string): string {
  const scrubbed = (token === '' ? text : text.replaceAll(token, '[REDACTED]'))
    .replace(/ya29\.[\w.~+/=-]+/g, '[REDACTED]')
    .replace(/eyJ[\w-]*\.[\w-]+\.[\w-]*/g, '[REDACTED]')
    .replace(/(bearer\s+)[^\s"',]+/gi, '$1[REDACTED]')
  return scrubbed.length > MAX_UPSTREAM_MESSAGE ? `${scrubbed.slice(0, MAX_UPSTREAM_MESSAGE)}…` : scrubbed
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  unsafe: number
  safe: number
  baseDelayMs: number
  maxDelayMs: number
  /** A server asking for a longer pause than this is answered to the caller instead of waited out. */
  maxRetryAfterSeconds: number
}

export const DEFAULT_RETRY: RetryPolicy = { unsafe: 2, safe: 3, baseDelayMs: 200, maxDelayMs: 3_000, maxRetryAfterSeconds: 5 }

export interface GoogleHttpOptions {
  tokens: TokenSource
  /** Injected in tests (undici MockAgent); otherwise one Agent, which keeps one keep-alive Pool per origin. */
  dispatcher?: Dispatcher
  timeouts?: Partial<Timeouts>
  /** Sockets per origin and the queue behind them; default 32 connections, 4× as many waiting, for up to the headers timeout. */
  limits?: Partial<ConnectionLimits>
  retry?: Partial<RetryPolicy>
  userAgent?: string
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  /** Told before each pause between attempts (services.ts logs it). */
  onRetryAttempt?: (retry: RetryAttempt) => void
}

/** The `onRetryAttempt` that writes one warning per retry to `log`. */
export const logRetries = (log: { warn: (fields: object, message: string) => void }) => (retry: RetryAttempt): void => {
  log.warn({ ...retry }, `${retry.service} ${retry.operation}: attempt ${retry.attempt} failed (${retry.reason}); retrying in ${retry.delayMs} ms`)
}

const defaultSleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** The one HTTP client for Google's REST APIs: bearer token, timeouts, error classification, the retry rule. */
export class GoogleHttp {
  readonly #tokens: TokenSource
  /** Given (a test's MockAgent), else undici's Agent, made at the first call. */
  readonly #dispatcher: Dispatcher | undefined
  /** undici is loaded at the first call, not at start: a cold instance answers /healthz without it (~40 ms). */
  #agent: Promise<Dispatcher> | undefined
  readonly #connections: number
  readonly #timeouts: Timeouts
  readonly #gate: ConnectionGate
  readonly #retry: RetryPolicy
  readonly #userAgent: string
  readonly #sleep: (ms: number) => Promise<void>
  readonly #random: () => number
  readonly #onRetryAttempt: (retry: RetryAttempt) => void

  constructor (options: GoogleHttpOptions) {
    this.#tokens = options.tokens
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts }
    this.#retry = { ...DEFAULT_RETRY, ...options.retry }
    const connections = options.limits?.connections ?? DEFAULT_UPSTREAM_CONNECTIONS
    this.#gate = new ConnectionGate({ connections, maxQueued: connections * 4, maxWaitMs: this.#timeouts.headersMs, ...options.limits })
    this.#dispatcher = options.dispatcher
    this.#connections = connections
    this.#userAgent = options.userAgent ?? 'jobgate'
    this.#sleep = options.sleep ?? defaultSleep
    this.#random = options.random ?? Math.random
    this.#onRetryAttempt = options.onRetryAttempt ?? (() => {})
  }

  async call<T> (call: GoogleCall): Promise<T> {
    const retries = call.retry === 'unsafe' ? this.#retry.unsafe : this.#retry.safe
    let freshToken = false
    let failed = 0
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#once<T>(call)
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err
        failed++
        // A rejected token proves the request was not processed: once, fetch a new token and try again.
        if (err.httpStatus === 401 && !freshToken && this.#tokens.invalidate !== undefined) {
          freshToken = true
          this.#tokens.invalidate()
          this.#tellRetry(call, failed, err, 0)
          attempt--
          continue
        }
        if (attempt >= retries || !this.#retryable(err, call.retry)) throw err.withContext(call.context)
        const delayMs = this.#delay(attempt, err.retryAfterSeconds)
        this.#tellRetry(call, failed, err, delayMs)
        await this.#sleep(delayMs)
      }
    }
  }

  #tellRetry (call: GoogleCall, attempt: number, err: UpstreamError, delayMs: number): void {
    this.#onRetryAttempt({
      attempt,
      reason: err.summary,
      delayMs: Math.round(delayMs),
      service: call.context?.service ?? new URL(call.url).host,
      operation: call.context?.operation ?? call.method,
      method: call.method
    })
  }

  #retryable (err: UpstreamError, mode: RetryMode): boolean {
    // Waiting again for a full pool helps nobody: the caller is told (and when to come back).
    if (err.kind === 'queued' || err.kind === 'saturated' || err.kind === 'token' || (err.retryAfterSeconds ?? 0) > this.#retry.maxRetryAfterSeconds) return false
    return mode === 'unsafe' ? err.provenUnprocessed : err.transient
  }

  /** Full jitter, but never sooner than the server asked. */
  #delay (attempt: number, retryAfterSeconds: number | undefined): number {
    const jitter = this.#random() * Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** attempt)
    return Math.max(jitter, (retryAfterSeconds ?? 0) * 1000)
  }

  async #agentDispatcher (): Promise<Dispatcher> {
    this.#agent ??= (async () => {
      // Read through `default` (its module.exports) when there: Node's CommonJS interop and the server bundle's both have it.
      const loaded = await import('undici') as unknown as typeof Undici & { default?: typeof Undici }
      return new (loaded.default ?? loaded).Agent({
        connect: { timeout: this.#timeouts.connectMs },
        headersTimeout: this.#timeouts.headersMs,
        bodyTimeout: this.#timeouts.bodyMs,
        keepAliveTimeout: 30_000,
        // The gate admits no more than this many requests per origin, so this pool never queues.
        connections: this.#connections
      })
    })()
    return await this.#agent
  }

  async #once<T> (call: GoogleCall): Promise<T> {
    const dispatcher = this.#dispatcher ?? await this.#agentDispatcher()
    const token = await this.#tokens.getToken()
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'user-agent': this.#userAgent, accept: 'application/json' }
    if (call.body !== undefined) headers['content-type'] = 'application/json'
    const { origin } = new URL(call.url)
    let response: Dispatcher.ResponseData
    let text: string
    let release: (() => void) | undefined
    try {
      release = await this.#gate.acquire(origin)
      response = await dispatcher.request({
        origin,
        path: call.url.slice(origin.length),
        method: call.method,
        headers,
        body: call.body === undefined ? null : JSON.stringify(call.body),
        headersTimeout: this.#timeouts.headersMs,
        bodyTimeout: this.#timeouts.bodyMs
      })
      text = await response.body.text()
    } catch (err) {
      throw classifyTransportError(err)
    } finally {
      release?.()
    }
    if (response.statusCode >= 200 && response.statusCode < 300) {
      try {
        return (text === '' ? {} : JSON.parse(text)) as T
      } catch (err) {
        throw new UpstreamError('http', `answered HTTP ${response.statusCode} with a body that is not JSON`, { httpStatus: response.statusCode, cause: err })
      }
    }
    const google = googleErrorOf(text)
    const retryAfterSeconds = parseRetryAfter(response.headers['retry-after'])
    const message = google.message === undefined ? `answered HTTP ${response.statusCode} without a Google error body` : withoutCredentials(google.message, token)
    throw new UpstreamError('http', message, {
      httpStatus: response.statusCode,
      ...(google.status !== undefined && { googleStatus: google.status }),
      ...(google.reason !== undefined && { reason: google.reason }),
      ...(retryAfterSeconds !== undefined && { retryAfterSeconds })
    })
  }

  async close (): Promise<void> {
    if (this.#agent !== undefined) await (await this.#agent).close()
  }
}
