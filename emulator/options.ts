import type { IncomingHttpHeaders } from 'node:http'

/** A Cloud Run job the emulator knows, in the emulator's own terms (emulator/index.ts re-exports these). */
export interface EmulatorJob {
  project: string
  /** Defaults to the emulator's region. */
  region?: string
  name: string
  /** The container's entrypoint; default: this Node running the companion job, dist/job/main.js. */
  command?: string[]
  args?: string[]
  env?: Record<string, string>
  /** The container's name, matched by `containerOverrides[].name`; default "job". */
  containerName?: string
  /** Default 1. */
  taskCount?: number
  /** Tasks running at once; 0 or absent means all of them (Cloud Run: "the maximum possible"). */
  parallelism?: number
  /** Retries per task after its first attempt; default 3, as on Cloud Run. */
  maxRetries?: number
  /** Per attempt; default 600, as on Cloud Run. */
  timeoutSeconds?: number
}

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string
  /** Default 0: a free port. */
  port?: number
  /** Default us-central1. */
  region?: string
  /** The metadata server's project; default: the first job's project, else "local-project". */
  projectId?: string
  /** Default "123456789012". */
  projectNumber?: string
  jobs?: EmulatorJob[]
  /** Lifetime of issued access tokens; default 3600. */
  tokenLifetimeSeconds?: number
  /** Receives one line per request and per task event; silent by default. Never given a token. */
  logger?: (line: string) => void
  /** How long a task has between SIGTERM and SIGKILL (cancel, timeout, close); default 2000. */
  killGraceMs?: number
  /** Put Cloud Run's Cloud Console link in an execution's `status.logUri`; default true, as Cloud Run does. */
  consoleLogLinks?: boolean
}

/** One request as the emulator received it (test hook). */
export interface RecordedRequest {
  method: string
  /** The path without the query string. */
  path: string
  /** The path with the query string, as sent. */
  url: string
  headers: IncomingHttpHeaders
  /** The parsed JSON body, the raw text when it is not JSON, or undefined when empty. */
  body: unknown
  time: Date
}

/** Which requests an injected failure applies to; both parts optional. */
export interface RequestMatch {
  method?: string
  /** Tested against the path with its query string, e.g. /apis/run.googleapis.com/v1/namespaces/p/jobs/echo:run */
  pathPattern?: RegExp
}

/** What to do instead of (or before) answering a matching request. */
export interface InjectedFailure {
  /** Answer with this HTTP code; without it (and without `reset`) the request is answered normally after `delayMs`. */
  status?: number
  /** The body to send; default Google's error JSON for `status`. */
  body?: unknown
  headers?: Record<string, string>
  /** How many matching requests this applies to; default 1. */
  count?: number
  /** Wait this long first (to make a client time out). */
  delayMs?: number
  /** Destroy the connection without answering (a reset, after `delayMs`). */
  reset?: boolean
}
