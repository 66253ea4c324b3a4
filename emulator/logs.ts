import { createHash } from 'node:crypto'
import { invalidArgument } from './errors.js'
import { matchesAll, parseFilter, severities } from './filter.js'
import type { OutputStream } from './runner.js'
import { asRecord, isRecord, optionalInteger, optionalString, rejectUnknownFields } from './wire.js'

/** A Cloud Logging v2 LogEntry, as entries:list returns it. */
export interface LogEntry {
  logName: string
  resource: { type: 'cloud_run_job', labels: { job_name: string, location: string, project_id: string } }
  labels: Record<string, string>
  timestamp: string
  receiveTimestamp: string
  severity: string
  insertId: string
  jsonPayload?: Record<string, unknown>
  textPayload?: string
  trace?: string
  spanId?: string
}

/** Which task attempt printed a line. */
export interface LineSource {
  project: string
  region: string
  job: string
  execution: string
  taskIndex: number
  taskAttempt: number
}

export interface EntriesListRequest {
  projects: string[]
  filter: string
  descending: boolean
  pageSize: number
  pageToken?: string
}

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 1000

/** A `timestamp` field as Cloud Logging reads it: an RFC 3339 string or {seconds, nanos}. */
function timeOf (value: unknown): string | undefined {
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString()
  if (isRecord(value) && typeof value.seconds === 'number') {
    return new Date(value.seconds * 1000 + Math.floor((typeof value.nanos === 'number' ? value.nanos : 0) / 1e6)).toISOString()
  }
  return undefined
}

/**
 * Lifts the structured-logging special fields out of a JSON line, as Cloud Run's agent does:
 * `severity`, `time`/`timestamp`, `logging.googleapis.com/{labels,trace,spanId,insertId}`. `message` stays.
 */
function liftSpecialFields (payload: Record<string, unknown>, entry: LogEntry): void {
  const severity = typeof payload.severity === 'string' ? payload.severity.toUpperCase() : undefined
  if (severity !== undefined && severities.includes(severity)) {
    entry.severity = severity
    delete payload.severity
  }
  for (const field of ['time', 'timestamp']) {
    const time = timeOf(payload[field])
    if (time !== undefined) {
      entry.timestamp = time
      delete payload[field]
    }
  }
  const labels = payload['logging.googleapis.com/labels']
  if (isRecord(labels)) {
    for (const [key, value] of Object.entries(labels)) if (typeof value === 'string') entry.labels[key] = value
    delete payload['logging.googleapis.com/labels']
  }
  for (const field of ['trace', 'spanId', 'insertId'] as const) {
    const value = payload[`logging.googleapis.com/${field}`]
    if (typeof value === 'string') {
      entry[field] = value
      delete payload[`logging.googleapis.com/${field}`]
    }
  }
}

interface PageToken { offset: number, query: string }

/** The log entries the tasks printed, kept in memory, and Cloud Logging's entries:list over them. */
export class LogStore {
  readonly #entries: LogEntry[] = []
  #sequence = 0

  /** Stores one output line of a task; empty lines are dropped, as Cloud Run drops them. */
  add (source: LineSource, stream: OutputStream, line: string): LogEntry | undefined {
    if (line.trim() === '') return undefined
    const now = new Date().toISOString()
    const entry: LogEntry = {
      logName: `projects/${source.project}/logs/run.googleapis.com%2F${stream}`,
      resource: { type: 'cloud_run_job', labels: { job_name: source.job, location: source.region, project_id: source.project } },
      labels: {
        'run.googleapis.com/execution_name': source.execution,
        'run.googleapis.com/task_index': String(source.taskIndex),
        'run.googleapis.com/task_attempt': String(source.taskAttempt)
      },
      timestamp: now,
      receiveTimestamp: now,
      severity: stream === 'stderr' ? 'ERROR' : 'DEFAULT',
      insertId: `${Date.now().toString(36)}${(this.#sequence++).toString(36).padStart(8, '0')}`
    }
    let payload: unknown
    try {
      payload = line.trimStart().startsWith('{') ? JSON.parse(line) : undefined
    } catch {
      payload = undefined
    }
    if (isRecord(payload)) {
      liftSpecialFields(payload, entry)
      entry.jsonPayload = payload
    } else {
      entry.textPayload = line
    }
    this.#entries.push(entry)
    return entry
  }

