import type { Credentials } from './auth.js'
import { openStream, parseEvents, readText, type StreamEvent } from './event-stream.js'
import { send } from './http.js'
import { backoffDelayMs, defaultRetryPolicy, parseRetryAfter, sleep, type RetryPolicy } from './retry.js'
import type { Batch, JobList, LogPage, Run, RunList, RunRequest, RunState, RunTaskPage } from './types.js'

/** The server answered with an error (the contract's `{error:{code,status,message}}` when it is jobgate). */
export class ApiResponseError extends Error {
  readonly httpStatus: number
  /** AIP-193 status name, e.g. UNAUTHENTICATED; undefined when the body was not the contract's shape. */
  readonly status: string | undefined
  readonly retryAfterMs: number | undefined

  constructor (httpStatus: number, status: string | undefined, message: string, retryAfterMs?: number) {
    super(message)
    this.name = 'ApiResponseError'
    this.httpStatus = httpStatus
    this.status = status
    this.retryAfterMs = retryAfterMs
  }
}

/** No usable answer: connection refused or dropped, DNS, timeouts. */
export class NetworkError extends Error {
  readonly code: string

  constructor (code: string, message: string) {
    super(message)
    this.name = 'NetworkError'
    this.code = code
  }
}

export type Failure = ApiResponseError | NetworkError

/** Which failures a call may retry; every call retries network errors. */
const retryableStatus = {
  read: new Set([429, 502, 503, 504]),
  // A retried POST is safe only because it carries the same Idempotency-Key; 409 = the first one is still in flight.
  startRun: new Set([409, 429, 502, 503]),
  cancel: new Set([429, 502, 503])
}

export interface ApiClientOptions {
  baseUrl: URL
  credentials: Credentials
  userAgent: string
  retryPolicy?: RetryPolicy
  /** Told about each retry, for a one-line notice on stderr. */
  onRetry?: (notice: string) => void
}

interface CallOptions {
  query?: Record<string, string | undefined>
  body?: unknown
  headers?: Record<string, string>
  signal?: AbortSignal | undefined
  retryOn: ReadonlySet<number>
  attempts?: number
  /** How long the server may take to answer, e.g. longer for `?wait=`. */
  headersTimeoutMs?: number
}

const requestTimeoutMs = 30_000

interface TaskQuery { state?: RunState, pageToken?: string | undefined }

/** The jobgate HTTP API as the CLI uses it: one method per route, retries and errors handled here. */
export class ApiClient {
  readonly #options: ApiClientOptions

  constructor (options: ApiClientOptions) {
    this.#options = options
  }

  /** The backoff of this client's retries, for callers that retry on their own (the event stream). */
  get retryPolicy (): RetryPolicy { return this.#options.retryPolicy ?? defaultRetryPolicy }

  /** Tells the user about a retry, as the client's own retries do. */
  notifyRetry (notice: string): void { this.#options.onRetry?.(notice) }

  startRun (job: string, body: RunRequest, idempotencyKey: string, signal?: AbortSignal): Promise<Run> {
    return this.#call('POST', `v1/jobs/${enc(job)}/runs`, {
      body,
      headers: { 'idempotency-key': idempotencyKey },
      signal,
      retryOn: retryableStatus.startRun
    })
  }

