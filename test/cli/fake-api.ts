/**
 * A small stand-in for the jobgate API (docs/api.md) for the CLI's tests: real HTTP on
 * 127.0.0.1, in-memory runs that move through scripted states, `?wait=` long-polls, paged logs,
 * Idempotency-Key replay, API-key / bearer auth, and injected faults (dropped connections, errors).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { LogEntry, Run, RunRequest, RunState, RunTask } from '../../cli/types.js'

export interface Step {
  atMs: number
  state: RunState
  running?: number
  succeeded?: number
  failed?: number
}

export interface ScriptedLog {
  atMs: number
  entry: Omit<LogEntry, 'timestamp'>
}

export interface FakeJob {
  steps: (request: RunRequest, taskCount: number) => Step[]
  logs?: (request: RunRequest, taskCount: number) => ScriptedLog[]
}

export type Fault =
  | 'drop' // close the connection without handling the request
  | 'handle-then-drop' // do the work, then close the connection instead of answering
  | { status: number, body?: unknown, headers?: Record<string, string> }

export interface Injection {
  method?: string
  path?: RegExp
  times?: number
  fault: Fault
}

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  headers: IncomingMessage['headers']
  body: string
}

export interface FakeRun {
  name: string
  job: string
  request: RunRequest
  taskCount: number
  createdAt: number
  steps: Step[]
  logs: ScriptedLog[]
  cancelledAt: number | undefined
}

export interface FakeApiOptions {
  apiKey?: string
  bearerToken?: string
  jobs?: Record<string, FakeJob>
  logPageSize?: number
}

export interface FakeApi {
  url: string
  requests: RecordedRequest[]
  runs: Map<string, FakeRun>
  inject: (injection: Injection) => void
  /** Adds a log line to a run, at `atMs` after its start (default: now, so visible at once). */
  addLog: (runName: string, entry: Omit<LogEntry, 'timestamp'>, atMs?: number) => void
  snapshot: (runName: string) => Run
  close: () => Promise<void>
}

const perTask = (n: number, make: (task: number) => ScriptedLog[]): ScriptedLog[] =>
  Array.from({ length: n }, (_, task) => make(task)).flat()

/** The scripted jobs every fake knows; tests add their own through `options.jobs`. */
export const defaultJobs: Record<string, FakeJob> = {
  echo: {
    steps: (_, n) => [{ atMs: 0, state: 'PENDING' }, { atMs: 100, state: 'RUNNING', running: n }, { atMs: 300, state: 'SUCCEEDED', succeeded: n }],
    logs: (request, n) => perTask(n, task => [
      { atMs: 150, entry: { severity: 'INFO', taskIndex: task, message: 'args', payload: { message: 'args', args: request.args ?? [] } } },
      { atMs: 160, entry: { severity: 'INFO', taskIndex: task, message: 'env', payload: { message: 'env', env: request.env ?? {} } } },
      { atMs: 170, entry: { severity: 'INFO', taskIndex: task, message: 'done' } }
    ])
  },
  fail: {
    steps: (_, n) => [{ atMs: 0, state: 'PENDING' }, { atMs: 100, state: 'RUNNING', running: n }, { atMs: 300, state: 'FAILED', failed: 1, succeeded: n - 1 }],
    logs: () => [{ atMs: 150, entry: { severity: 'ERROR', taskIndex: 0, message: 'migration 42 failed: relation "users" already exists' } }]
  },
  slow: {
    steps: (_, n) => [{ atMs: 0, state: 'PENDING' }, { atMs: 50, state: 'RUNNING', running: n }],
    logs: () => [{ atMs: 60, entry: { severity: 'INFO', taskIndex: 0, message: 'working' } }]
  },
  progress: {
    // Tasks finish one by one, 150 ms apart, after a 100 ms start.
    steps: (_, n) => [
      { atMs: 0, state: 'PENDING' },
      ...Array.from({ length: n }, (_, done) => ({ atMs: 100 + done * 150, state: 'RUNNING' as const, running: n - done, succeeded: done })),
      { atMs: 100 + n * 150, state: 'SUCCEEDED', succeeded: n }
    ]
  }
}