  all (): LogEntry[] {
    return [...this.#entries]
  }

  /** entries:list: the matching entries of the given projects, ordered and paged. */
  list (request: EntriesListRequest): { entries?: LogEntry[], nextPageToken?: string } {
    const comparisons = parseFilter(request.filter)
    const query = createHash('sha256').update(JSON.stringify([request.projects, request.filter, request.descending])).digest('base64url').slice(0, 16)
    const offset = request.pageToken === undefined ? 0 : this.#readPageToken(request.pageToken, query)
    const order = request.descending ? -1 : 1
    const matching = this.#entries
      .map((entry, index) => ({ entry, index }))
      .filter(({ entry }) => request.projects.includes(entry.resource.labels.project_id) && matchesAll(entry, comparisons))
      .sort((a, b) => order * (Date.parse(a.entry.timestamp) - Date.parse(b.entry.timestamp) || a.index - b.index))
      .map(({ entry }) => entry)
    const page = matching.slice(offset, offset + request.pageSize)
    const response: { entries?: LogEntry[], nextPageToken?: string } = {}
    if (page.length > 0) response.entries = page
    if (offset + request.pageSize < matching.length) {
      const token: PageToken = { offset: offset + request.pageSize, query }
      response.nextPageToken = Buffer.from(JSON.stringify(token)).toString('base64url')
    }
    return response
  }

  #readPageToken (pageToken: string, query: string): number {
    let token: unknown
    try {
      token = JSON.parse(Buffer.from(pageToken, 'base64url').toString())
    } catch {
      token = undefined
    }
    if (!isRecord(token) || typeof token.offset !== 'number' || token.query !== query) {
      throw invalidArgument('page_token: invalid, or it belongs to a different query (resource names, filter and order must not change between pages).')
    }
    return token.offset
  }
}

/** Reads an entries:list body; `projectOf` turns a project id or number into the id. */
export function parseEntriesListRequest (body: unknown, projectOf: (idOrNumber: string) => string): EntriesListRequest {
  const request = asRecord(body ?? {}, 'list_log_entries_request')
  rejectUnknownFields(request, ['resourceNames', 'projectIds', 'filter', 'orderBy', 'pageSize', 'pageToken'], '(root)')
  const names = request.resourceNames ?? (Array.isArray(request.projectIds) ? request.projectIds.map(id => `projects/${String(id)}`) : undefined)
  if (!Array.isArray(names) || names.length === 0) throw invalidArgument('resource_names: Required.')
  const projects = names.map(name => {
    const match = typeof name === 'string' ? /^projects\/([^/]+)$/.exec(name) : null
    if (!match) throw invalidArgument(`resource_names: ${JSON.stringify(name)} is not supported; the emulator keeps logs only under "projects/{project}".`)
    return projectOf(match[1] as string)
  })
  const orderBy = (optionalString(request.orderBy, 'order_by') ?? '').trim().replace(/\s+/g, ' ').toLowerCase()
  if (!['', 'timestamp asc', 'timestamp desc', 'timestamp'].includes(orderBy)) {
    throw invalidArgument(`order_by: ${JSON.stringify(request.orderBy)} is not supported; use "timestamp asc" or "timestamp desc".`)
  }
  const pageSize = optionalInteger(request.pageSize, 'page_size') ?? 0
  const parsed: EntriesListRequest = {
    projects,
    filter: optionalString(request.filter, 'filter') ?? '',
    descending: orderBy === 'timestamp desc',
    pageSize: pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE)
  }
  const pageToken = optionalString(request.pageToken, 'page_token')
  if (pageToken) parsed.pageToken = pageToken
  return parsed
}