  /** One Run; with `waitSeconds`, the server holds the answer until the run ends or that time passes. */
  getRun (
    job: string,
    run: string,
    options: { waitSeconds?: number, signal?: AbortSignal | undefined, attempts?: number } = {}
  ): Promise<Run> {
    const { waitSeconds, signal, attempts } = options
    return this.#call('GET', `v1/jobs/${enc(job)}/runs/${enc(run)}`, {
      query: { wait: waitSeconds === undefined ? undefined : String(waitSeconds) },
      signal,
      retryOn: retryableStatus.read,
      ...(attempts === undefined ? {} : { attempts }),
      headersTimeoutMs: (waitSeconds ?? 0) * 1000 + requestTimeoutMs
    })
  }

  /** Queues a batch of runs; the same key on every retry, so a flaky network never queues it twice. */
  startBatch (job: string, runs: readonly RunRequest[], idempotencyKey: string, signal?: AbortSignal): Promise<Batch> {
    return this.#call('POST', `v1/jobs/${enc(job)}/batches`, {
      body: { runs },
      headers: { 'idempotency-key': idempotencyKey },
      signal,
      retryOn: retryableStatus.startRun
    })
  }

  /** One Batch; with `waitSeconds`, the server holds the answer until the batch ends or that time passes. */
  getBatch (job: string, batch: string, options: { waitSeconds?: number, signal?: AbortSignal | undefined } = {}): Promise<Batch> {
    const { waitSeconds, signal } = options
    return this.#call('GET', `v1/jobs/${enc(job)}/batches/${enc(batch)}`, {
      query: { wait: waitSeconds === undefined ? undefined : String(waitSeconds) },
      signal,
      retryOn: retryableStatus.read,
      // Polls tolerate a longer network outage than one-off calls: the runs go on meanwhile.
      attempts: 8,
      headersTimeoutMs: (waitSeconds ?? 0) * 1000 + requestTimeoutMs
    })
  }

  cancelRun (job: string, run: string, signal?: AbortSignal): Promise<Run> {
    return this.#call('POST', `v1/jobs/${enc(job)}/runs/${enc(run)}/cancel`, { signal, retryOn: retryableStatus.cancel })
  }

  listLogs (job: string, run: string, pageToken: string | undefined, signal?: AbortSignal, since?: string): Promise<LogPage> {
    return this.#call('GET', `v1/jobs/${enc(job)}/runs/${enc(run)}/logs`, {
      query: { pageToken, since },
      signal,
      retryOn: retryableStatus.read
    })
  }

  /**
   * The run's event stream (GET …/events): resolves once the server answered 200, then yields
   * each event until the stream ends. `lastEventId` resumes after that log event.
   */
  async streamEvents (
    job: string,
    run: string,
    options: { logs: boolean, lastEventId?: string | undefined, signal?: AbortSignal | undefined }
  ): Promise<AsyncGenerator<StreamEvent>> {
    return await this.#openEvents(`v1/jobs/${enc(job)}/runs/${enc(run)}/events`, options.logs ? {} : { logs: 'false' }, options)
  }

  /** Every run event the caller may see (GET /v1/events), of one job when `job` is given; `lastEventId` resumes after that event. */
  async streamRunEvents (
    options: { job?: string | undefined, lastEventId?: string | undefined, signal?: AbortSignal | undefined }
  ): Promise<AsyncGenerator<StreamEvent>> {
    return await this.#openEvents('v1/events', options.job === undefined ? {} : { job: options.job }, options)
  }

  async #openEvents (
    path: string,
    query: Record<string, string>,
    options: { lastEventId?: string | undefined, signal?: AbortSignal | undefined }
  ): Promise<AsyncGenerator<StreamEvent>> {
    const url = new URL(path, withTrailingSlash(this.#options.baseUrl))
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value)
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      'user-agent': this.#options.userAgent,
      ...(await this.#options.credentials.headers()),
      ...(options.lastEventId !== undefined && { 'last-event-id': options.lastEventId })
    }
    let incoming
    try {
      incoming = await openStream(url, headers, options.signal)
    } catch (error) {
      throw toFailure(error)
    }
    if (incoming.statusCode !== 200) {
      throw errorFromResponse(
        incoming.statusCode ?? 0,
        await readText(incoming),
        parseRetryAfter(incoming.headers['retry-after']),
        `GET ${url.pathname}`
      )
    }
    return parseEvents(incoming)
  }

  listJobs (signal?: AbortSignal): Promise<JobList> {
    return this.#call('GET', 'v1/jobs', { signal, retryOn: retryableStatus.read })
  }

  /** One page of a job's runs, newest first. */
  listRuns (job: string, page: { pageSize: number, pageToken?: string | undefined }, signal?: AbortSignal): Promise<RunList> {
    return this.#call('GET', `v1/jobs/${enc(job)}/runs`, {
      query: { pageSize: String(page.pageSize), pageToken: page.pageToken },
      signal,
      retryOn: retryableStatus.read
    })
  }

  /** One page of a run's tasks, by index; `state` keeps one state. */
  listTasks (job: string, run: string, page: TaskQuery, signal?: AbortSignal): Promise<RunTaskPage> {
    return this.#call('GET', `v1/jobs/${enc(job)}/runs/${enc(run)}/tasks`, {
      query: { state: page.state, pageSize: '1000', pageToken: page.pageToken },
      signal,
      retryOn: retryableStatus.read
    })
  }

  async #call<T> (method: 'GET' | 'POST', path: string, options: CallOptions): Promise<T> {
    const policy = this.#options.retryPolicy ?? defaultRetryPolicy
    const attempts = options.attempts ?? policy.attempts
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#once<T>(method, path, options)
      } catch (error) {
        if (options.signal?.aborted === true) throw error
        const failure = toFailure(error)
        const retryable = failure instanceof NetworkError || options.retryOn.has(failure.httpStatus)
        if (!retryable || attempt >= attempts) throw failure
        const delay = backoffDelayMs(policy, attempt, failure instanceof ApiResponseError ? failure.retryAfterMs : undefined)
        const what = failure instanceof NetworkError ? failure.code : `HTTP ${failure.httpStatus}`
        this.#options.onRetry?.(`${what} on ${method} /${path}; retrying in ${(delay / 1000).toFixed(1)}s (attempt ${attempt + 1} of ${attempts})`)
        await sleep(delay, options.signal)
      }
    }
  }

  async #once<T> (method: 'GET' | 'POST', path: string, options: CallOptions): Promise<T> {
    const url = new URL(path, withTrailingSlash(this.#options.baseUrl))
    for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(name, value)
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.#options.userAgent,
      ...(await this.#options.credentials.headers()),
      ...options.headers
    }
    let body: string | undefined
    if (options.body !== undefined) {
      body = JSON.stringify(options.body)
      headers['content-type'] = 'application/json'
    }
    const response = await send(url, {
      method,
      headers,
      body,
      signal: options.signal,
      timeoutMs: (options.headersTimeoutMs ?? requestTimeoutMs) + requestTimeoutMs
    })
    const text = response.text
    if (response.status >= 200 && response.status < 300) {
      try {
        return (text === '' ? {} : JSON.parse(text)) as T
      } catch {
        throw new ApiResponseError(response.status, undefined, `${method} ${url.pathname}: the answer is not JSON: ${snippet(text)}`)
      }
    }
    throw errorFromResponse(response.status, text, parseRetryAfter(response.headers['retry-after']), `${method} ${url.pathname}`)
  }
}

