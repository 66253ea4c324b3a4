import type { JobEntry } from '../catalog.js'
import type { GoogleHttp } from '../google/http.js'
import type { RunLogEntry, RunLogPage } from '../schemas/logs.js'

export type { RunLogEntry, RunLogPage }

/** The fields of a Cloud Logging LogEntry that jobgate reads. */
interface LogEntry {
  insertId?: string
  timestamp?: string
  severity?: string
  labels?: Record<string, string>
  textPayload?: string
  jsonPayload?: Record<string, unknown>
}

export const MAX_LOG_PAGE_SIZE = 1000
const TASK_INDEX_LABEL = 'run.googleapis.com/task_index'
/** Logs can carry timestamps slightly before the execution's creation (clock skew, early startup). */
const LOOKBACK_MS = 60_000

/** Cloud Logging's quoting: backslashes and double quotes escaped inside "…". */
const quote = (value: string): string => `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`

/** `since` narrows a follower's re-read to what is new; it never reaches before the run's own window. */
export function runLogFilter (entry: JobEntry, execution: string, createTime: string | undefined, since?: string): string {
  const clauses = [
    'resource.type="cloud_run_job"',
    `resource.labels.job_name=${quote(entry.job)}`,
    `resource.labels.location=${quote(entry.region)}`,
    `labels."run.googleapis.com/execution_name"=${quote(execution)}`
  ]
  const created = createTime === undefined ? Number.NaN : Date.parse(createTime)
  // An explicit lower bound keeps Cloud Logging from scanning only its default last 24 hours, or everything.
  const runWindow = Number.isNaN(created) ? Date.now() - 30 * 86_400_000 : created - LOOKBACK_MS
  const asked = since === undefined ? Number.NaN : Date.parse(since)
  clauses.push(`timestamp>=${quote(new Date(Number.isNaN(asked) ? runWindow : Math.max(asked, runWindow)).toISOString())}`)
  return clauses.join(' AND ')
}

export function toRunLogEntry (entry: LogEntry): RunLogEntry {
  const { message, ...rest } = entry.jsonPayload ?? {}
  const out: RunLogEntry = {
    timestamp: entry.timestamp ?? '',
    severity: entry.severity ?? 'DEFAULT',
    message: typeof message === 'string' ? message : entry.textPayload ?? (message === undefined ? '' : JSON.stringify(message))
  }
  const taskIndex = Number(entry.labels?.[TASK_INDEX_LABEL])
  if (entry.labels?.[TASK_INDEX_LABEL] !== undefined && Number.isInteger(taskIndex)) out.taskIndex = taskIndex
  if (Object.keys(rest).length > 0) out.payload = rest
  if (entry.insertId !== undefined) out.insertId = entry.insertId
  return out
}

/** Reads a run's log entries with Cloud Logging's `entries:list`. */
export class CloudLoggingClient {
  readonly #http: GoogleHttp
  readonly #endpoint: string

  constructor (http: GoogleHttp, endpoint: string) {
    this.#http = http
    this.#endpoint = endpoint
  }

  async runEntries (
    entry: JobEntry,
    run: { name: string, createTime?: string },
    page: { pageSize: number, pageToken?: string, since?: string }
  ): Promise<RunLogPage> {
    const body = {
      resourceNames: [`projects/${entry.project}`],
      filter: runLogFilter(entry, run.name, run.createTime, page.since),
      orderBy: 'timestamp asc',
      pageSize: Math.min(page.pageSize, MAX_LOG_PAGE_SIZE),
      ...(page.pageToken !== undefined && { pageToken: page.pageToken })
    }
    const context = {
      service: 'Cloud Logging',
      operation: 'entries.list',
      permissionAdvice: `jobgate's service account cannot read logs in project "${entry.project}": grant it roles/logging.viewer.`,
      notFound: `no logs found for project "${entry.project}".`
    }
    // entries:list only reads, so a lost answer may be asked again.
    const result = await this.#http.call<{ entries?: LogEntry[], nextPageToken?: string }>({
      method: 'POST', url: `${this.#endpoint}/v2/entries:list`, body, retry: 'safe', context
    })
    const out: RunLogPage = { entries: (result.entries ?? []).map(toRunLogEntry) }
    if (result.nextPageToken !== undefined && result.nextPageToken !== '') out.nextPageToken = result.nextPageToken
    return out
  }
}