const terminal = (state: RunState): boolean => state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED'
const allowedFields = new Set(['args', 'env', 'clearArgs', 'taskCount', 'timeoutSeconds'])

class HttpError extends Error {
  constructor (readonly code: number, readonly status: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
  }
}

export async function startFakeApi (options: FakeApiOptions = {}): Promise<FakeApi> {
  const jobs = { ...defaultJobs, ...options.jobs }
  const pageSize = options.logPageSize ?? 2
  const runs = new Map<string, FakeRun>()
  const requests: RecordedRequest[] = []
  const injections: Injection[] = []
  const idempotency = new Map<string, { body: string, runName: string }>()
  let counter = 0

  const snapshot = (name: string): Run => {
    const run = runs.get(name)
    if (run === undefined) throw new HttpError(404, 'NOT_FOUND', `run ${name} not found`)
    const now = Date.now()
    const elapsed = now - run.createdAt
    let step = run.steps[0] as Step
    for (const candidate of run.steps) if (candidate.atMs <= elapsed) step = candidate
    const endedAt = (s: Step): number => run.createdAt + s.atMs
    let state = step.state
    let completion = terminal(state) ? endedAt(step) : undefined
    if (run.cancelledAt !== undefined && !(completion !== undefined && completion <= run.cancelledAt)) {
      state = 'CANCELLED'
      completion = run.cancelledAt
    }
    const started = run.steps.find(s => s.state !== 'PENDING' && s.atMs <= elapsed)
    const cancelled = state === 'CANCELLED'
    return {
      name: run.name,
      job: run.job,
      state,
      createTime: new Date(run.createdAt).toISOString(),
      ...(started === undefined ? {} : { startTime: new Date(endedAt(started)).toISOString() }),
      ...(completion === undefined ? {} : { completionTime: new Date(completion).toISOString() }),
      taskCount: run.taskCount,
      runningCount: cancelled ? 0 : step.running ?? 0,
      succeededCount: step.succeeded ?? 0,
      failedCount: step.failed ?? 0,
      cancelledCount: cancelled ? run.taskCount - (step.succeeded ?? 0) - (step.failed ?? 0) : 0,
      // Every failed task of the fake ran four times.
      retriedCount: step.failed ?? 0,
      ...(state === 'FAILED' && { message: `Task ${run.name}-task0 failed with message: The container exited with an error (exit code 3).` }),
      logUri: `https://console.cloud.google.com/logs/query?run=${run.name}`,
      links: { self: `/v1/jobs/${run.job}/runs/${run.name}`, logs: `/v1/jobs/${run.job}/runs/${run.name}/logs` }
    }
  }

  const findRun = (job: string, name: string): FakeRun => {
    const run = runs.get(name)
    if (run === undefined || run.job !== job) throw new HttpError(404, 'NOT_FOUND', `run ${name} of job ${job} not found`)
    return run
  }

  const startRun = (job: string, rawBody: string, key: string | undefined): { status: number, run: Run, replay: boolean } => {
    let request: RunRequest
    try {
      request = rawBody === '' ? {} : JSON.parse(rawBody)
    } catch {
      throw new HttpError(400, 'INVALID_ARGUMENT', 'body is not JSON')
    }
    for (const field of Object.keys(request)) if (!allowedFields.has(field)) throw new HttpError(400, 'INVALID_ARGUMENT', `unknown field ${field}`)
    if (request.env !== undefined) {
      for (const name of Object.keys(request.env)) if (/^(CLOUD_RUN_|K_|GOOGLE_)/.test(name)) throw new HttpError(400, 'INVALID_ARGUMENT', `env.${name}: protected variable`)
    }
    if (key !== undefined) {
      const seen = idempotency.get(key)
      if (seen !== undefined) {
        if (seen.body !== rawBody) throw new HttpError(422, 'UNPROCESSABLE_ENTITY', 'Idempotency-Key reused with a different body')
        return { status: 202, run: snapshot(seen.runName), replay: true }
      }
    }
    const taskCount = request.taskCount ?? 1
    counter++
    const name = `${job}-job-${String(counter).padStart(5, '0')}`
    const spec = jobs[job] as FakeJob
    runs.set(name, {
      name,
      job,
      request,
      taskCount,
      createdAt: Date.now(),
      steps: spec.steps(request, taskCount),
      logs: spec.logs?.(request, taskCount) ?? [],
      cancelledAt: undefined
    })
    if (key !== undefined) idempotency.set(key, { body: rawBody, runName: name })
    return { status: 202, run: snapshot(name), replay: false }
  }

  /** The run's tasks as its counts tell: failed ones first (4 attempts, exit code 3), then succeeded, running, the rest. */
  const tasksOf = (run: Run): RunTask[] => Array.from({ length: run.taskCount }, (_, index): RunTask => {
    const links = { logs: `/v1/jobs/${run.job}/runs/${run.name}/logs?taskIndex=${index}` }
    const started = run.startTime === undefined ? {} : { startTime: run.startTime }
    const times = { ...started, ...(run.completionTime !== undefined && { completionTime: run.completionTime }) }
    if (index < run.failedCount) return { index, state: 'FAILED', attempts: 4, exitCode: 3, message: 'The container exited with an error (exit code 3)', ...times, links }
    if (index < run.failedCount + run.succeededCount) return { index, state: 'SUCCEEDED', attempts: 1, exitCode: 0, ...times, links }
    if (index < run.failedCount + run.succeededCount + run.runningCount) return { index, state: 'RUNNING', attempts: 1, ...started, links }
    return run.state === 'CANCELLED' ? { index, state: 'CANCELLED', attempts: 0, links } : { index, state: 'PENDING', attempts: 0, links }
  })

  /** One page of `items` from `?pageToken=` (an offset) and `?pageSize=`, as the real routes page. */
  const pageOf = <T>(items: T[], url: URL, size: number): { items: T[], next?: string } => {
    const start = Number(url.searchParams.get('pageToken') ?? '0')
    const end = start + Number(url.searchParams.get('pageSize') ?? size)
    return end < items.length ? { items: items.slice(start, end), next: String(end) } : { items: items.slice(start, end) }
  }

  const visibleLogs = (run: FakeRun): LogEntry[] => {
    const elapsed = Date.now() - run.createdAt
    const cutoff = run.cancelledAt === undefined ? elapsed : Math.min(elapsed, run.cancelledAt - run.createdAt)
    return run.logs
      .filter(line => line.atMs <= cutoff)
      .sort((a, b) => a.atMs - b.atMs)
      .map(line => ({ timestamp: new Date(run.createdAt + line.atMs).toISOString(), ...line.entry }))
  }

  const holdUntilEnded = async (name: string, seconds: number, res: ServerResponse): Promise<void> => {
    const until = Date.now() + seconds * 1000
    let gone = false
    res.once('close', () => { gone = true }) // the client went away: stop holding
    while (!gone && Date.now() < until && !terminal(snapshot(name).state)) await new Promise(resolve => setTimeout(resolve, 10))
  }

  const authenticate = (req: IncomingMessage): void => {
    if (options.apiKey === undefined && options.bearerToken === undefined) return
    const key = req.headers['x-api-key']
    const authorization = req.headers.authorization
    if (options.apiKey !== undefined && key === options.apiKey) return
    if (options.bearerToken !== undefined && authorization === `Bearer ${options.bearerToken}`) return
    const message = key !== undefined ? 'the API key is not valid' : authorization !== undefined ? 'the ID token is not valid for this service' : 'missing credentials: send X-API-Key or a Google ID token'
    throw new HttpError(401, 'UNAUTHENTICATED', message)
  }

  const route = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: string
  ): Promise<{ status: number, payload: unknown, headers?: Record<string, string> }> => {
    authenticate(req)
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent)
    const [v1, jobsWord, job, runsWord, runName, action] = parts
    if (v1 !== 'v1' || jobsWord !== 'jobs') throw new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`)
    if (job === undefined && req.method === 'GET') {
      const limits = { maxTaskCount: 100, maxTimeoutSeconds: 3600, args: { allow: true, maxItems: 100 }, env: {} }
      return { status: 200, payload: { jobs: Object.keys(jobs).map(id => ({ id, project: 'fake-project', region: 'europe-west1', job: `${id}-job`, limits })) } }
    }
    if (job !== undefined && jobs[job] === undefined) throw new HttpError(404, 'NOT_FOUND', `job "${job}" is not in jobgate's catalog`)
    if (job !== undefined && runsWord === 'runs' && runName === undefined && req.method === 'GET') {
      const newestFirst = [...runs.values()].filter(run => run.job === job).reverse().map(run => snapshot(run.name))
      const { items, next } = pageOf(newestFirst, url, 20)
      return { status: 200, payload: next === undefined ? { runs: items } : { runs: items, nextPageToken: next } }
    }
    if (job !== undefined && runName !== undefined && action === 'tasks' && req.method === 'GET') {
      findRun(job, runName)
      const state = url.searchParams.get('state')
      const { items, next } = pageOf(tasksOf(snapshot(runName)).filter(task => state === null || task.state === state), url, 100)
      return { status: 200, payload: next === undefined ? { tasks: items } : { tasks: items, nextPageToken: next } }
    }
    if (job !== undefined && runsWord === 'runs' && runName === undefined && req.method === 'POST') {
      const key = req.headers['idempotency-key'] as string | undefined
      const { status, run } = startRun(job, body, key)
      return { status, payload: run, headers: { location: `/v1/jobs/${job}/runs/${run.name}` } }
    }
    if (job !== undefined && runName !== undefined && action === undefined && req.method === 'GET') {
      findRun(job, runName)
      const wait = url.searchParams.get('wait')
      if (wait !== null) {
        if (!/^\d+$/.test(wait) || Number(wait) > 60) { throw new HttpError(400, 'INVALID_ARGUMENT', 'wait: an integer of seconds, at most 60') }
        await holdUntilEnded(runName, Number(wait), res)
      }
      return { status: 200, payload: snapshot(runName) }
    }
    if (job !== undefined && runName !== undefined && action === 'cancel' && req.method === 'POST') {
      const run = findRun(job, runName)
      if (!terminal(snapshot(runName).state) && run.cancelledAt === undefined) run.cancelledAt = Date.now()
      return { status: 200, payload: snapshot(runName) }
    }
    if (job !== undefined && runName !== undefined && action === 'logs' && req.method === 'GET') {
      const since = url.searchParams.get('since')
      // Like the real route: only entries at or after `since`, when given.
      const entries = visibleLogs(findRun(job, runName)).filter(entry => since === null || String(entry.timestamp) >= since)
      const start = Number(url.searchParams.get('pageToken') ?? '0')
      const page = entries.slice(start, start + pageSize)
      const next = start + pageSize < entries.length ? String(start + pageSize) : undefined
      return { status: 200, payload: next === undefined ? { entries: page } : { entries: page, nextPageToken: next } }
    }
    throw new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`)
  }

  const send = (res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(payload))
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', chunk => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake')
      const body = Buffer.concat(chunks).toString('utf8')
      requests.push({ method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body })
      const injection = injections.find(
        i =>
          (i.times ?? 1) > 0 && (i.method === undefined || i.method === req.method) && (i.path === undefined || i.path.test(url.pathname))
      )
      if (injection !== undefined) injection.times = (injection.times ?? 1) - 1
      const fault = injection?.fault
      if (fault === 'drop') { req.socket.destroy(); return }
      if (fault !== undefined && fault !== 'handle-then-drop') { send(res, fault.status, fault.body ?? {}, fault.headers); return }
      route(req, res, url, body).then(
        ({ status, payload, headers }) => { if (fault === 'handle-then-drop') req.socket.destroy(); else send(res, status, payload, headers) },
        (error: unknown) => {
          if (!(error instanceof HttpError)) { send(res, 500, { error: { code: 500, status: 'INTERNAL', message: String(error) } }); return }
          send(res, error.code, { error: { code: error.code, status: error.status, message: error.message } }, error.headers)
        }
      )
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    runs,
    inject: injection => { injections.push(injection) },
    addLog: (runName, entry, atMs) => {
      const run = runs.get(runName)
      if (run === undefined) throw new Error(`no run ${runName}`)
      run.logs.push({ atMs: atMs ?? Date.now() - run.createdAt, entry })
    },
    snapshot,
    close: () => new Promise<void>(resolve => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
}