const enc = encodeURIComponent

const withTrailingSlash = (url: URL): URL => url.pathname.endsWith('/') ? url : new URL(`${url.href}/`)

function errorFromResponse (httpStatus: number, text: string, retryAfterMs: number | undefined, what: string): ApiResponseError {
  try {
    const parsed = JSON.parse(text) as { error?: { status?: unknown, message?: unknown } }
    const { status, message } = parsed.error ?? {}
    if (typeof message === 'string') return new ApiResponseError(httpStatus, typeof status === 'string' ? status : undefined, message, retryAfterMs)
  } catch {
    // not the contract's shape: a proxy, a load balancer or not jobgate at all
  }
  const detail = text.trim() === '' ? '' : `: ${snippet(text)}`
  return new ApiResponseError(httpStatus, undefined, `HTTP ${httpStatus} from ${what} (not a jobgate error body; is the URL right?)${detail}`, retryAfterMs)
}

/** A short, single-line, tag-free excerpt of an unexpected body. */
const snippet = (text: string): string => {
  const flat = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim()
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat
}

export function toFailure (error: unknown): Failure {
  if (error instanceof ApiResponseError || error instanceof NetworkError) return error
  const err = error as { code?: unknown, name?: unknown, message?: unknown, cause?: { code?: unknown } }
  const code = typeof err.code === 'string' ? err.code : typeof err.cause?.code === 'string' ? err.cause.code : String(err.name ?? 'Error')
  return new NetworkError(code, typeof err.message === 'string' ? err.message : String(error))
}
