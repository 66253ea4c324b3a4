import type { Test } from 'tap'
import { startEmulator, type Emulator, type EmulatorOptions, type LogEntry, type V1Condition, type V1Execution } from '../../emulator/index.js'

/** An emulator on a free loopback port, closed when the test ends. */
export async function startTestEmulator (t: Test, options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator({ killGraceMs: 1000, ...options })
  t.teardown(() => emulator.close())
  return emulator
}

export interface Reply<T = unknown> {
  status: number
  headers: Headers
  body: T
}

/** A token from the emulator's metadata server, as a Cloud Run instance would get it. */
export async function fetchToken (emulator: Emulator): Promise<string> {
  const response = await fetch(`${emulator.url}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'Metadata-Flavor': 'Google' } })
  const body = await response.json() as { access_token: string }
  return body.access_token
}

/** A JSON client for the emulator's Google APIs, authenticated with `token` (none when null). */
export function client (emulator: Emulator, token: string | null) {
  return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<Reply<T>> => {
    const headers: Record<string, string> = {}
    if (token !== null) headers.Authorization = `Bearer ${token}`
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const response = await fetch(`${emulator.url}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
    const text = await response.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch { /* text body */ }
    return { status: response.status, headers: response.headers, body: parsed as T }
  }
}

export type Client = ReturnType<typeof client>

export const runPath = (ns: string, rest: string): string => `/apis/run.googleapis.com/v1/namespaces/${ns}/${rest}`

export function condition (execution: V1Execution, type: string): V1Condition | undefined {
  return execution.status.conditions.find(c => c.type === type)
}

/** Polls executions.get until `ready` holds (or fails the wait after `timeoutMs`). */
export async function pollExecution (
  api: Client,
  ns: string,
  name: string,
  ready: (e: V1Execution) => boolean,
  timeoutMs = 10_000
): Promise<V1Execution> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const reply = await api<V1Execution>('GET', runPath(ns, `executions/${name}`))
    if (reply.status !== 200) throw new Error(`GET execution ${name}: ${reply.status} ${JSON.stringify(reply.body)}`)
    if (ready(reply.body)) return reply.body
    if (Date.now() > deadline) throw new Error(`execution ${name} not ready after ${timeoutMs} ms: ${JSON.stringify(reply.body.status)}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

export const isDone = (execution: V1Execution): boolean => condition(execution, 'Completed')?.status !== 'Unknown'

/** All entries:list pages for a filter, following nextPageToken. */
export async function listAllEntries (api: Client, project: string, filter: string, pageSize = 1000): Promise<LogEntry[]> {
  const entries: LogEntry[] = []
  let pageToken: string | undefined
  do {
    const reply = await api<{ entries?: LogEntry[], nextPageToken?: string }>('POST', '/v2/entries:list', { resourceNames: [`projects/${project}`], filter, orderBy: 'timestamp asc', pageSize, ...(pageToken ? { pageToken } : {}) })
    if (reply.status !== 200) throw new Error(`entries:list: ${reply.status} ${JSON.stringify(reply.body)}`)
    entries.push(...(reply.body.entries ?? []))
    pageToken = reply.body.nextPageToken
  } while (pageToken)
  return entries
}

/** Polls entries:list until at least `count` entries match `filter`. */
export async function waitForEntries (
  api: Client, project: string, filter: string, count: number, timeoutMs = 10_000
): Promise<LogEntry[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const entries = await listAllEntries(api, project, filter)
    if (entries.length >= count) return entries
    if (Date.now() > deadline) throw new Error(`only ${entries.length} of ${count} entries match ${filter} after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

/** The filter jobgate sends for one execution's logs. */
export function executionFilter (job: string, region: string, execution: string, since: Date): string {
  const bound = new Date(since.getTime() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z')
  return `resource.type="cloud_run_job" AND resource.labels.job_name="${job}" AND resource.labels.location="${region}" AND labels."run.googleapis.com/execution_name"="${execution}" AND timestamp>="${bound}"`
}

/** Overrides for the echo job: env as [{name, value}]. */
export function overrides (options: {
  args?: string[]
  env?: Record<string, string>
  taskCount?: number
  timeoutSeconds?: number
  clearArgs?: boolean
}) {
  const container: Record<string, unknown> = {}
  if (options.args) container.args = options.args
  if (options.clearArgs) container.clearArgs = true
  if (options.env) container.env = Object.entries(options.env).map(([name, value]) => ({ name, value }))
  const result: Record<string, unknown> = { containerOverrides: [container] }
  if (options.taskCount !== undefined) result.taskCount = options.taskCount
  if (options.timeoutSeconds !== undefined) result.timeoutSeconds = options.timeoutSeconds
  return { overrides: result }
}
